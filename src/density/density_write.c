/* /density/<estimator>/{log_density,error}, /density/kstarnn/kstar, /density/bmti/component and
 * the run statistics as attributes (docs/FORMAT.md, section density). */
#include "density/density_impl.h"

PetscErrorCode pm_density_write(const pm_density_t *d, pm_output_t *out)
{
  char path[128];

  PetscFunctionBeginUser;
  PetscCall(pm_output_attr_double(out, "/density", "id_used", d->id_used));
  for (int k = 0; k < PM_DEN_COUNT; k++) {
    if (!d->done[k]) continue;
    PetscCall(PetscSNPrintf(path, sizeof path, "/density/%s/log_density", pm_den_kind_names[k]));
    PetscCall(pm_output_write_rows(out, path, PM_T_DOUBLE, d->n_global, d->row_start, d->n_local, 0, d->log_den[k]));
    PetscCall(PetscSNPrintf(path, sizeof path, "/density/%s/error", pm_den_kind_names[k]));
    PetscCall(pm_output_write_rows(out, path, PM_T_DOUBLE, d->n_global, d->row_start, d->n_local, 0, d->err[k]));
    PetscCall(PetscSNPrintf(path, sizeof path, "/density/%s", pm_den_kind_names[k]));
    PetscCall(pm_output_attr_double(out, path, "id_used", d->id_used));
  }
  if (d->done[PM_DEN_KNN]) PetscCall(pm_output_attr_int(out, "/density/knn", "k", d->knn_k));
  if (d->done[PM_DEN_KSTARNN]) {
    PetscCall(pm_output_write_rows(out, "/density/kstarnn/kstar", PM_T_INT64, d->n_global, d->row_start, d->n_local, 0, d->kstar));
    PetscCall(pm_output_attr_double(out, "/density/kstarnn", "alpha", d->kstar_alpha));
    PetscCall(pm_output_attr_double(out, "/density/kstarnn", "Dthr", d->dthr));
    PetscCall(pm_output_attr_int(out, "/density/kstarnn", "kstar_cap", d->graph_k - 1));
    PetscCall(pm_output_attr_int(out, "/density/kstarnn", "n_capped", d->kstar_capped));
  }
  if (d->done[PM_DEN_PAK]) {
    PetscCall(pm_output_attr_int(out, "/density/pak", "maxit", d->pak_maxit));
    PetscCall(pm_output_attr_int(out, "/density/pak", "n_failed", d->pak_failed));
    PetscCall(pm_output_attr_int(out, "/density/pak", "n_skipped", d->pak_skipped));
    PetscCall(pm_output_attr_int(out, "/density/pak", "n_singular", d->pak_singular));
    PetscCall(pm_output_attr_int(out, "/density/pak", "max_iterations", d->pak_max_its));
  }
  if (d->done[PM_DEN_BMTI]) {
    PetscCall(pm_output_write_rows(out, "/density/bmti/component", PM_T_INT64, d->n_global, d->row_start, d->n_local, 0, d->component));
    PetscCall(pm_bmti_write(d->bmti, out));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
