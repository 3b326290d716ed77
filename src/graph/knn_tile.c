/* Brute-force distance tiles: dgemm on centred coordinates (|x|^2 + |y|^2 - 2 x.y) fused with a
 * threshold filter against each row's current k-th distance. Only pairs that can still enter the
 * list (with a margin that covers every rounding error of the tile) are measured exactly. */
#include "graph/graph_impl.h"
#include <cblas.h>
#include <float.h>
#include <emmintrin.h>

#define FILTER_CHUNK 32

size_t knn_brute_work_size(const pm_knn_t *knn, int dim, pm_gidx_t nmax)
{
  return (size_t)nmax * (size_t)(dim + 1) + (size_t)knn->tile * (size_t)knn->tile + 1;
}

/* Centre block b on mu into bc and store |bc_j|^2 (1 - tol) in bn. */
static void centre_block(const knn_block_t *b, const double *mu, double tol, double *bc, double *bn)
{
  int D = b->dim;
  for (pm_gidx_t j = 0; j < b->n; j++) {
    double s = 0.0;
    for (int d = 0; d < D; d++) {
      double t      = b->x[j * D + d] - mu[d];
      bc[j * D + d] = t;
      s += t * t;
    }
    bn[j] = s * (1.0 - tol);
  }
}

/* One row of one tile: c[jj] = -2 qc_i . bc_j. Candidates satisfy c + bn <= bound - qn (1 - tol):
 * compared two at a time into a bit mask, so the scan has no data-dependent branch per pair. */
static void filter_row(const knn_block_t *q, pm_gidx_t i, double qni, const knn_block_t *b, pm_gidx_t j0, int nj, const double *c, const double *bn, double tol, knn_lists_t *L, knn_buf_t *B, int r)
{
  int           D  = q->dim, jj = 0;
  const double *xi = q->x + i * D;
  double        t  = L->bound2[i] - qni * (1.0 - tol);
  __m128d       tv = _mm_set1_pd(t);

  for (; jj + 8 <= nj; jj += 8) {
    unsigned m = 0;
    for (int p = 0; p < 4; p++) {
      __m128d v = _mm_add_pd(_mm_loadu_pd(c + jj + 2 * p), _mm_loadu_pd(bn + jj + 2 * p));
      m |= (unsigned)_mm_movemask_pd(_mm_cmple_pd(v, tv)) << (2 * p);
    }
    while (m) {
      pm_gidx_t j = j0 + jj + __builtin_ctz(m);
      m &= m - 1;
      knn_offer(L, B, r, i, knn_dist2(xi, b->x + j * D, D), b->start + j);
    }
    if (L->bound2[i] - qni * (1.0 - tol) != t) {
      t  = L->bound2[i] - qni * (1.0 - tol);
      tv = _mm_set1_pd(t);
    }
  }
  for (; jj < nj; jj++)
    if (c[jj] + bn[jj] <= t) {
      pm_gidx_t j = j0 + jj;
      knn_offer(L, B, r, i, knn_dist2(xi, b->x + j * D, D), b->start + j);
    }
}

PetscErrorCode knn_brute_block(pm_knn_t *knn, const knn_block_t *q, const double *qc, const double *qn, const knn_block_t *b, const double *mu, knn_lists_t *L, knn_buf_t *B, double *work)
{
  int     D   = q->dim, T = knn->tile;
  double *bc  = work, *bn = work + b->n * D, *C = bn + b->n;
  /* |fl(a) - a| for a = |x|^2 + |y|^2 - 2 x.y in dgemm order, plus centring: well inside this */
  double  tol = (2.0 * D + 16.0) * DBL_EPSILON;

  PetscFunctionBeginUser;
  PM_ASSERT(B->rows >= T);
  PetscCall(PetscLogEventBegin(knn->ev_tile, 0, 0, 0, 0));
  centre_block(b, mu, tol, bc, bn);
  for (pm_gidx_t i0 = 0; i0 < q->n; i0 += T) {
    int ni = (int)(q->n - i0 < T ? q->n - i0 : T);
    for (pm_gidx_t j0 = 0; j0 < b->n; j0 += T) {
      int nj = (int)(b->n - j0 < T ? b->n - j0 : T);
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, nj, D, -2.0, qc + i0 * D, D, bc + j0 * D, D, 0.0, C, nj);
      for (int ii = 0; ii < ni; ii++) filter_row(q, i0 + ii, qn[i0 + ii], b, j0, nj, C + (size_t)ii * nj, bn + j0, tol, L, B, ii);
    }
    for (int ii = 0; ii < ni; ii++) knn_flush(L, B, ii, i0 + ii);
  }
  PetscCall(PetscLogFlops(2.0 * (double)q->n * (double)b->n * D));
  PetscCall(PetscLogEventEnd(knn->ev_tile, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
