/* Brute-force distance tiles: one dgemm per tile on centred, augmented coordinates gives
 * C_ij = |y_j|^2 (1 - 2 tol) - 2 x_i.y_j directly (rows [x, 1] times [-2 y, |y|^2 (1 - 2 tol)]),
 * fused with a threshold filter against each row's current k-th distance: C_ij <= bound_i -
 * |x_i|^2 (1 - tol). tol covers every rounding error of the tile (dgemm over D + 1 terms and the
 * centring), so no true neighbour is lost; the pairs that pass are measured exactly on the input
 * coordinates and offered to the row's list. */
#include "graph/graph_impl.h"
#include <cblas.h>
#include <float.h>
#include <immintrin.h>

size_t knn_brute_work_size(const pm_knn_t *knn)
{
  return (size_t)knn->tile * (size_t)(knn->tile + 2) + 1;
}

double knn_tile_tol(int dim)
{
  return (2.0 * dim + 16.0) * DBL_EPSILON;
}

void knn_brute_augment(const knn_block_t *b, const double *mu, double *ba)
{
  int    D   = b->dim;
  double tol = knn_tile_tol(D);
  for (pm_gidx_t j = 0; j < b->n; j++) {
    double s = 0.0, *r = ba + j * (D + 1);
    for (int d = 0; d < D; d++) {
      double t = b->x[j * D + d] - mu[d];
      r[d]     = -2.0 * t;
      s += t * t;
    }
    r[D] = s * (1.0 - 2.0 * tol);
  }
}

/* Exact squared distances of q to the rows x + idx[c] * D, four independent sums at a time (for
 * instruction-level parallelism); each sum runs over the coordinates in order, as knn_dist2. */
static void exact_dist2(const double *q, const double *x, int D, const int *idx, int n, double *out)
{
  int c = 0;
  for (; c + 4 <= n; c += 4) {
    const double *a = x + (size_t)idx[c] * D, *b = x + (size_t)idx[c + 1] * D, *e = x + (size_t)idx[c + 2] * D, *f = x + (size_t)idx[c + 3] * D;
    double        s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    for (int d = 0; d < D; d++) {
      double t0 = q[d] - a[d], t1 = q[d] - b[d], t2 = q[d] - e[d], t3 = q[d] - f[d];
      s0 += t0 * t0;
      s1 += t1 * t1;
      s2 += t2 * t2;
      s3 += t3 * t3;
    }
    out[c]     = s0;
    out[c + 1] = s1;
    out[c + 2] = s2;
    out[c + 3] = s3;
  }
  for (; c < n; c++) out[c] = knn_dist2(q, x + (size_t)idx[c] * D, D);
}

/* Column offsets (within the tile) of the entries c[jj] <= t, as a bit mask per 8 entries. */
__attribute__((target("avx2"))) static int collect_avx2(const double *c, int nj, double t, int *idx)
{
  __m256d tv = _mm256_set1_pd(t);
  int     jj = 0, nc = 0;

  for (; jj + 8 <= nj; jj += 8) {
    unsigned m = (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(c + jj), tv, _CMP_LE_OQ));
    m |= (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(c + jj + 4), tv, _CMP_LE_OQ)) << 4;
    while (m) {
      idx[nc++] = jj + __builtin_ctz(m);
      m &= m - 1;
    }
  }
  for (; jj < nj; jj++)
    if (c[jj] <= t) idx[nc++] = jj;
  return nc;
}

static int collect_sse2(const double *c, int nj, double t, int *idx)
{
  __m128d tv = _mm_set1_pd(t);
  int     jj = 0, nc = 0;

  for (; jj + 8 <= nj; jj += 8) {
    unsigned m = 0;
    for (int p = 0; p < 4; p++) m |= (unsigned)_mm_movemask_pd(_mm_cmple_pd(_mm_loadu_pd(c + jj + 2 * p), tv)) << (2 * p);
    while (m) {
      idx[nc++] = jj + __builtin_ctz(m);
      m &= m - 1;
    }
  }
  for (; jj < nj; jj++)
    if (c[jj] <= t) idx[nc++] = jj;
  return nc;
}

PetscErrorCode knn_brute_rows(pm_knn_t *knn, const knn_block_t *q, const double *qa, const double *qn, pm_gidx_t i0, int ni, const knn_block_t *b, const double *ba, knn_lists_t *L, knn_buf_t *B, double *work)
{
  int       D = q->dim, T = knn->tile, A = D + 1;
  double   *C = work, *d2 = C + (size_t)T * T;
  int      *idx  = (int *)(d2 + T); /* T ints fit in the T doubles reserved after d2 */
  double    tol  = knn_tile_tol(D);
  PetscBool avx2 = __builtin_cpu_supports("avx2") ? PETSC_TRUE : PETSC_FALSE;

  PetscFunctionBeginUser;
  PM_ASSERT(B->rows >= ni && ni <= T);
  PetscCall(PetscLogEventBegin(knn->ev_tile, 0, 0, 0, 0));
  for (pm_gidx_t j0 = 0; j0 < b->n; j0 += T) {
    int         nj = (int)(b->n - j0 < T ? b->n - j0 : T);
    const char *xb = (const char *)(b->x + j0 * D);
    /* the candidates of this tile are measured on these input rows: have them in cache by then
       (a large block lives in memory, and candidates hit it at random) */
    for (size_t off = 0; off < (size_t)nj * D * sizeof(double); off += 64) __builtin_prefetch(xb + off);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, nj, A, 1.0, qa + i0 * A, A, ba + j0 * A, A, 0.0, C, nj);
    for (int ii = 0; ii < ni; ii++) {
      pm_gidx_t i  = i0 + ii;
      double    t  = L->bound2[i] - qn[i] * (1.0 - tol);
      int       nc = avx2 ? collect_avx2(C + (size_t)ii * nj, nj, t, idx) : collect_sse2(C + (size_t)ii * nj, nj, t, idx);
      if (!nc) continue;
      exact_dist2(q->x + i * D, b->x + j0 * D, D, idx, nc, d2);
      for (int e = 0; e < nc; e++) knn_offer(L, B, ii, i, d2[e], b->start + j0 + idx[e]);
    }
  }
  for (int ii = 0; ii < ni; ii++) knn_flush(L, B, ii, i0 + ii);
  PetscCall(PetscLogFlops(2.0 * (double)ni * (double)b->n * A));
  PetscCall(PetscLogEventEnd(knn->ev_tile, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
