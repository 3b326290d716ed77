/* Optimal neighbourhood size k* (ALGORITHMS.md 3.1): for j = 4, 5, ... < k compare the k = j-1
 * ball volume of point i with that of its j-th neighbour; stop at the first D > Dthr; k* = j - 1.
 * The neighbours' (j-1)-th distances live on other ranks: they are fetched in bulk (element
 * (g, j-1) of the distributed distance table), one exchange per window of columns per batch of
 * points, never one message per edge. Batches bound the memory to O(batch * k) per rank. */
#include "density/density_impl.h"
#include <math.h>

#define KSTAR_BATCH 16384 /* points per batch of bulk exchanges */

double pm_den_omega(double d)
{
  return exp(d / 2.0 * log(M_PI) - lgamma((d + 2.0) / 2.0));
}

PetscErrorCode pm_den_chi2_isf1(MPI_Comm comm, double alpha, double *dthr)
{
  double lo = 0.0, hi = 40.0, z;

  PetscFunctionBeginUser;
  PetscCheck(alpha > 1e-300 && alpha < 1.0, comm, PETSC_ERR_USER_INPUT, "-kstar_alpha %g must be in (1e-300, 1); the default is 1e-6", alpha);
  if (alpha == 1e-6) {
    *dthr = PM_KSTAR_DTHR_1E6;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* P(chi2_1 > x) = erfc(sqrt(x/2)): solve erfc(z) = alpha by bisection (monotone, robust), then
   * polish with Newton steps that must stay inside the bracket. */
  for (int it = 0; it < 2000 && hi - lo > 0.0; it++) {
    double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (erfc(mid) > alpha)
      lo = mid;
    else
      hi = mid;
  }
  z = 0.5 * (lo + hi);
  for (int it = 0; it < 3; it++) {
    double f = erfc(z) - alpha, fp = -2.0 / sqrt(M_PI) * exp(-z * z), zn;
    if (fp == 0.0) break;
    zn = z - f / fp;
    if (!(zn >= lo && zn <= hi)) break;
    z = zn;
  }
  *dthr = 2.0 * z * z;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Bulk fetch of single elements of the distributed distance table: element e = g*(k+1) + c lives
 * on the rank r with starts[r] <= e < starts[r+1]. Requests are bucketed by owner with a counting
 * pass (no sort, no per-element memcpy: pm_fetch_rows' sort + dedupe of 1-wide rows dominated the
 * k* time), one all-to-all of indices and one of values. Collective. */
static PetscErrorCode fetch_elements(MPI_Comm comm, const pm_gidx_t *starts, const double *local, pm_gidx_t nreq, const pm_gidx_t *want, pm_gidx_t *slot, double *out)
{
  int       rank, size, *scnt, *sdsp, *rcnt, *rdsp, *pos;
  pm_gidx_t nrecv = 0, *sidx, *ridx;
  double   *sval, *rval;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscCalloc5(size, &scnt, size + 1, &sdsp, size, &rcnt, size + 1, &rdsp, size, &pos));
  for (pm_gidx_t q = 0; q < nreq; q++) { /* owner by bisection over the P+1 starts */
    int lo = 0, hi = size - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) / 2;
      if (starts[mid] <= want[q])
        lo = mid;
      else
        hi = mid - 1;
    }
    slot[q] = lo;
    scnt[lo]++;
  }
  PetscCallMPI(MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, comm));
  for (int r = 0; r < size; r++) {
    sdsp[r + 1] = sdsp[r] + scnt[r];
    nrecv += rcnt[r];
    PetscCheck(nrecv <= INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "k*: exchange too large for one MPI message; use more ranks");
    rdsp[r + 1] = (int)nrecv;
    pos[r]      = sdsp[r];
  }
  PetscCall(PetscMalloc4(nreq + 1, &sidx, nrecv + 1, &ridx, nrecv + 1, &sval, nreq + 1, &rval));
  for (pm_gidx_t q = 0; q < nreq; q++) {
    int p   = pos[slot[q]]++;
    sidx[p] = want[q];
    slot[q] = p;
  }
  PetscCallMPI(MPI_Alltoallv(sidx, scnt, sdsp, MPI_INT64_T, ridx, rcnt, rdsp, MPI_INT64_T, comm));
  for (pm_gidx_t t = 0; t < nrecv; t++) {
    PM_ASSERT(ridx[t] >= starts[rank] && ridx[t] < starts[rank + 1]);
    sval[t] = local[ridx[t] - starts[rank]];
  }
  PetscCallMPI(MPI_Alltoallv(sval, rcnt, rdsp, MPI_DOUBLE, rval, scnt, sdsp, MPI_DOUBLE, comm));
  for (pm_gidx_t q = 0; q < nreq; q++) out[q] = rval[slot[q]];
  PetscCall(PetscFree4(sidx, ridx, sval, rval));
  PetscCall(PetscFree5(scnt, sdsp, rcnt, rdsp, pos));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Continue the test loop of one point over j in [lo, hi); nb[j - lo] = r_{j-1} of its j-th
 * neighbour. Returns k* = j - 1 at the first rejection, or 0 if none in the window. */
static int64_t kstar_window(const double *dist, const double *nb, int lo, int hi, double d, double omega, double dthr)
{
  for (int j = lo; j < hi; j++) {
    int    ks = j - 1;
    double vi = omega * pow(dist[ks], d), vj = omega * pow(nb[j - lo], d);
    double D = -2.0 * ks * (log(vi) + log(vj) - 2.0 * log(vi + vj) + log(4.0));
    if (D > dthr) return j - 1;
  }
  return 0;
}

/* One batch of local points [i0, i1). The test columns are fetched in windows of doubling width
 * ([4,12), [12,28), [28,60), ...): points that stopped early request nothing more, so the data moved
 * is about twice what the tests read. The window schedule is the same on every rank (collective). */
static PetscErrorCode kstar_batch(const pm_graph_t *g, const pm_gidx_t *starts, pm_gidx_t i0, pm_gidx_t i1, double d, double omega, double dthr, pm_gidx_t *active, pm_gidx_t *want, pm_gidx_t *slot, double *nbd, int64_t *kstar)
{
  int       maxk = g->k, ncol = g->ncol;
  pm_gidx_t na = 0;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = i0; i < i1; i++) active[na++] = i;
  for (int lo = 4, w = 8; lo < maxk; lo += w, w *= 2) {
    int       hi = lo + w < maxk ? lo + w : maxk;
    pm_gidx_t nr = 0, keep = 0;
    for (pm_gidx_t a = 0; a < na; a++)
      for (int j = lo; j < hi; j++) want[nr++] = g->ind[active[a] * ncol + j] * ncol + (j - 1);
    PetscCall(fetch_elements(g->comm, starts, g->dist, nr, want, slot, nbd));
    for (pm_gidx_t a = 0; a < na; a++) {
      pm_gidx_t i  = active[a];
      int64_t   ks = kstar_window(g->dist + i * ncol, nbd + a * (hi - lo), lo, hi, d, omega, dthr);
      if (ks)
        kstar[i] = ks;
      else
        active[keep++] = i;
    }
    na = keep;
  }
  for (pm_gidx_t a = 0; a < na; a++) kstar[active[a]] = maxk - 1; /* never rejected: the cap */
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_den_kstar(const pm_graph_t *g, double d, double dthr, int64_t *kstar, pm_gidx_t *ncapped)
{
  int            size, maxk = g->k, ncol = g->ncol, w = maxk > 4 ? maxk - 4 : 0;
  pm_gidx_t     *starts, nbatch, nb_loc, capped       = 0, *want, *slot, *active;
  double        *nbd, omega = pm_den_omega(d);
  pm_progress_t *prog;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(g->comm, &size));
  PetscCall(pm_layout_starts(g->comm, g->n_local, &starts));
  for (int r = 0; r <= size; r++) starts[r] *= ncol; /* element table: global element g*ncol + c */
  nb_loc = (g->n_local + KSTAR_BATCH - 1) / KSTAR_BATCH;
  PetscCallMPI(MPI_Allreduce(&nb_loc, &nbatch, 1, MPI_INT64_T, MPI_MAX, g->comm));
  PetscCall(PetscMalloc4((size_t)KSTAR_BATCH * w + 1, &want, (size_t)KSTAR_BATCH * w + 1, &slot, (size_t)KSTAR_BATCH * w + 1, &nbd, KSTAR_BATCH, &active));
  PetscCall(pm_progress_create(g->comm, "density k*", nbatch, &prog));
  for (pm_gidx_t b = 0; b < nbatch; b++) {
    pm_gidx_t i0 = b * KSTAR_BATCH, i1 = i0 + KSTAR_BATCH;
    if (i0 > g->n_local) i0 = g->n_local;
    if (i1 > g->n_local) i1 = g->n_local;
    PetscCall(kstar_batch(g, starts, i0, i1, d, omega, dthr, active, want, slot, nbd, kstar));
    PetscCall(pm_progress_step(prog, b + 1));
  }
  PetscCall(pm_progress_destroy(&prog));
  for (pm_gidx_t i = 0; i < g->n_local; i++)
    if (kstar[i] == maxk - 1) capped++;
  PetscCallMPI(MPI_Allreduce(&capped, ncapped, 1, MPI_INT64_T, MPI_SUM, g->comm));
  PetscCall(PetscFree4(want, slot, nbd, active));
  PetscCall(PetscFree(starts));
  PetscFunctionReturn(PETSC_SUCCESS);
}
