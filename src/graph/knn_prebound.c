/* Provisional bounds for brute force. A row's bound starts at +inf and falls only as neighbours
 * are found: it admits every point of the first tiles, and in all about k (1 + ln(N / k))
 * candidates per row pass the filter and are measured exactly. Here each row's bound starts instead
 * at an estimate of its k-th neighbour distance that is too large with near certainty: the j-th
 * smallest distance to a global sample of m rows, with j well above the number of sample rows
 * expected inside the k-th neighbour (lambda = k m / N). Then about k (1 + ln(c / k)) candidates
 * pass, c ~ j N / m the points inside the provisional bound.
 *
 * Exactness does not rest on the estimate. A row whose bound was too small ends the search with
 * fewer than k neighbours in its list (every point inside the bound was offered); knn_ring.c
 * searches such rows again from +inf. The sample rows are one per stratum of N / m global rows at
 * a hashed offset (no stride can line up with a period of the input, such as atoms of one type
 * every few rows), the same rows for any rank count and row order.
 *
 * The distances are the brute-force tile products (knn_tile.c's packing: approximations within
 * knn_tile_tol, immaterial here). Selecting the j-th of m per row would cost about as much as it
 * saves, so the m = 1024 columns are folded into G = 128 running minima first (slot r mod G), and
 * the bound is the j-th smallest minimum: at least the j-th smallest distance, so as safe. */
#include "graph/graph_impl.h"
#include <cblas.h>
#include <math.h>

#define PREBOUND_M 1024 /* sample rows */
#define PREBOUND_G 128  /* running minima per row */

/* Sample row of stratum r (global rows [ceil(r N / m), ceil((r + 1) N / m))). */
static pm_gidx_t stratum_row(pm_gidx_t r, pm_gidx_t m, pm_gidx_t N)
{
  uint64_t  z  = pm_mix64(0x9e3779b97f4a7c15ULL * (uint64_t)(r + 1));
  pm_gidx_t lo = (r * N + m - 1) / m, hi = ((r + 1) * N + m - 1) / m;
  return lo + (pm_gidx_t)((z >> 11) % (uint64_t)(hi - lo));
}

/* The m sample rows on every rank, in stratum order: each rank sends its sample rows (found by
 * their global index, so q may hold any rows in any order: a block, or a spatial cell), each
 * behind its stratum number, and every rank puts them in place. Collective. */
static PetscErrorCode fetch_sample(MPI_Comm comm, const knn_block_t *q, pm_gidx_t N, pm_gidx_t m, double *x)
{
  int          size, nsend = 0, *cnt, *dsp, D = q->dim;
  double      *send, *all;
  MPI_Datatype rowtype;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc2(size, &cnt, size, &dsp));
  PetscCall(PetscMalloc2(m * (D + 1) + 1, &send, m * (D + 1) + 1, &all));
  for (pm_gidx_t i = 0; i < q->n; i++) {
    pm_gidx_t g = q->gidx ? q->gidx[i] : q->start + i, r = g * m / N; /* g's stratum */
    if (stratum_row(r, m, N) == g) {
      send[(size_t)nsend * (D + 1)] = (double)r; /* exact: r < m */
      PetscCall(PetscArraycpy(send + (size_t)nsend * (D + 1) + 1, q->x + i * D, D));
      nsend++;
    }
  }
  PetscCallMPI(MPI_Allgather(&nsend, 1, MPI_INT, cnt, 1, MPI_INT, comm));
  for (int p = 0, off = 0; p < size; off += cnt[p++]) dsp[p] = off; /* the counts add up to m */
  PetscCallMPI(MPI_Type_contiguous(D + 1, MPI_DOUBLE, &rowtype));
  PetscCallMPI(MPI_Type_commit(&rowtype));
  PetscCallMPI(MPI_Allgatherv(send, nsend, rowtype, all, cnt, dsp, rowtype, comm));
  PetscCallMPI(MPI_Type_free(&rowtype));
  for (pm_gidx_t e = 0; e < m; e++) PetscCall(PetscArraycpy(x + (pm_gidx_t)all[e * (D + 1)] * D, all + e * (D + 1) + 1, D));
  PetscCall(PetscFree2(send, all));
  PetscCall(PetscFree2(cnt, dsp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The j-th smallest (1-based) of v[0..n), n <= PREBOUND_G: the values binned by the monotone map
 * min(floor((x - lo) 32 / (hi - lo)), 31) (a lower bin holds only smaller values), so one count
 * finds the bin of the j-th; a bin of a few values is ordered by insertion, a crowded one (most
 * minima of clustered data fall in the lowest bin when a few lie far away) is binned again over
 * its own range. A quickselect over all n was four fifths of this file's time (its comparisons
 * are unpredictable). */
static double jth_smallest(const double *v, int n, int j)
{
  enum { NB = 32, FEW = 16 };
  double w[PREBOUND_G];

  for (int c = 0; c < n; c++) w[c] = v[c];
  for (;;) {
    int    cnt[NB] = {0}, kb = 0, below = 0, nt = 0;
    double lo, hi, sc;
    knn_value_range(w, n, &lo, &hi);
    if (!(hi > lo)) return lo;
    if (n <= FEW) { /* insertion */
      for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && w[b] < w[b - 1]; b--) {
          double t = w[b];
          w[b]     = w[b - 1];
          w[b - 1] = t;
        }
      return w[j - 1];
    }
    sc = NB / (hi - lo);
    for (int c = 0; c < n; c++) cnt[knn_bucket_of(w[c], lo, sc, NB)]++;
    while (below + cnt[kb] < j) below += cnt[kb++];
    for (int c = 0; c < n; c++) /* keep the bin of the j-th (in place: nt <= c) */
      if (knn_bucket_of(w[c], lo, sc, NB) == kb) w[nt++] = w[c];
    n = nt;
    j -= below;
  }
}

int knn_prebound_rank(const pm_knn_t *knn, pm_gidx_t N, int k)
{
  double m = (double)PetscMin(N, PREBOUND_M), lambda = k * m / (double)N;
  int    j = (int)ceil(lambda + 4.0 * sqrt(lambda) + 4.0) + 1; /* + 1: the row itself may be a sample row */

  if (!knn->prebound) return 0;
  if (knn->prebound_rank > 0) return PetscMin(knn->prebound_rank, PREBOUND_G);
  return j <= PREBOUND_G / 2 ? j : 0; /* beyond, the minima lose too much: small N, where the gain is small too */
}

PetscErrorCode knn_prebound(pm_knn_t *knn, const knn_block_t *q, const double *qa, const double *qn, const double *mu, pm_gidx_t N, int k, double *t)
{
  int         T = knn->tile, D = q->dim, A = D + 1, j = knn_prebound_rank(knn, N, k);
  pm_gidx_t   m = PetscMin(N, PREBOUND_M);
  double     *sx, *sa, *C, *mins, smax = 0.0, tol = knn_tile_tol(D);
  knn_block_t sb;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < q->n; i++) t[i] = PETSC_INFINITY;
  if (!j) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscLogEventBegin(knn->ev_prebound, 0, 0, 0, 0));
  PetscCall(PetscMalloc1(m * D + 1, &sx));
  PetscCall(fetch_sample(knn->comm, q, N, m, sx));
  sb = (knn_block_t){0, m, D, sx, NULL};
  PetscCall(PetscMalloc1(knn_brute_pack_size(m, D, T), &sa));
  knn_brute_augment(&sb, mu, T, sa);
  for (pm_gidx_t r = 0; r < m; r++) smax = PetscMax(smax, sa[(size_t)(r / T) * A * T + (size_t)D * T + r % T]); /* |y - mu|^2 (1 - 2 tol) */
  PetscCall(PetscMalloc2((size_t)T * T, &C, (size_t)T * PREBOUND_G, &mins));
  for (pm_gidx_t r0 = 0; r0 < q->n; r0 += T) {
    int ns = (int)(q->n - r0 < T ? q->n - r0 : T);
    for (size_t e = 0; e < (size_t)ns * PREBOUND_G; e++) mins[e] = PETSC_INFINITY;
    for (pm_gidx_t j0 = 0; j0 < m; j0 += T) {
      int nj = (int)(m - j0 < T ? m - j0 : T);
      /* C = [x - mu, 1] [-2 (y - mu), |y - mu|^2 (1 - 2 tol)]^T: |x - y|^2 - |x - mu|^2, rounded */
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ns, nj, A, 1.0, qa + (size_t)(r0 / T) * A * T, T, sa + (size_t)(j0 / T) * A * T, T, 0.0, C, nj);
      for (int r = 0; r < ns; r++) {
        const double *c  = C + (size_t)r * nj;
        double       *mr = mins + (size_t)r * PREBOUND_G;
        for (int c0 = 0; c0 < nj;) { /* columns j0 + c0 .. in slots (j0 + c0) mod G .. */
          int s = (int)((j0 + c0) % PREBOUND_G), len = PetscMin(PREBOUND_G - s, nj - c0);
          for (int u = 0; u < len; u++) mr[s + u] = c[c0 + u] < mr[s + u] ? c[c0 + u] : mr[s + u];
          c0 += len;
        }
      }
    }
    for (int r = 0; r < ns; r++) {
      int    g = (int)PetscMin(m, PREBOUND_G);
      /* plus twice the products' rounding margin: where the distances are small against |x - mu|
         (a tight cluster far from mu) the rounding would otherwise cut the bound short */
      double b = jth_smallest(mins + (size_t)r * PREBOUND_G, g, PetscMin(j, g)) + qn[r0 + r] + 4.0 * tol * (qn[r0 + r] + smax);
      t[r0 + r] = b > 0.0 ? b * (1.0 + 1e-11) : 0.0; /* above the lists' own 1e-12 inflation: a k-th
                                                           neighbour tied with the sample's j-th is no short cut */
    }
  }
  PetscCall(PetscFree2(C, mins));
  PetscCall(PetscFree(sa));
  PetscCall(PetscFree(sx));
  PetscCall(PetscLogEventEnd(knn->ev_prebound, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
