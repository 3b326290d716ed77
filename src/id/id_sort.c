/* Distributed sort of doubles (sample sort) and exact order statistics / numpy percentiles from the
 * sorted slices. No rank ever holds all N values (except for the P * samples splitters). */
#include "id/id_impl.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define SAMPLES_PER_RANK 64

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* first index in v[0..n) with v[idx] > key */
static pm_gidx_t upper_bound(const double *v, pm_gidx_t n, double key)
{
  pm_gidx_t lo = 0, hi = n;
  while (lo < hi) {
    pm_gidx_t mid = lo + (hi - lo) / 2;
    if (v[mid] <= key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static PetscErrorCode choose_splitters(MPI_Comm comm, const double *loc, pm_gidx_t n, int size, double *split)
{
  double *mine, *all;
  int    *cnt, *dsp, nmine = 0, ntot = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(SAMPLES_PER_RANK, &mine));
  for (int s = 0; s < SAMPLES_PER_RANK && n > 0; s++) mine[nmine++] = loc[(pm_gidx_t)(((double)s + 0.5) / SAMPLES_PER_RANK * (double)n)];
  PetscCall(PetscMalloc2(size, &cnt, size + 1, &dsp));
  PetscCallMPI(MPI_Allgather(&nmine, 1, MPI_INT, cnt, 1, MPI_INT, comm));
  dsp[0] = 0;
  for (int r = 0; r < size; r++) dsp[r + 1] = dsp[r] + cnt[r];
  ntot = dsp[size];
  PetscCall(PetscMalloc1(ntot + 1, &all));
  PetscCallMPI(MPI_Allgatherv(mine, nmine, MPI_DOUBLE, all, cnt, dsp, MPI_DOUBLE, comm));
  qsort(all, (size_t)ntot, sizeof *all, cmp_double);
  for (int r = 0; r < size - 1; r++) split[r] = ntot ? all[(size_t)ntot * (r + 1) / size] : 0.0;
  PetscCall(PetscFree(all));
  PetscCall(PetscFree2(cnt, dsp));
  PetscCall(PetscFree(mine));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_sort(MPI_Comm comm, pm_gidx_t n, const double *v, double **sorted, pm_gidx_t *n_sorted, pm_gidx_t *offset)
{
  int       size, *scnt, *sdsp, *rcnt, *rdsp;
  double   *loc, *split, *out;
  pm_gidx_t nrecv = 0, off = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc1(n + 1, &loc));
  if (n) memcpy(loc, v, (size_t)n * sizeof *loc);
  qsort(loc, (size_t)n, sizeof *loc, cmp_double);
  PetscCall(PetscMalloc1(size, &split));
  PetscCall(choose_splitters(comm, loc, n, size, split));
  PetscCall(PetscCalloc4(size, &scnt, size + 1, &sdsp, size, &rcnt, size + 1, &rdsp));
  /* equal values never straddle a splitter: everything <= split[r] and > split[r-1] goes to r */
  {
    pm_gidx_t beg = 0;
    for (int r = 0; r < size; r++) {
      pm_gidx_t end = r < size - 1 ? upper_bound(loc, n, split[r]) : n;
      if (end < beg) end = beg;
      PetscCheck(end - beg <= INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "id: sort message too large; use more ranks");
      scnt[r] = (int)(end - beg);
      beg     = end;
    }
  }
  PetscCallMPI(MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, comm));
  for (int r = 0; r < size; r++) {
    sdsp[r + 1] = sdsp[r] + scnt[r];
    nrecv += rcnt[r];
    PetscCheck(nrecv <= INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "id: sort message too large; use more ranks");
    rdsp[r + 1] = (int)nrecv;
  }
  PetscCall(PetscMalloc1(nrecv + 1, &out));
  PetscCallMPI(MPI_Alltoallv(loc, scnt, sdsp, MPI_DOUBLE, out, rcnt, rdsp, MPI_DOUBLE, comm));
  qsort(out, (size_t)nrecv, sizeof *out, cmp_double);
  PetscCallMPI(MPI_Exscan(&nrecv, &off, 1, MPI_INT64_T, MPI_SUM, comm));
  {
    int rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0) off = 0; /* MPI_Exscan leaves rank 0's result undefined */
  }
  *sorted   = out;
  *n_sorted = nrecv;
  *offset   = off;
  PetscCall(PetscFree4(scnt, sdsp, rcnt, rdsp));
  PetscCall(PetscFree(split));
  PetscCall(PetscFree(loc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_sorted_values(MPI_Comm comm, const double *sorted, pm_gidx_t n_sorted, pm_gidx_t offset, int m, const pm_gidx_t *pos, double *val)
{
  double *mine;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(m, &mine));
  for (int j = 0; j < m; j++) {
    pm_gidx_t l = pos[j] - offset;
    mine[j]     = (l >= 0 && l < n_sorted) ? sorted[l] : -INFINITY; /* exactly one rank holds it */
  }
  PetscCallMPI(MPI_Allreduce(mine, val, m, MPI_DOUBLE, MPI_MAX, comm));
  PetscCall(PetscFree(mine));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* numpy's default ("linear") percentile: virtual index (n-1) q, linear interpolation written as
 * numpy writes it (a + (b-a) t, or b - (b-a)(1-t) when t >= 0.5), so the bits agree. */
PetscErrorCode pm_id_percentile(MPI_Comm comm, const double *sorted, pm_gidx_t n_sorted, pm_gidx_t offset, pm_gidx_t n_total, double q, double *val)
{
  double    vi = (double)(n_total - 1) * (q / 100.0), t, ab[2];
  pm_gidx_t pos[2];

  PetscFunctionBeginUser;
  PetscCheck(n_total > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "id: percentile of an empty set");
  if (vi >= (double)(n_total - 1)) {
    pos[0] = pos[1] = n_total - 1;
    t               = 0.0;
  } else {
    pos[0] = (pm_gidx_t)floor(vi);
    if (pos[0] < 0) pos[0] = 0;
    pos[1] = pos[0] + 1;
    t      = vi - (double)pos[0];
  }
  PetscCall(pm_id_sorted_values(comm, sorted, n_sorted, offset, 2, pos, ab));
  {
    double diff = ab[1] - ab[0];
    *val        = t >= 0.5 ? ab[1] - diff * (1.0 - t) : ab[0] + diff * t;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
