/* Behler-Parrinello atom-centred symmetry functions, species resolved:
 *   G2_i(s; eta, rs)            = sum_{j: species s} exp(-eta (r_ij - rs)^2) fc(r_ij)
 *   G4_i(a,b; eta, zeta, lambda) = 2^(1-zeta) sum_{j<k: species {a,b}} (1 + lambda cos theta_ijk)^zeta
 *                                  exp(-eta (r_ij^2 + r_ik^2 + r_jk^2)) fc(r_ij) fc(r_ik) fc(r_jk)
 * with fc(r) = (cos(pi r / rc) + 1) / 2 for r < rc, else 0. Each unordered neighbour pair once. */
#include "descriptors/desc_impl.h"
#include <math.h>
#include <string.h>

#define PM_SF_MAXPAR 32

struct pm_sf {
  MPI_Comm comm; /* borrowed */
  double   rc;
  int      neta, nrs, nzeta, nlambda;
  double   eta[PM_SF_MAXPAR], rs[PM_SF_MAXPAR], zeta[PM_SF_MAXPAR], lambda[PM_SF_MAXPAR];
};

PetscErrorCode pm_sf_create(MPI_Comm comm, pm_sf_t **sf)
{
  pm_sf_t     *F;
  const double eta[] = {0.003, 0.03, 0.1, 0.3}, zeta[] = {1.0, 2.0, 4.0}, lambda[] = {-1.0, 1.0};

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&F));
  F->comm    = comm;
  F->rc      = 6.0;
  F->neta    = 4;
  F->nrs     = 1;
  F->nzeta   = 3;
  F->nlambda = 2;
  memcpy(F->eta, eta, sizeof eta);
  F->rs[0] = 0.0;
  memcpy(F->zeta, zeta, sizeof zeta);
  memcpy(F->lambda, lambda, sizeof lambda);
  *sf = F;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Copy a list read by PetscOptionsRealArray (m values, set) into v/n. */
static PetscErrorCode take_list(pm_sf_t *F, const char *opt, PetscBool set, PetscInt m, const PetscReal *tmp, double *v, int *n)
{
  PetscFunctionBeginUser;
  if (set) {
    PetscCheck(m > 0, F->comm, PETSC_ERR_USER_INPUT, "%s: give at least one value (comma list)", opt);
    for (int k = 0; k < m; k++) v[k] = tmp[k];
    *n = (int)m;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_sf_set_from_options(pm_sf_t *F)
{
  PetscFunctionBeginUser;
  PetscOptionsBegin(F->comm, NULL, "Behler-Parrinello symmetry functions (descriptor block sf)", NULL);
  PetscCall(PetscOptionsReal("-sf_cutoff", "cutoff radius of fc", "", F->rc, &F->rc, NULL));
  {
    const char *opt[4]  = {"-sf_eta", "-sf_rs", "-sf_zeta", "-sf_lambda"};
    const char *help[4] = {"Gaussian widths eta (1/length^2) of G2 and G4", "G2 shifts rs (length)", "G4 angular exponents zeta", "G4 lambda values (+1 or -1)"};
    double     *v[4]    = {F->eta, F->rs, F->zeta, F->lambda};
    int        *n[4]    = {&F->neta, &F->nrs, &F->nzeta, &F->nlambda};
    for (int o = 0; o < 4; o++) {
      PetscReal tmp[PM_SF_MAXPAR];
      PetscInt  m = PM_SF_MAXPAR;
      PetscBool set;
      for (int k = 0; k < *n[o]; k++) tmp[k] = v[o][k];
      PetscCall(PetscOptionsRealArray(opt[o], help[o], "", tmp, &m, &set));
      PetscCall(take_list(F, opt[o], set, m, tmp, v[o], n[o]));
    }
  }
  PetscOptionsEnd();
  PetscCheck(F->rc > 0.0, F->comm, PETSC_ERR_USER_INPUT, "-sf_cutoff %g must be positive", F->rc);
  for (int k = 0; k < F->neta; k++) PetscCheck(F->eta[k] >= 0.0, F->comm, PETSC_ERR_USER_INPUT, "-sf_eta: %g is negative; widths must be >= 0", F->eta[k]);
  for (int k = 0; k < F->nzeta; k++) PetscCheck(F->zeta[k] >= 1.0, F->comm, PETSC_ERR_USER_INPUT, "-sf_zeta: %g must be >= 1", F->zeta[k]);
  for (int k = 0; k < F->nlambda; k++) PetscCheck(F->lambda[k] == 1.0 || F->lambda[k] == -1.0, F->comm, PETSC_ERR_USER_INPUT, "-sf_lambda: %g must be 1 or -1", F->lambda[k]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_sf_get_dim(const pm_sf_t *F, int nspecies, int *dim)
{
  PetscFunctionBeginUser;
  *dim = nspecies * F->neta * F->nrs + nspecies * (nspecies + 1) / 2 * F->neta * F->nzeta * F->nlambda;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_sf_get_cutoff(const pm_sf_t *F, double *rc)
{
  PetscFunctionBeginUser;
  *rc = F->rc;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_sf_feature_names(const pm_sf_t *F, int ns, const char *const *sp, char ***names)
{
  int  dim, k = 0;
  char buf[256];

  PetscFunctionBeginUser;
  PetscCall(pm_sf_get_dim(F, ns, &dim));
  PetscCall(PetscMalloc1(dim, names));
  for (int s = 0; s < ns; s++)
    for (int e = 0; e < F->neta; e++)
      for (int r = 0; r < F->nrs; r++) {
        PetscCall(PetscSNPrintf(buf, sizeof buf, "G2_%s_eta%g_rs%g", sp[s], F->eta[e], F->rs[r]));
        PetscCall(PetscStrallocpy(buf, &(*names)[k++]));
      }
  for (int a = 0; a < ns; a++)
    for (int b = a; b < ns; b++)
      for (int e = 0; e < F->neta; e++)
        for (int z = 0; z < F->nzeta; z++)
          for (int l = 0; l < F->nlambda; l++) {
            PetscCall(PetscSNPrintf(buf, sizeof buf, "G4_%s-%s_eta%g_zeta%g_lambda%g", sp[a], sp[b], F->eta[e], F->zeta[z], F->lambda[l]));
            PetscCall(PetscStrallocpy(buf, &(*names)[k++]));
          }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static inline double fcut(double r, double rc)
{
  return r < rc ? 0.5 * (cos(M_PI * r / rc) + 1.0) : 0.0;
}

/* b^z for b >= 0 (0 for b <= 0): repeated squaring for integer z, else pow. */
static inline double power(double b, double z)
{
  double r = 1.0;
  int    n = (int)z;
  if (b <= 0.0) return 0.0;
  if ((double)n != z || n > 64) return pow(b, z);
  while (n) {
    if (n & 1) r *= b;
    b *= b;
    n >>= 1;
  }
  return r;
}

/* Index of the unordered species pair {a, b} among a <= b pairs. */
static inline int pair_index(int a, int b, int ns)
{
  if (a > b) {
    int t = a;
    a     = b;
    b     = t;
  }
  return a * ns - a * (a - 1) / 2 + (b - a);
}

PetscErrorCode pm_sf_compute(const pm_sf_t *F, const pm_nlist_t *nl, double *out, int ldo, int col0)
{
  int    ns = nl->nspecies, n2 = ns * F->neta * F->nrs, dim, per_pair = F->neta * F->nzeta * F->nlambda;
  double rc = F->rc, pref[PM_SF_MAXPAR], ang[PM_SF_MAXPAR * PM_SF_MAXPAR];

  PetscFunctionBeginUser;
  PetscCall(pm_sf_get_dim(F, ns, &dim));
  for (int z = 0; z < F->nzeta; z++) pref[z] = pow(2.0, 1.0 - F->zeta[z]);
  for (int64_t i = 0; i < nl->n; i++) {
    double *o = out + (size_t)i * ldo + col0, *g4 = o + n2;
    int64_t e0 = nl->off[i], e1 = e0;
    memset(o, 0, sizeof(double) * dim);
    while (e1 < nl->off[i + 1] && nl->d[4 * e1 + 3] < rc) e1++; /* sorted by r */
    for (int64_t e = e0; e < e1; e++) {
      double r = nl->d[4 * e + 3], fc = fcut(r, rc);
      int    s = nl->species[nl->j[e]];
      for (int a = 0; a < F->neta; a++)
        for (int b = 0; b < F->nrs; b++) o[(s * F->neta + a) * F->nrs + b] += exp(-F->eta[a] * (r - F->rs[b]) * (r - F->rs[b])) * fc;
    }
    for (int64_t e = e0; e < e1; e++) {
      const double *dj = nl->d + 4 * e;
      double        fj = fcut(dj[3], rc);
      int           sj = nl->species[nl->j[e]];
      for (int64_t f = e + 1; f < e1; f++) {
        const double *dk     = nl->d + 4 * f;
        double        djk[3] = {dk[0] - dj[0], dk[1] - dj[1], dk[2] - dj[2]};
        double        rjk2 = djk[0] * djk[0] + djk[1] * djk[1] + djk[2] * djk[2], rjk = sqrt(rjk2), fall, cosv, r2sum;
        double       *gp;
        if (!(rjk < rc)) continue;
        fall  = fj * fcut(dk[3], rc) * fcut(rjk, rc);
        cosv  = (dj[0] * dk[0] + dj[1] * dk[1] + dj[2] * dk[2]) / (dj[3] * dk[3]);
        r2sum = dj[3] * dj[3] + dk[3] * dk[3] + rjk2;
        gp    = g4 + (size_t)pair_index(sj, nl->species[nl->j[f]], ns) * per_pair;
        for (int z = 0; z < F->nzeta; z++)
          for (int l = 0; l < F->nlambda; l++) ang[z * F->nlambda + l] = pref[z] * power(1.0 + F->lambda[l] * cosv, F->zeta[z]);
        for (int a = 0; a < F->neta; a++) {
          double rad = exp(-F->eta[a] * r2sum) * fall;
          for (int k = 0; k < F->nzeta * F->nlambda; k++) gp[a * F->nzeta * F->nlambda + k] += ang[k] * rad;
        }
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_sf_destroy(pm_sf_t **sf)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(*sf));
  PetscFunctionReturn(PETSC_SUCCESS);
}
