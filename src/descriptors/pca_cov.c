/* Column statistics and the covariance sum for PCA, bitwise independent of the number of ranks:
 * every sum goes through pm_sum_repro, and the covariance is first summed by BLAS over fixed blocks
 * of PM_PCA_BLOCK global rows (the rank holding a block's first row fetches the rest of it). */
#include "pca_impl.h"

void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k, const double *alpha, const double *a, const int *lda, const double *b, const int *ldb, const double *beta, double *c, const int *ldc);

PetscErrorCode pm_pca_column_stats(const pm_rows_t *X, double *mean, double *std)
{
  const int cb = 16;
  int       D  = X->dim;
  pm_gidx_t n  = X->n_local, N = X->n_global;
  double   *buf, sums[16];

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)cb * n + 1, &buf));
  for (int pass = 0; pass < 2; pass++)
    for (int j0 = 0; j0 < D; j0 += cb) {
      int w = PetscMin(cb, D - j0);
      for (int j = 0; j < w; j++)
        for (pm_gidx_t i = 0; i < n; i++) {
          double x = X->x[(size_t)i * D + j0 + j];
          buf[(size_t)j * n + i] = pass == 0 ? x : (x - mean[j0 + j]) * (x - mean[j0 + j]);
        }
      PetscCall(pm_sum_repro(X->comm, n, w, buf, sums));
      for (int j = 0; j < w; j++) {
        if (pass == 0) mean[j0 + j] = sums[j] / (double)N;
        else std[j0 + j] = sqrt(sums[j] / (double)N);
      }
    }
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rows [kfirst B, end) that this rank needs: its own from the first block it starts, then the
 * rows of its last block held by the following ranks. */
static PetscErrorCode gather_block_rows(const pm_rows_t *Z, pm_gidx_t *kfirst, pm_gidx_t *nblk, double **extra, pm_gidx_t *nextra)
{
  const pm_gidx_t B = PM_PCA_BLOCK;
  pm_gidx_t       s0 = Z->row_start, s1 = Z->row_start + Z->n_local, klast, end, *want, *starts;

  PetscFunctionBeginUser;
  *kfirst = (s0 + B - 1) / B;
  klast   = (s1 + B - 1) / B;
  *nblk   = Z->n_local > 0 ? klast - *kfirst : 0;
  end     = PetscMin(klast * B, Z->n_global);
  *nextra = (*nblk > 0 && end > s1) ? end - s1 : 0;
  PetscCall(PetscMalloc1(*nextra + 1, &want));
  PetscCall(PetscMalloc1((size_t)*nextra * Z->dim + 1, extra));
  for (pm_gidx_t r = 0; r < *nextra; r++) want[r] = s1 + r;
  PetscCall(pm_layout_starts(Z->comm, Z->n_local, &starts));
  PetscCall(pm_fetch_rows_layout(Z->comm, starts, Z->x, sizeof(double), Z->dim, *nextra, want, *extra));
  PetscCall(PetscFree(starts));
  PetscCall(PetscFree(want));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Copy the rows of global block k into buf (always the same buffer: identical BLAS calls for any P). */
static int block_rows(const pm_rows_t *Z, pm_gidx_t k, const double *extra, double *buf)
{
  const pm_gidx_t B = PM_PCA_BLOCK;
  pm_gidx_t       g0 = k * B, g1 = PetscMin(g0 + B, Z->n_global), s1 = Z->row_start + Z->n_local;
  size_t          D = (size_t)Z->dim;

  for (pm_gidx_t g = g0; g < g1; g++) {
    const double *src = g < s1 ? Z->x + (size_t)(g - Z->row_start) * D : extra + (size_t)(g - s1) * D;
    for (size_t c = 0; c < D; c++) buf[(size_t)(g - g0) * D + c] = src[c];
  }
  return (int)(g1 - g0);
}

PetscErrorCode pm_pca_covariance(const pm_rows_t *Z, double *C)
{
  int        D = Z->dim;
  pm_gidx_t  kfirst, nblk, nextra;
  double        *extra, *buf, *M, *vals, *sums, one = 1.0, zero = 0.0;
  pm_progress_t *prog;

  PetscFunctionBeginUser;
  PetscCall(gather_block_rows(Z, &kfirst, &nblk, &extra, &nextra));
  PetscCall(pm_progress_create(Z->comm, "pca covariance", (D + PM_PCA_PANEL - 1) / PM_PCA_PANEL, &prog));
  PetscCall(PetscMalloc4((size_t)PM_PCA_BLOCK * D, &buf, (size_t)D * PM_PCA_PANEL, &M, (size_t)D * PM_PCA_PANEL * nblk + 1, &vals, (size_t)D * PM_PCA_PANEL, &sums));
  for (int j0 = 0; j0 < D; j0 += PM_PCA_PANEL) {
    int w = PetscMin(PM_PCA_PANEL, D - j0), j1 = j0 + w, m = 0;
    for (int j = j0; j < j1; j++) m += j + 1; /* entries i <= j of columns j0..j1-1 */
    for (pm_gidx_t b = 0; b < nblk; b++) {
      int rows = block_rows(Z, kfirst + b, extra, buf), t = 0;
      /* column-major view of the row-major block: A = D x rows; M = A[0:j1,:] A[j0:j1,:]^T */
      dgemm_("N", "T", &j1, &w, &rows, &one, buf, &D, buf + j0, &D, &zero, M, &j1);
      for (int jj = 0; jj < w; jj++)
        for (int i = 0; i <= j0 + jj; i++) vals[(size_t)(t++) * nblk + b] = M[i + (size_t)jj * j1];
    }
    PetscCall(pm_sum_repro(Z->comm, nblk, m, vals, sums));
    for (int jj = 0, t = 0; jj < w; jj++)
      for (int i = 0; i <= j0 + jj; i++, t++) {
        C[(size_t)i * D + j0 + jj] = sums[t];
        C[(size_t)(j0 + jj) * D + i] = sums[t];
      }
    PetscCall(pm_progress_step(prog, j0 / PM_PCA_PANEL + 1));
  }
  PetscCall(pm_progress_destroy(&prog));
  PetscCall(PetscFree(extra));
  PetscCall(PetscFree4(buf, M, vals, sums));
  PetscFunctionReturn(PETSC_SUCCESS);
}
