/* Output of standardisation and PCA: <group>/{mean,scale,loadings,explained_variance,
 * explained_variance_ratio} and attributes (docs/soap.md). */
#include "pca_impl.h"

static PetscErrorCode write_vec(pm_output_t *out, const char *group, const char *name, int ndims, int64_t d0, int64_t d1, const double *v)
{
  char    path[PM_PATH_MAX];
  int64_t dims[2] = {d0, d1};

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, sizeof path, "%s/%s", group, name));
  PetscCall(pm_output_write_small(out, path, PM_T_DOUBLE, ndims, dims, v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_pca_write(const pm_pca_t *p, pm_output_t *out, const char *group)
{
  PetscFunctionBeginUser;
  if (!pm_pca_active(p) || p->dim == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(write_vec(out, group, "mean", 1, p->dim, 0, p->mean));
  PetscCall(write_vec(out, group, "scale", 1, p->dim, 0, p->scale));
  PetscCall(pm_output_attr_int(out, group, "standardized", p->standardize ? 1 : 0));
  PetscCall(pm_output_attr_int(out, group, "n_zero_variance_columns", p->n_zero_var));
  PetscCall(pm_output_attr_int(out, group, "n_components", p->ncomp));
  if (p->ncomp > 0) {
    PetscCall(write_vec(out, group, "loadings", 2, p->ncomp, p->dim, p->loadings));
    PetscCall(write_vec(out, group, "explained_variance", 1, p->ncomp, 0, p->ev));
    PetscCall(write_vec(out, group, "explained_variance_ratio", 1, p->ncomp, 0, p->evr));
    PetscCall(pm_output_attr_double(out, group, "total_variance", p->total_var));
    PetscCall(pm_output_attr_string(out, group, "eigensolver", p->eigensolver == PM_PCA_EIG_LAPACK ? "lapack dsyevd" : "scalapack pdsyevd"));
    if (p->var_req > 0) PetscCall(pm_output_attr_double(out, group, "variance_fraction_requested", p->var_req));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
