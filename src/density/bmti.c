/* Placeholder until the BMTI implementation lands (replaced by bmti_*.c). */
#include "density/bmti.h"

struct pm_bmti {
  MPI_Comm comm;
};

PetscErrorCode pm_bmti_create(MPI_Comm comm, pm_bmti_t **b)
{
  PetscFunctionBeginUser;
  PetscCall(PetscNew(b));
  (*b)->comm = comm;
  PetscFunctionReturn(PETSC_SUCCESS);
}
PetscErrorCode pm_bmti_set_from_options(pm_bmti_t *b) { return PETSC_SUCCESS; }
PetscErrorCode pm_bmti_compute(pm_bmti_t *b, const pm_rows_t *X, const pm_graph_t *graph, double id, const int64_t *kstar, const double *kl, const double *ke, double *log_den, double *err, int64_t *component)
{
  SETERRQ(b->comm, PETSC_ERR_SUP, "BMTI is not implemented yet");
}
PetscErrorCode pm_bmti_write(const pm_bmti_t *b, pm_output_t *out) { return PETSC_SUCCESS; }
PetscErrorCode pm_bmti_view(const pm_bmti_t *b) { return PETSC_SUCCESS; }
PetscErrorCode pm_bmti_destroy(pm_bmti_t **b)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(*b));
  PetscFunctionReturn(PETSC_SUCCESS);
}
