/* Reproducible sums: every value is split exactly into 32-bit limbs of a fixed-point number anchored
 * at the global maximum exponent; limbs are summed as integers (associative), so the result is the
 * same bits for any number of ranks and any order of the values. */
#include <phasemap/core.h>
#include <math.h>
#include <limits.h>

#define NLIMB      40 /* 1280 bits below the largest exponent: covers the double range in practice */
#define LIMB_BITS  32
#define RENORM_GAP (1 << 28)

static void renormalise(int64_t *limb)
{
  for (int l = NLIMB - 1; l > 0; l--) {
    int64_t c = limb[l] >> LIMB_BITS; /* arithmetic shift = floor division */
    limb[l] -= c * ((int64_t)1 << LIMB_BITS);
    limb[l - 1] += c;
  }
}

static void accumulate(int64_t *limb, int emax, double x)
{
  int    e, l;
  double y;

  if (x == 0.0) return;
  (void)frexp(x, &e);
  l = (emax - e) / LIMB_BITS; /* first limb that can hold the leading bits of x */
  if (l >= NLIMB) return;     /* below 2^-1280 of the maximum: negligible */
  y = ldexp(x, -emax + LIMB_BITS * l);
  for (; l < NLIMB && y != 0.0; l++) {
    double t;
    y = ldexp(y, LIMB_BITS);
    t = trunc(y);
    limb[l] += (int64_t)t;
    y -= t;
  }
}

PetscErrorCode pm_sum_repro(MPI_Comm comm, pm_gidx_t n, int m, const double *values, double *result)
{
  int     *emax, *gemax, *bad;
  int64_t *limb, *glimb;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(m, &emax, m, &gemax, m, &bad));
  PetscCall(PetscCalloc2((size_t)m * NLIMB, &limb, (size_t)m * NLIMB, &glimb));
  for (int j = 0; j < m; j++) {
    emax[j] = INT_MIN + 1;
    bad[j]  = 0;
    for (pm_gidx_t i = 0; i < n; i++) {
      double x = values[(size_t)j * n + i];
      int    e;
      if (!isfinite(x)) {
        bad[j] = 1;
        continue;
      }
      if (x == 0.0) continue;
      (void)frexp(x, &e);
      if (e > emax[j]) emax[j] = e;
    }
    if (bad[j]) emax[j] = INT_MAX; /* marks the sum as NaN */
  }
  PetscCallMPI(MPI_Allreduce(emax, gemax, m, MPI_INT, MPI_MAX, comm));
  for (int j = 0; j < m; j++) {
    int64_t *L = limb + (size_t)j * NLIMB;
    if (gemax[j] == INT_MAX || gemax[j] == INT_MIN + 1) continue;
    gemax[j] += 1; /* leave one bit of headroom for the sign/carry of the top limb */
    for (pm_gidx_t i = 0; i < n; i++) {
      accumulate(L, gemax[j], values[(size_t)j * n + i]);
      if ((i + 1) % RENORM_GAP == 0) renormalise(L);
    }
    renormalise(L);
  }
  PetscCallMPI(MPI_Allreduce(limb, glimb, m * NLIMB, MPI_INT64_T, MPI_SUM, comm));
  for (int j = 0; j < m; j++) {
    int64_t *L = glimb + (size_t)j * NLIMB;
    double   s = 0.0;
    if (gemax[j] == INT_MAX) {
      result[j] = NAN;
      continue;
    }
    if (gemax[j] == INT_MIN + 1) {
      result[j] = 0.0;
      continue;
    }
    renormalise(L);
    for (int l = NLIMB - 1; l >= 0; l--) s += ldexp((double)L[l], gemax[j] - LIMB_BITS * (l + 1));
    result[j] = s;
  }
  PetscCall(PetscFree3(emax, gemax, bad));
  PetscCall(PetscFree2(limb, glimb));
  PetscFunctionReturn(PETSC_SUCCESS);
}
