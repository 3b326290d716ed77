/* Coordinate frame of a kd-tree. Data that lies on (or very near) a linear subspace of dimension
 * m < D is searched in the frame of its principal axes: z = R (x - mu) with the m leading
 * eigenvectors of the block's covariance as rows of R. Boxes, splits and a first distance filter
 * then work on m coordinates instead of D, and boxes that follow the data are much tighter.
 *
 * The frame only prunes; every distance that decides an order is still knn_dist2 on the input
 * coordinates. Pruning stays exact through a rigorous bound: if knn_dist2(x, y) <= b then the
 * computed squared frame distance (or box distance) s of the pair satisfies s <= T(b), with
 *   T(b) = ((1 + eta) sqrt(b / (1 - g(D + 2))) + e(x) + e(y))^2 (1 + g(m + 3)) (1 + 16 u),
 * u the unit roundoff, g(n) = n u / (1 - n u), eta >= |R|_2 - 1 (R is orthonormal only to
 * rounding; eta comes from |R R^T - I|_F), and e(x) = cE |x - mu| bounds the rounding error of the
 * computed z (|z_computed - R (x - mu)| <= g(D + 2) (1 + eta) sqrt(m) |x - mu|; cE doubles it). The
 * dropped axes only make s smaller, so any m is valid; m only decides how well the frame prunes. */
#include "graph/knn_frame.h"
#include <float.h>
#include <petscblaslapack.h>
#include <cblas.h>

#define FRAME_SAMPLE 32768 /* rows of the block used for the covariance (strided), for D <= 32 */
#define FRAME_WORK   (1 << 20) /* above that: about this many / D rows (never below 4 D) */
#define FRAME_RESID  1e-6  /* drop trailing axes holding at most this fraction of the variance */

static double gam(int n)
{
  double u = 0.5 * DBL_EPSILON;
  return n * u / (1.0 - n * u);
}

void knn_frame_identity(int dim, knn_frame_t *F)
{
  *F = (knn_frame_t){dim, dim, dim, NULL, NULL, 1.0, 0.0, 1.0, 1.0};
}

/* Covariance of a strided sample of b (min(n, cap, max(FRAME_WORK / D, 4 D)) rows) around its mean
 * (mu); cov is dim x dim (both triangles). The centred rows go through dgemm FRAME_BLOCK at a time,
 * summed into cov: a small scratch that stays in cache, where one block of all rows was a fresh
 * 2.6 MB array for each tree (650 page faults at 16384 rows of 20). */
#define FRAME_BLOCK 512 /* centred rows per BLAS call (the covariance, the projection) */
static PetscErrorCode sample_cov(const knn_block_t *b, pm_gidx_t cap, double *mu, double *cov)
{
  int          D  = b->dim;
  pm_gidx_t    ns = PetscMin(b->n, PetscMin(cap, PetscMax((pm_gidx_t)(FRAME_WORK / D), (pm_gidx_t)(4 * D))));
  PetscBLASInt bd, bn;
  double      *w, one = 1.0;

  PetscFunctionBeginUser;
  PetscCall(PetscBLASIntCast(D, &bd));
  PetscCall(PetscMalloc1((size_t)FRAME_BLOCK * D, &w));
  for (int d = 0; d < D; d++) mu[d] = 0.0;
  for (pm_gidx_t s = 0; s < ns; s++) { /* sample row s: row s n / ns of the block */
    const double *x = b->x + (s * b->n / ns) * D;
    for (int d = 0; d < D; d++) mu[d] += x[d];
  }
  for (int d = 0; d < D; d++) mu[d] /= (double)ns;
  for (int e = 0; e < D * D; e++) cov[e] = 0.0;
  for (pm_gidx_t s0 = 0; s0 < ns; s0 += FRAME_BLOCK) {
    pm_gidx_t nb = PetscMin((pm_gidx_t)FRAME_BLOCK, ns - s0);
    for (pm_gidx_t s = s0; s < s0 + nb; s++) {
      const double *x = b->x + (s * b->n / ns) * D;
      for (int d = 0; d < D; d++) w[(s - s0) * D + d] = x[d] - mu[d];
    }
    /* w is D x nb column-major: cov += w w^T (dgemm, both triangles: faster than dsyrk on such thin blocks, 16384 rows of 20: 1.2 -> 1.0 ms) */
    PetscCall(PetscBLASIntCast(nb, &bn));
    PetscCallBLAS("BLASgemm", BLASgemm_("N", "T", &bd, &bd, &bn, &one, w, &bd, w, &bd, &one, cov, &bd));
  }
  for (int d = 0; d < D; d++)
    for (int e = 0; e < d; e++) cov[e * D + d] = cov[d * D + e];
  PetscCall(PetscFree(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Leading m of the eigenvalues lam (ascending, from dsyev) that hold all but FRAME_RESID of the
 * variance; 0 when the sample has no spread. */
static int frame_rank(const double *lam, int D)
{
  double tot = 0.0, tail = 0.0;
  int    m   = D;

  for (int d = 0; d < D; d++) tot += lam[d] > 0.0 ? lam[d] : 0.0;
  if (!(tot > 0.0)) return 0;
  for (int d = 0; d < D; d++) { /* drop the smallest while the dropped tail stays tiny */
    tail += lam[d] > 0.0 ? lam[d] : 0.0;
    if (tail > FRAME_RESID * tot) break;
    m--;
  }
  return m < 1 ? 1 : m;
}

/* Principal axes of a strided sample of b: mean mu, eigenvalues lam ascending and, in vec, the
 * matching unit eigenvectors (column j of the column-major D x D matrix: vec + j D). */
static PetscErrorCode principal(const knn_block_t *b, pm_gidx_t cap, double *mu, double *vec, double *lam, PetscBool *ok)
{
  int          D = b->dim;
  PetscBLASInt bn, lwork = 8 * D + 64, info;
  double      *work;

  PetscFunctionBeginUser;
  PetscCall(PetscBLASIntCast(D, &bn));
  PetscCall(PetscMalloc1(lwork, &work));
  PetscCall(sample_cov(b, cap, mu, vec));
  PetscCallBLAS("LAPACKsyev", LAPACKsyev_("V", "U", &bn, vec, &bn, lam, work, &lwork, &info));
  *ok = info == 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(PetscFree(work));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_principal_axes(const knn_block_t *b, pm_gidx_t cap, int na, double *axes)
{
  int       D = b->dim;
  double   *mu, *vec, *lam;
  PetscBool ok;

  PetscFunctionBeginUser;
  PM_ASSERT(na <= D && b->n >= 2);
  PetscCall(PetscMalloc3(D, &mu, D * D, &vec, D, &lam));
  PetscCall(principal(b, cap, mu, vec, lam, &ok));
  for (int j = 0; j < na; j++) /* the j-th largest eigenvalue's vector: column D-1-j */
    for (int d = 0; d < D; d++) axes[j * D + d] = ok ? vec[(D - 1 - j) * D + d] : (double)(d == j);
  PetscCall(PetscFree3(mu, vec, lam));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_frame_local(const knn_block_t *b, knn_frame_t *F)
{
  int       D = b->dim, m;
  double   *mu, *cov, *lam, eta = 0.0;
  PetscBool ok;

  PetscFunctionBeginUser;
  knn_frame_identity(D, F);
  if (b->n < 4 * D || D < 4) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc3(D, &mu, D * D, &cov, D, &lam));
  PetscCall(principal(b, FRAME_SAMPLE, mu, cov, lam, &ok));
  m = ok ? frame_rank(lam, D) : D;
  if (m >= 1 && 2 * m <= D) { /* a subspace of at most half the dimensions: rotate */
    int mp = (m + 3) / 4 * 4;
    F->m   = m;
    F->mp  = mp;
    PetscCall(PetscCalloc1(mp * D, &F->R));
    PetscCall(PetscMalloc1(D, &F->mu));
    for (int d = 0; d < D; d++) F->mu[d] = mu[d];
    for (int j = 0; j < m; j++) /* eigenvector of the j-th largest eigenvalue: column D-1-j */
      for (int d = 0; d < D; d++) F->R[d * mp + j] = cov[(D - 1 - j) * D + d];
    for (int i = 0; i < m; i++) /* eta >= |R R^T - I|_F plus the rounding of computing it */
      for (int j = 0; j < m; j++) {
        double s = i == j ? -1.0 : 0.0;
        for (int d = 0; d < D; d++) s += F->R[d * mp + i] * F->R[d * mp + j];
        eta += s * s;
      }
    eta     = PetscSqrtReal(eta) + 4.0 * gam(D + 2) * m;
    F->grow = 1.0 + eta;
    F->cE   = 2.0 * gam(D + 2) * (1.0 + eta) * PetscSqrtReal((double)m);
    F->c1   = 1.0 / (1.0 - gam(D + 2));
    F->c2   = (1.0 + gam(m + 3)) * (1.0 + 8.0 * DBL_EPSILON);
  }
  PetscCall(PetscFree3(mu, cov, lam));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void knn_frame_free(knn_frame_t *F)
{
  (void)PetscFree(F->R);
  (void)PetscFree(F->mu);
  knn_frame_identity(F->dim, F);
}

/* w = x - mu (dim values); returns e(x), the error bound of x's frame coordinates (a rotated frame). */
static inline double centre_row(const knn_frame_t *F, const double *x, double *w)
{
  double n2 = 0.0;

  for (int d = 0; d < F->dim; d++) {
    w[d] = x[d] - F->mu[d];
    n2 += w[d] * w[d];
  }
  return F->cE * PetscSqrtReal(n2);
}

double knn_frame_project(const knn_frame_t *F, const double *x, double *z, double *w)
{
  int    D = F->dim;
  double e;

  if (!F->R) {
    for (int d = 0; d < D; d++) z[d] = x[d];
    return 0.0;
  }
  e = centre_row(F, x, w);
  for (int j = 0; j < F->mp; j++) z[j] = 0.0;
  for (int d = 0; d < D; d++) /* each z[j] still sums over d in order; the loop over j vectorizes */
    for (int j = 0; j < F->mp; j++) z[j] += F->R[d * F->mp + j] * w[d];
  return e;
}

PetscErrorCode knn_frame_project_rows(const knn_frame_t *F, const double *x, pm_gidx_t n, double *z, double *emax)
{
  int     D = F->dim, mp = F->mp;
  double *w, e = *emax;

  PetscFunctionBeginUser;
  if (!F->R) { /* the identity: z = x, exact */
    PetscCall(PetscArraycpy(z, x, n * D));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscMalloc1((size_t)FRAME_BLOCK * D, &w));
  for (pm_gidx_t r0 = 0; r0 < n; r0 += FRAME_BLOCK) { /* the centred rows of a block, then one dgemm: z = w R */
    pm_gidx_t nb = PetscMin((pm_gidx_t)FRAME_BLOCK, n - r0);
    for (pm_gidx_t r = 0; r < nb; r++) {
      double er = centre_row(F, x + (r0 + r) * D, w + r * D);
      e         = er > e ? er : e;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, mp, D, 1.0, w, D, F->R, mp, 0.0, z + r0 * mp, mp);
  }
  *emax = e;
  PetscCall(PetscFree(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}
