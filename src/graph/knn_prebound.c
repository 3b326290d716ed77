/* Provisional bounds for brute force. A row's bound starts at +inf and falls only as neighbours
 * are found: it admits every point of the first tiles, and in all about k (1 + ln(N / k))
 * candidates per row pass the filter and are measured exactly. Here each row's bound starts instead
 * at an estimate of its k-th neighbour distance that is too large with high probability: the j-th
 * smallest distance to a global sample of m rows, with j above the number of sample rows expected
 * inside the k-th neighbour (lambda = k m / N). Then about k (1 + ln(c / k)) candidates pass,
 * c ~ j N / m the points inside the provisional bound.
 *
 * Exactness does not rest on the estimate. A row whose bound was too small ends the search with
 * fewer than k neighbours in its list (every point inside the bound was offered); knn_ring.c
 * searches such rows again from +inf. The sample rows are one per stratum of N / m global rows at
 * a hashed offset (no stride can line up with a period of the input, such as atoms of one type
 * every few rows), the same rows for any rank count and row order.
 *
 * The rank j. The k-th neighbour ball of a row holds exactly k of the N points, so for any data
 * the number of sample rows inside it has mean lambda and at most the spread of a Poisson count
 * (one row per stratum spreads less). j - 1 is the smallest count whose Poisson tail is at most
 * PREBOUND_FAIL (the row itself may be a sample row: + 1). A row cut short costs about two rows'
 * search, so a failure rate of 1e-3 costs 0.2 % while a tighter j saves a fifth of the candidates
 * (c falls with j; measured in docs/knn.md). m is 2048, or less where lambda would exceed
 * PREBOUND_LAMBDA (small N: the minima below would lose too much).
 *
 * The distances: one sgemm per tile pair on float copies of the packed tiles (knn_tile32.c's
 * operands, scaled by s), half the cost of dgemm. Selecting the j-th of m per row would cost about
 * as much as it saves, so the m columns are folded into G = 128 running minima first (slot r mod
 * G), and the bound is the j-th smallest minimum: at least the j-th smallest distance, so as safe.
 * That j-th minimum is bracketed by bisection on counts (branch-free passes that vectorize) to
 * 2^-PREBOUND_BISECT of the minima's range, from above. The float rounding is covered by
 * knn_f32_tau's margin, as in the filter. */
#include "graph/graph_impl.h"
#include <cblas.h>
#include <math.h>

#define PREBOUND_M      2048 /* sample rows at most */
#define PREBOUND_LAMBDA 12.0 /* largest k m / N */
#define PREBOUND_MIN_M  256  /* fewer sample rows: no bounds */
#define PREBOUND_G      128  /* running minima per row */
#define PREBOUND_FAIL   1e-3 /* Poisson tail of the rank */
#define PREBOUND_BISECT 12

/* Sample rows for N points and k neighbours (0: none). */
static pm_gidx_t sample_rows(pm_gidx_t N, int k)
{
  double m = PetscMin((double)PREBOUND_M, floor(PREBOUND_LAMBDA * (double)N / k));
  return m >= PREBOUND_MIN_M ? (pm_gidx_t)m : 0;
}

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

/* How many of v[0..n) are <= x (a branch-free pass). */
static inline int count_le(const float *v, int n, float x)
{
  int c = 0;
  for (int e = 0; e < n; e++) c += v[e] <= x;
  return c;
}

/* A value at least the j-th smallest (1-based) of v[0..PREBOUND_G), and above it by at most
 * 2^-PREBOUND_BISECT of the range of v: bisection keeping count(<= hi) >= j > count(<= lo). The
 * passes vectorize (lane-wise minima and maxima, then counts); an AVX-512 clone where it runs. */
__attribute__((target_clones("avx512f", "default"))) static float jth_upper(const float *v, int j)
{
  enum { L = 16, n = PREBOUND_G };
  float lo, hi, l[L], h[L];

  for (int u = 0; u < L; u++) l[u] = h[u] = v[u];
  for (int e = L; e < n; e += L)
    for (int u = 0; u < L; u++) {
      l[u] = v[e + u] < l[u] ? v[e + u] : l[u];
      h[u] = v[e + u] > h[u] ? v[e + u] : h[u];
    }
  lo = l[0];
  hi = h[0];
  for (int u = 1; u < L; u++) {
    lo = l[u] < lo ? l[u] : lo;
    hi = h[u] > hi ? h[u] : hi;
  }
  if (count_le(v, n, lo) >= j) return lo;
  for (int it = 0; it < PREBOUND_BISECT; it++) {
    float mid = lo + 0.5f * (hi - lo);
    if (!(mid > lo && mid < hi)) break; /* adjacent floats */
    if (count_le(v, n, mid) >= j) hi = mid;
    else lo = mid;
  }
  return hi;
}

/* The running minima of a row tile (ns rows, G slots each) lowered by the ns x nj products C of
 * sample columns j0 .. j0 + nj - 1 (column j0 + c in slot (j0 + c) mod G). */
__attribute__((target_clones("avx512f", "default"))) static void fold_minima(const float *C, int ns, int nj, pm_gidx_t j0, float *mins)
{
  for (int r = 0; r < ns; r++) {
    const float *c  = C + (size_t)r * nj;
    float       *mr = mins + (size_t)r * PREBOUND_G;
    for (int c0 = 0; c0 < nj;) {
      int sl = (int)((j0 + c0) % PREBOUND_G), len = PetscMin(PREBOUND_G - sl, nj - c0);
      for (int u = 0; u < len; u++) mr[sl + u] = c[c0 + u] < mr[sl + u] ? c[c0 + u] : mr[sl + u];
      c0 += len;
    }
  }
}

int knn_prebound_rank(const pm_knn_t *knn, pm_gidx_t N, int k)
{
  pm_gidx_t m = sample_rows(N, k);
  double    lambda, p, tail;
  int       c = 0;

  if (!knn->prebound || !m) return 0;
  if (knn->prebound_rank > 0) return PetscMin(knn->prebound_rank, PREBOUND_G);
  lambda = k * (double)m / (double)N;
  p      = exp(-lambda); /* P(count = c) */
  tail   = 1.0 - p;      /* P(count > c) */
  while (tail > PREBOUND_FAIL) {
    c++;
    p *= lambda / c;
    tail -= p;
  }
  /* tail = P(count >= c + 1) <= PREBOUND_FAIL: the (c + 1)-th, + 1 for the row itself */
  return c + 2 <= PREBOUND_G / 2 ? c + 2 : 0;
}

PetscErrorCode knn_prebound(pm_knn_t *knn, const knn_block_t *q, const double *qa, const double *qn, const double *mu, double s, pm_gidx_t N, int k, double *t)
{
  int         T = knn->tile, D = q->dim, A = D + 1, j = knn_prebound_rank(knn, N, k), G = PREBOUND_G;
  pm_gidx_t   m = sample_rows(N, k);
  double      smax = 0.0, tau = knn_f32_tau(D), s2 = s * s;
  double     *sx, *sa, *tmax;
  float      *sf, *qf, *C, *mins;
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
  PetscCall(PetscMalloc2(knn_f32_pack_size(m, D, T), &sf, (m + T - 1) / T, &tmax));
  knn_f32_pack(sa, m, D, T, s, s2, sf, tmax); /* [-2 s (y - mu), s^2 |y - mu|^2 (1 - 2 tol)]; each tile's largest |y - mu|^2 */
  for (pm_gidx_t t0 = 0; t0 < (m + T - 1) / T; t0++) smax = PetscMax(smax, tmax[t0]);
  PetscCall(PetscFree(sa));
  PetscCall(PetscFree(sx));
  PetscCall(PetscMalloc3((size_t)A * T, &qf, (size_t)T * T, &C, (size_t)T * G, &mins));
  for (pm_gidx_t r0 = 0; r0 < q->n; r0 += T) {
    int ns = (int)(q->n - r0 < T ? q->n - r0 : T);
    knn_f32_pack(qa + (size_t)(r0 / T) * A * T, ns, D, T, s, 1.0, qf, NULL); /* [s (x - mu), 1] */
    for (size_t e = 0; e < (size_t)ns * G; e++) mins[e] = INFINITY;
    for (pm_gidx_t j0 = 0; j0 < m; j0 += T) {
      int nj = (int)(m - j0 < T ? m - j0 : T);
      /* C ~ s^2 (|x - y|^2 - |x - mu|^2) */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ns, nj, A, 1.0f, qf, T, sf + (size_t)(j0 / T) * A * T, T, 0.0f, C, nj);
      fold_minima(C, ns, nj, j0, mins);
    }
    for (int r = 0; r < ns; r++) {
      double x = qn[r0 + r];
      /* the float products are within tau / 2 s^2 (|x - mu|^2 + |y - mu|^2) of the exact ones (knn_tile32.c; plus the
         underflow term): the whole margin on top keeps the bound above the j-th distance */
      double b = (double)jth_upper(mins + (size_t)r * G, j) / s2 + x + tau * (x + smax) + (2.0 * D + 8.0) * 0x1.0p-126 / s2;
      t[r0 + r] = b > 0.0 ? b * (1.0 + 1e-11) : 0.0; /* above the lists' own 1e-12 inflation: a k-th
                                                           neighbour tied with the sample's j-th is no short cut */
    }
  }
  PetscCall(PetscFree3(qf, C, mins));
  PetscCall(PetscFree2(sf, tmax));
  PetscCall(PetscLogEventEnd(knn->ev_prebound, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
