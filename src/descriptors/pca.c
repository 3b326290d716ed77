/* Standardisation (-standardize) and PCA (-pca_components m | -pca_variance f) of a row-distributed
 * descriptor matrix. Means, standard deviations and the covariance are reproducible sums (the same
 * bits on any number of ranks); the eigendecomposition runs on ScaLAPACK (pca_eig.c); the
 * projection is a fixed-order loop over the local rows. */
#include "pca_impl.h"
#include <math.h>

static const char *const eig_names[] = {"scalapack", "lapack", "pm_pca_eig_t", "PM_PCA_EIG_", NULL};

PetscErrorCode pm_pca_create(MPI_Comm comm, pm_pca_t **p)
{
  pm_pca_t *P;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&P));
  P->comm        = comm;
  P->eigensolver = PM_PCA_EIG_SCALAPACK;
  PetscCall(PetscLogEventRegister("PmPcaStats", PETSC_OBJECT_CLASSID, &P->ev_stats));
  PetscCall(PetscLogEventRegister("PmPcaCovariance", PETSC_OBJECT_CLASSID, &P->ev_cov));
  PetscCall(PetscLogEventRegister("PmPcaEigen", PETSC_OBJECT_CLASSID, &P->ev_eig));
  PetscCall(PetscLogEventRegister("PmPcaProject", PETSC_OBJECT_CLASSID, &P->ev_proj));
  *p = P;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_pca_set_from_options(pm_pca_t *p)
{
  PetscInt  m  = p->ncomp_req, nb = p->nb;
  PetscReal f  = p->var_req;
  PetscBool sm = PETSC_FALSE, sf = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscOptionsBegin(p->comm, NULL, "Standardisation and PCA of the descriptors", NULL);
  PetscCall(PetscOptionsBool("-standardize", "subtract the mean and divide by the standard deviation of every column", NULL, p->standardize, &p->standardize, NULL));
  PetscCall(PetscOptionsInt("-pca_components", "project onto this many principal components", NULL, m, &m, &sm));
  PetscCall(PetscOptionsReal("-pca_variance", "project onto the fewest components explaining this fraction of the variance", NULL, f, &f, &sf));
  PetscCall(PetscOptionsEnum("-pca_eigensolver", "eigensolver of the covariance", NULL, eig_names, (PetscEnum)p->eigensolver, (PetscEnum *)&p->eigensolver, NULL));
  PetscCall(PetscOptionsInt("-pca_block", "ScaLAPACK block size (0: automatic)", NULL, nb, &nb, NULL));
  PetscOptionsEnd();
  PetscCheck(!(sm && sf), p->comm, PETSC_ERR_USER_INPUT, "-pca_components and -pca_variance are exclusive; give only one");
  PetscCheck(!sm || m >= 1, p->comm, PETSC_ERR_USER_INPUT, "-pca_components %d must be at least 1", (int)m);
  PetscCheck(!sf || (f > 0.0 && f <= 1.0), p->comm, PETSC_ERR_USER_INPUT, "-pca_variance %g must be a fraction in (0, 1]", (double)f);
  PetscCheck(nb >= 0, p->comm, PETSC_ERR_USER_INPUT, "-pca_block %d must be >= 0 (0: automatic)", (int)nb);
  p->ncomp_req = sm ? (int)m : p->ncomp_req;
  p->var_req   = sf ? f : p->var_req;
  p->nb        = (int)nb;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscBool pm_pca_active(const pm_pca_t *p) { return (p->standardize || p->ncomp_req > 0 || p->var_req > 0) ? PETSC_TRUE : PETSC_FALSE; }

PetscErrorCode pm_pca_check_dim(const pm_pca_t *p, int D)
{
  PetscFunctionBeginUser;
  PetscCheck(p->ncomp_req <= D, p->comm, PETSC_ERR_USER_INPUT, "-pca_components %d exceeds the %d descriptor columns; lower -pca_components", p->ncomp_req, D);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscBool pca_requested(const pm_pca_t *p) { return (p->ncomp_req > 0 || p->var_req > 0) ? PETSC_TRUE : PETSC_FALSE; }

/* Centre (and scale) X in place; record mean and scale. */
static PetscErrorCode standardise(pm_pca_t *p, pm_rows_t *X)
{
  int     D = X->dim, first = -1;
  double *std;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(p->ev_stats, 0, 0, 0, 0));
  PetscCall(PetscMalloc1(D, &std));
  PetscCall(pm_pca_column_stats(X, p->mean, std));
  p->n_zero_var = 0;
  for (int j = 0; j < D; j++) {
    PetscBool flat = (std[j] == 0.0 || std[j] <= 1e-12 * fabs(p->mean[j])) ? PETSC_TRUE : PETSC_FALSE;
    if (flat && first < 0) first = j;
    p->n_zero_var += flat;
    p->scale[j] = (p->standardize && !flat) ? std[j] : 1.0;
  }
  if (p->standardize && p->n_zero_var)
    PetscCall(PetscPrintf(p->comm, "phasemap: warning: -standardize: %d of %d descriptor columns have zero variance (first: column %d, 0-based); they are centred but not scaled\n", p->n_zero_var, D, first));
  for (pm_gidx_t i = 0; i < X->n_local; i++)
    for (int j = 0; j < D; j++) X->x[(size_t)i * D + j] = (X->x[(size_t)i * D + j] - p->mean[j]) / p->scale[j];
  PetscCall(PetscFree(std));
  PetscCall(PetscLogEventEnd(p->ev_stats, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Eigenpairs of the covariance in descending order with the sign convention; choose m. */
static PetscErrorCode principal_axes(pm_pca_t *p, const pm_rows_t *Z)
{
  int     D = Z->dim, m = 0;
  double *C, *w, *V, cum = 0.0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3((size_t)D * D, &C, D, &w, (size_t)D * D, &V));
  PetscCall(PetscLogEventBegin(p->ev_cov, 0, 0, 0, 0));
  PetscCall(pm_pca_covariance(Z, C));
  PetscCall(PetscLogFlops((double)Z->n_local * D * (D + PM_PCA_PANEL)));
  PetscCall(PetscLogEventEnd(p->ev_cov, 0, 0, 0, 0));
  p->total_var = 0.0;
  for (size_t k = 0; k < (size_t)D * D; k++) C[k] /= (double)(Z->n_global - 1);
  for (int j = 0; j < D; j++) p->total_var += C[(size_t)j * D + j];
  PetscCheck(p->total_var > 0.0, p->comm, PETSC_ERR_USER_INPUT, "PCA: every descriptor column is constant (total variance 0); nothing to project");
  PetscCall(PetscLogEventBegin(p->ev_eig, 0, 0, 0, 0));
  PetscCall(pm_pca_eigen(p->comm, p->eigensolver, p->nb, D, C, w, V, p->grid));
  PetscCall(PetscLogEventEnd(p->ev_eig, 0, 0, 0, 0));
  if (p->ncomp_req > 0) m = p->ncomp_req;
  else
    for (m = 0; m < D; m++) {
      cum += w[D - 1 - m];
      if (cum >= p->var_req * p->total_var * (1.0 - 1e-12)) {
        m++;
        break;
      }
    }
  p->ncomp = PetscMin(m, D);
  PetscCall(PetscFree(p->loadings));
  PetscCall(PetscFree2(p->ev, p->evr));
  PetscCall(PetscMalloc1((size_t)p->ncomp * D, &p->loadings));
  PetscCall(PetscMalloc2(p->ncomp, &p->ev, p->ncomp, &p->evr));
  for (int c = 0; c < p->ncomp; c++) {
    const double *v = V + (size_t)(D - 1 - c) * D; /* ascending order from the solver */
    int           kmax = 0;
    for (int k = 1; k < D; k++)
      if (fabs(v[k]) > fabs(v[kmax])) kmax = k; /* first index wins exact ties */
    for (int k = 0; k < D; k++) p->loadings[(size_t)c * D + k] = v[kmax] < 0 ? -v[k] : v[k];
    p->ev[c]  = w[D - 1 - c];
    p->evr[c] = w[D - 1 - c] / p->total_var;
  }
  PetscCall(PetscFree3(C, w, V));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode project(pm_pca_t *p, pm_rows_t **X)
{
  pm_rows_t *Z = *X, *Y;
  int        D = Z->dim, m = p->ncomp;
  double    *Lt;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(p->ev_proj, 0, 0, 0, 0));
  PetscCall(pm_rows_create_layout(Z->comm, Z->n_global, Z->row_start, Z->n_local, m, &Y));
  PetscCall(PetscMalloc1((size_t)D * m, &Lt));
  for (int c = 0; c < m; c++)
    for (int k = 0; k < D; k++) Lt[(size_t)k * m + c] = p->loadings[(size_t)c * D + k];
  for (pm_gidx_t i = 0; i < Z->n_local; i++) {
    const double *z = Z->x + (size_t)i * D;
    double       *y = Y->x + (size_t)i * m;
    for (int k = 0; k < D; k++) /* fixed order over k for every output: the same bits for any P */
      for (int c = 0; c < m; c++) y[c] += z[k] * Lt[(size_t)k * m + c];
  }
  PetscCall(PetscLogFlops(2.0 * Z->n_local * D * m));
  PetscCall(PetscFree(Lt));
  PetscCall(pm_rows_destroy(X));
  *X = Y;
  PetscCall(PetscLogEventEnd(p->ev_proj, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_pca_apply(pm_pca_t *p, pm_rows_t **X)
{
  int D = (*X)->dim;

  PetscFunctionBeginUser;
  if (!pm_pca_active(p)) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck((*X)->n_global >= 2, p->comm, PETSC_ERR_USER_INPUT, "-standardize / -pca_*: need at least 2 rows, got %" PRId64, (*X)->n_global);
  PetscCheck(D >= 1, p->comm, PETSC_ERR_USER_INPUT, "-standardize / -pca_*: the descriptor matrix has no columns");
  PetscCall(pm_pca_check_dim(p, D));
  p->dim   = D;
  p->ncomp = 0;
  PetscCall(PetscFree2(p->mean, p->scale));
  PetscCall(PetscMalloc2(D, &p->mean, D, &p->scale));
  PetscCall(standardise(p, *X));
  if (pca_requested(p)) {
    PetscCall(principal_axes(p, *X));
    PetscCall(project(p, X));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_pca_get_components(const pm_pca_t *p, int *ncomp, const double **loadings, const double **ev, const double **evr)
{
  PetscFunctionBeginUser;
  if (ncomp) *ncomp = p->ncomp;
  if (loadings) *loadings = p->loadings;
  if (ev) *ev = p->ev;
  if (evr) *evr = p->evr;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_pca_get_scaling(const pm_pca_t *p, int *dim, const double **mean, const double **scale, int *n_zero_var)
{
  PetscFunctionBeginUser;
  if (dim) *dim = p->dim;
  if (mean) *mean = p->mean;
  if (scale) *scale = p->scale;
  if (n_zero_var) *n_zero_var = p->n_zero_var;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_pca_destroy(pm_pca_t **p)
{
  PetscFunctionBeginUser;
  if (!*p) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree2((*p)->mean, (*p)->scale));
  PetscCall(PetscFree((*p)->loadings));
  PetscCall(PetscFree2((*p)->ev, (*p)->evr));
  PetscCall(PetscFree(*p));
  PetscFunctionReturn(PETSC_SUCCESS);
}
