/* /id/twonn and /id/gride datasets (docs/FORMAT.md, section id). Separate from id.c so that programs
 * using the id module without the output writer link without io. */
#include "id/id_impl.h"

PetscErrorCode pm_id_write(const pm_id_t *id, pm_output_t *out)
{
  int64_t one = 1, ns = id->nscales;

  PetscFunctionBeginUser;
  PetscCheck(id->computed, id->comm, PETSC_ERR_ORDER, "id: pm_id_write called before pm_id_compute");
  PetscCall(pm_output_write_small(out, "/id/twonn/id", PM_T_DOUBLE, 1, &one, &id->twonn_id));
  PetscCall(pm_output_write_small(out, "/id/twonn/error", PM_T_DOUBLE, 1, &one, &id->twonn_err));
  PetscCall(pm_output_write_small(out, "/id/twonn/scale", PM_T_DOUBLE, 1, &one, &id->twonn_scale));
  PetscCall(pm_output_attr_double(out, "/id/twonn", "fraction", id->twonn_fraction));
  PetscCall(pm_output_attr_int(out, "/id/twonn", "n_fit", id->twonn_n_eff));
  PetscCall(pm_output_attr_string(out, "/id/twonn", "method", id->twonn_ml ? "ml" : "base (closed-form linear fit)"));
  if (ns > 0) {
    PetscCall(pm_output_write_small(out, "/id/gride/scale", PM_T_DOUBLE, 1, &ns, id->gride_scale));
    PetscCall(pm_output_write_small(out, "/id/gride/id", PM_T_DOUBLE, 1, &ns, id->gride_id));
    PetscCall(pm_output_write_small(out, "/id/gride/error", PM_T_DOUBLE, 1, &ns, id->gride_err));
    PetscCall(pm_output_write_small(out, "/id/gride/n1", PM_T_INT64, 1, &ns, id->gride_n1));
    PetscCall(pm_output_write_small(out, "/id/gride/n2", PM_T_INT64, 1, &ns, id->gride_n2));
    PetscCall(pm_output_write_small(out, "/id/gride/n_fit", PM_T_INT64, 1, &ns, id->gride_n_used));
  }
  PetscCall(pm_output_attr_int(out, "/id/gride", "range_max", id->gride_range_max));
  PetscFunctionReturn(PETSC_SUCCESS);
}
