/* /graph in the output file: the neighbour table without column 0 (the point itself). */
#include "graph/graph_impl.h"
#include <phasemap/io.h>

PetscErrorCode pm_graph_write(const pm_graph_t *g, pm_output_t *out)
{
  int64_t *ib;
  double  *db;
  int      k = g->k;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(g->n_local * k + 1, &ib));
  for (pm_gidx_t i = 0; i < g->n_local; i++)
    for (int r = 0; r < k; r++) ib[i * k + r] = g->ind[i * g->ncol + 1 + r];
  PetscCall(pm_output_write_rows(out, "/graph/knn_index", PM_T_INT64, g->n_global, g->row_start, g->n_local, k, ib));
  PetscCall(PetscFree(ib));
  PetscCall(PetscMalloc1(g->n_local * k + 1, &db));
  for (pm_gidx_t i = 0; i < g->n_local; i++)
    for (int r = 0; r < k; r++) db[i * k + r] = g->dist[i * g->ncol + 1 + r];
  PetscCall(pm_output_write_rows(out, "/graph/knn_dist", PM_T_DOUBLE, g->n_global, g->row_start, g->n_local, k, db));
  PetscCall(PetscFree(db));
  if (g->kept_rows) PetscCall(pm_output_write_rows(out, "/graph/kept_rows", PM_T_INT64, g->n_global, g->row_start, g->n_local, 0, g->kept_rows));
  PetscCall(pm_output_attr_int(out, "/graph", "k", k));
  PetscCall(pm_output_attr_string(out, "/graph", "method", g->method == PM_KNN_TREE ? "tree" : "brute"));
  PetscCall(pm_output_attr_int(out, "/graph", "duplicates", g->n_duplicates));
  PetscCall(pm_output_attr_int(out, "/graph", "n_input", g->n_input));
  PetscCall(pm_output_attr_int(out, "/graph", "n_points", g->n_global));
  PetscFunctionReturn(PETSC_SUCCESS);
}
