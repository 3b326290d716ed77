/* Distributed sort of m independent groups of doubles (sample sort; the groups share every
 * collective), exact order statistics and numpy percentiles from the sorted slices. No rank ever
 * holds all N values of a group (only P * 64 samples per group). */
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

/* P-1 splitters per group from regular samples of the locally sorted groups (one allgather). */
static PetscErrorCode choose_splitters(MPI_Comm comm, int m, const double *loc, pm_gidx_t n, int size, double *split)
{
  double *mine, *all, *gs;
  int    *cnt, *dsp, nmine = 0, ns = n > 0 ? SAMPLES_PER_RANK : 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)m * SAMPLES_PER_RANK + 1, &mine));
  for (int g = 0; g < m; g++)
    for (int s = 0; s < ns; s++) mine[nmine++] = loc[(size_t)g * n + (pm_gidx_t)(((double)s + 0.5) / SAMPLES_PER_RANK * (double)n)];
  PetscCall(PetscMalloc2(size, &cnt, size + 1, &dsp));
  PetscCallMPI(MPI_Allgather(&nmine, 1, MPI_INT, cnt, 1, MPI_INT, comm));
  dsp[0] = 0;
  for (int r = 0; r < size; r++) dsp[r + 1] = dsp[r] + cnt[r];
  PetscCall(PetscMalloc1(dsp[size] + 1, &all));
  PetscCallMPI(MPI_Allgatherv(mine, nmine, MPI_DOUBLE, all, cnt, dsp, MPI_DOUBLE, comm));
  PetscCall(PetscMalloc1(dsp[size] + 1, &gs));
  for (int g = 0; g < m; g++) {
    int ng = 0; /* this group's samples from every rank */
    for (int r = 0; r < size; r++) {
      int per = cnt[r] / m; /* every group of a rank has the same number of samples */
      for (int s = 0; s < per; s++) gs[ng++] = all[dsp[r] + g * per + s];
    }
    qsort(gs, (size_t)ng, sizeof *gs, cmp_double);
    for (int r = 0; r < size - 1; r++) split[(size_t)g * size + r] = ng ? gs[(size_t)ng * (r + 1) / size] : 0.0;
  }
  PetscCall(PetscFree(gs));
  PetscCall(PetscFree(all));
  PetscCall(PetscFree2(cnt, dsp));
  PetscCall(PetscFree(mine));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode to_int(pm_gidx_t v, int *out)
{
  PetscFunctionBeginUser;
  PetscCheck(v <= INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "id: sort message too large for MPI; use more ranks");
  *out = (int)v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Counts of the values of each local group destined to each rank: gsc[r * m + g]. */
static PetscErrorCode partition(int m, const double *loc, pm_gidx_t n, int size, const double *split, int *gsc)
{
  PetscFunctionBeginUser;
  for (int g = 0; g < m; g++) {
    pm_gidx_t beg = 0;
    for (int r = 0; r < size; r++) {
      pm_gidx_t end = r < size - 1 ? upper_bound(loc + (size_t)g * n, n, split[(size_t)g * size + r]) : n;
      if (end < beg) end = beg; /* equal values never straddle two ranks */
      PetscCall(to_int(end - beg, &gsc[(size_t)r * m + g]));
      beg = end;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_sort(MPI_Comm comm, int m, pm_gidx_t n, const double *v, double **sorted, pm_gidx_t *cnt, pm_gidx_t *off)
{
  int     size, rank, *scnt, *sdsp, *rcnt, *rdsp, *gsc, *grc;
  double *loc, *split, *sbuf, *rbuf, *out;
  size_t  p = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscMalloc1((size_t)m * n + 1, &loc));
  if (n) memcpy(loc, v, (size_t)m * n * sizeof *loc);
  for (int g = 0; g < m; g++) qsort(loc + (size_t)g * n, (size_t)n, sizeof *loc, cmp_double);
  PetscCall(PetscMalloc1((size_t)m * size, &split));
  PetscCall(choose_splitters(comm, m, loc, n, size, split));
  PetscCall(PetscCalloc4(size, &scnt, size + 1, &sdsp, size, &rcnt, size + 1, &rdsp));
  PetscCall(PetscCalloc2((size_t)m * size, &gsc, (size_t)m * size, &grc));
  PetscCall(partition(m, loc, n, size, split, gsc));
  PetscCallMPI(MPI_Alltoall(gsc, m, MPI_INT, grc, m, MPI_INT, comm));
  for (int r = 0; r < size; r++) {
    pm_gidx_t s = 0, t = 0;
    for (int g = 0; g < m; g++) {
      s += gsc[(size_t)r * m + g];
      t += grc[(size_t)r * m + g];
    }
    PetscCall(to_int(s, &scnt[r]));
    PetscCall(to_int(t, &rcnt[r]));
    PetscCall(to_int((pm_gidx_t)sdsp[r] + s, &sdsp[r + 1]));
    PetscCall(to_int((pm_gidx_t)rdsp[r] + t, &rdsp[r + 1]));
  }
  /* send order: destination rank, then group (each group's local values are sorted) */
  PetscCall(PetscMalloc2((size_t)m * n + 1, &sbuf, (size_t)rdsp[size] + 1, &rbuf));
  PetscCall(PetscMalloc1((size_t)rdsp[size] + 1, &out)); /* returned to the caller */
  for (int g = 0; g < m; g++) cnt[g] = 0;                /* reused as the read position in each local group */
  for (int r = 0; r < size; r++)
    for (int g = 0; g < m; g++) {
      int c = gsc[(size_t)r * m + g];
      memcpy(sbuf + p, loc + (size_t)g * n + cnt[g], (size_t)c * sizeof *sbuf);
      cnt[g] += c;
      p += (size_t)c;
    }
  PetscCallMPI(MPI_Alltoallv(sbuf, scnt, sdsp, MPI_DOUBLE, rbuf, rcnt, rdsp, MPI_DOUBLE, comm));
  for (int g = 0; g < m; g++) cnt[g] = 0; /* values of group g received by this rank */
  for (int r = 0; r < size; r++)
    for (int g = 0; g < m; g++) cnt[g] += grc[(size_t)r * m + g];
  /* regroup what arrived (source rank, then group) into group slices, and sort each slice */
  {
    size_t *gpos, q = 0;
    PetscCall(PetscMalloc1(m + 1, &gpos));
    gpos[0] = 0;
    for (int g = 0; g < m; g++) gpos[g + 1] = gpos[g] + (size_t)cnt[g];
    for (int r = 0; r < size; r++)
      for (int g = 0; g < m; g++) {
        int c = grc[(size_t)r * m + g];
        memcpy(out + gpos[g], rbuf + q, (size_t)c * sizeof *out);
        gpos[g] += (size_t)c;
        q += (size_t)c;
      }
    for (int g = 0; g < m; g++) qsort(out + gpos[g] - (size_t)cnt[g], (size_t)cnt[g], sizeof *out, cmp_double);
    PetscCall(PetscFree(gpos));
  }
  PetscCallMPI(MPI_Exscan(cnt, off, m, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0)
    for (int g = 0; g < m; g++) off[g] = 0; /* MPI_Exscan leaves rank 0's result undefined */
  *sorted = out;
  PetscCall(PetscFree2(sbuf, rbuf));
  PetscCall(PetscFree2(gsc, grc));
  PetscCall(PetscFree4(scnt, sdsp, rcnt, rdsp));
  PetscCall(PetscFree(split));
  PetscCall(PetscFree(loc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_sorted_values(MPI_Comm comm, int m, const double *sorted, const pm_gidx_t *cnt, const pm_gidx_t *off, int nq, const int *group, const pm_gidx_t *pos, double *val)
{
  double *mine;
  size_t *start;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(nq + 1, &mine, m + 1, &start));
  start[0] = 0;
  for (int g = 0; g < m; g++) start[g + 1] = start[g] + (size_t)cnt[g];
  for (int j = 0; j < nq; j++) {
    int       g = group[j];
    pm_gidx_t l = pos[j] - off[g];
    mine[j]     = (l >= 0 && l < cnt[g]) ? sorted[start[g] + l] : -INFINITY; /* one rank holds it */
  }
  PetscCallMPI(MPI_Allreduce(mine, val, nq, MPI_DOUBLE, MPI_MAX, comm));
  PetscCall(PetscFree2(mine, start));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* numpy's default ("linear") percentile: virtual index (n-1) q, linear interpolation written as
 * numpy writes it (a + (b-a) t, or b - (b-a)(1-t) when t >= 0.5), so the bits agree. Every group
 * holds n_total values; out[g * nq + j] = percentile q[j] of group g. One allreduce. */
PetscErrorCode pm_id_percentiles(MPI_Comm comm, int m, const double *sorted, const pm_gidx_t *cnt, const pm_gidx_t *off, pm_gidx_t n_total, int nq, const double *q, double *out)
{
  int       *grp;
  pm_gidx_t *pos;
  double    *t, *ab;

  PetscFunctionBeginUser;
  PetscCheck(n_total > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "id: percentile of an empty set");
  PetscCall(PetscMalloc4(2 * m * nq, &grp, 2 * m * nq, &pos, nq, &t, 2 * m * nq, &ab));
  for (int j = 0; j < nq; j++) {
    double    vi = (double)(n_total - 1) * (q[j] / 100.0);
    pm_gidx_t lo, hi;
    if (vi >= (double)(n_total - 1))
      lo = hi = n_total - 1, t[j] = 0.0;
    else {
      lo   = vi > 0 ? (pm_gidx_t)floor(vi) : 0;
      hi   = lo + 1;
      t[j] = vi - (double)lo;
    }
    for (int g = 0; g < m; g++) {
      grp[2 * (g * nq + j)] = grp[2 * (g * nq + j) + 1] = g;
      pos[2 * (g * nq + j)]                             = lo;
      pos[2 * (g * nq + j) + 1]                         = hi;
    }
  }
  PetscCall(pm_id_sorted_values(comm, m, sorted, cnt, off, 2 * m * nq, grp, pos, ab));
  for (int g = 0; g < m; g++)
    for (int j = 0; j < nq; j++) {
      double a = ab[2 * (g * nq + j)], b = ab[2 * (g * nq + j) + 1], diff = b - a;
      out[g * nq + j] = t[j] >= 0.5 ? b - diff * (1.0 - t[j]) : a + diff * t[j];
    }
  PetscCall(PetscFree4(grp, pos, t, ab));
  PetscFunctionReturn(PETSC_SUCCESS);
}
