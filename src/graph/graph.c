/* The graph object and the option name tables of the kNN stage. */
#include "graph/graph_impl.h"

const char *const pm_knn_method_names[] = {"auto", "brute", "tree", "pm_knn_method_t", "PM_KNN_", NULL};
const char *const pm_dup_mode_names[]   = {"error", "keep", "drop", "pm_dup_mode_t", "PM_DUP_", NULL};

PetscErrorCode pm_graph_destroy(pm_graph_t **graph)
{
  PetscFunctionBeginUser;
  if (!*graph) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*graph)->ind));
  PetscCall(PetscFree((*graph)->dist));
  PetscCall(PetscFree((*graph)->kept_rows));
  PetscCall(PetscFree(*graph));
  PetscFunctionReturn(PETSC_SUCCESS);
}
