/* Stage "cluster": options, the choice of density, and the call into DPA (dpa.c) or classic density
 * peaks (dp.c). Writing and viewing are in cluster_write.c. */
#include "cluster_impl.h"
#include <string.h>

const char *const pm_cluster_method_names[] = {"dpa", "dp", "pm_cluster_method_t", "PM_CLUSTER_", NULL};

PetscErrorCode pm_cluster_create(MPI_Comm comm, pm_cluster_t **clp)
{
  pm_cluster_t *cl;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&cl));
  PetscCallMPI(MPI_Comm_dup(comm, &cl->comm));
  cl->method  = PM_CLUSTER_DPA;
  cl->density = PM_DEN_BMTI;
  cl->Z       = 3.0; /* docs/clustering.md: the most stable choice as N grows; DADApy uses 1.65 */
  cl->halo    = PETSC_FALSE;
  cl->rho_cut = cl->delta_cut = 0.0;
  cl->dp_plot                 = PETSC_TRUE;
  PetscCall(PetscLogEventRegister("PmDpaPeaks", PETSC_OBJECT_CLASSID, &cl->ev[0]));
  PetscCall(PetscLogEventRegister("PmDpaAssign", PETSC_OBJECT_CLASSID, &cl->ev[1]));
  PetscCall(PetscLogEventRegister("PmDpaSaddles", PETSC_OBJECT_CLASSID, &cl->ev[2]));
  PetscCall(PetscLogEventRegister("PmDpaMerge", PETSC_OBJECT_CLASSID, &cl->ev[3]));
  PetscCall(PetscLogEventRegister("PmDpDelta", PETSC_OBJECT_CLASSID, &cl->ev[4]));
  *clp = cl;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Index of name in list (n entries) or -1. */
static int find_name(const char *const *list, int n, const char *name)
{
  for (int k = 0; k < n; k++)
    if (!strcmp(list[k], name)) return k;
  return -1;
}

PetscErrorCode pm_cluster_set_from_options(pm_cluster_t *cl)
{
  PetscBool set_rho = PETSC_FALSE, set_delta = PETSC_FALSE;
  char      meth[64], den[64];
  int       km, kd;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(meth, pm_cluster_method_names[cl->method], sizeof meth));
  PetscCall(PetscStrncpy(den, pm_den_kind_names[cl->density], sizeof den));
  PetscOptionsBegin(cl->comm, NULL, "Clustering (DPA / density peaks)", NULL);
  PetscCall(PetscOptionsString("-cluster_method", "dpa (advanced density peaks) or dp (classic density peaks)", "pm_cluster_set_from_options", meth, meth, sizeof meth, NULL));
  PetscCall(PetscOptionsString("-cluster_density", "density estimator to cluster on: knn, kstarnn, pak or bmti", "pm_cluster_set_from_options", den, den, sizeof den, NULL));
  PetscCall(PetscOptionsReal("-dpa_z", "DPA merging significance Z", "pm_cluster_set_from_options", cl->Z, &cl->Z, NULL));
  PetscCall(PetscOptionsBool("-dpa_halo", "DPA: label halo points -1", "pm_cluster_set_from_options", cl->halo, &cl->halo, NULL));
  PetscCall(PetscOptionsReal("-dp_rho_cut", "density peaks: centres need log density above this", "pm_cluster_set_from_options", cl->rho_cut, &cl->rho_cut, &set_rho));
  PetscCall(PetscOptionsReal("-dp_delta_cut", "density peaks: centres need delta above this", "pm_cluster_set_from_options", cl->delta_cut, &cl->delta_cut, &set_delta));
  PetscCall(PetscOptionsBool("-dp_plot", "density peaks: write the decision graph table and PNG next to the output", "pm_cluster_set_from_options", cl->dp_plot, &cl->dp_plot, NULL));
  PetscOptionsEnd();
  km = find_name(pm_cluster_method_names, 2, meth);
  kd = find_name(pm_den_kind_names, PM_DEN_COUNT, den);
  PetscCheck(km >= 0, cl->comm, PETSC_ERR_USER_INPUT, "-cluster_method %s: unknown method; use dpa (advanced density peaks) or dp (classic density peaks)", meth);
  PetscCheck(kd >= 0, cl->comm, PETSC_ERR_USER_INPUT, "-cluster_density %s: unknown estimator; use knn, kstarnn, pak or bmti", den);
  cl->method   = (pm_cluster_method_t)km;
  cl->density  = (pm_den_kind_t)kd;
  cl->auto_cut = !(set_rho || set_delta);
  if (!set_rho && set_delta) cl->rho_cut = -PETSC_MAX_REAL;
  PetscCheck(cl->Z >= 0.0, cl->comm, PETSC_ERR_USER_INPUT, "-dpa_z %g must be >= 0 (default 3)", cl->Z);
  PetscCall(PetscOptionsGetString(NULL, NULL, "-output", cl->output, sizeof cl->output, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_cluster_get_density_kind(const pm_cluster_t *cl, pm_den_kind_t *kind)
{
  PetscFunctionBeginUser;
  *kind = cl->density;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode compute_dpa(pm_cluster_t *cl, const pm_graph_t *graph, const pm_density_t *den)
{
  const double  *ld, *err;
  const int64_t *kstar;
  pm_dpa_input_t in;

  PetscFunctionBeginUser;
  PetscCall(pm_density_get(den, cl->density, &ld, &err));
  PetscCall(pm_density_get_kstar(den, &kstar));
  in = (pm_dpa_input_t){graph, ld, err, kstar, cl->Z, cl->halo, cl->ev};
  PetscCall(pm_dpa_compute(&in, &cl->res));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode compute_dp(pm_cluster_t *cl, const pm_rows_t *X, const pm_graph_t *graph, const pm_density_t *den)
{
  const double *ld, *err;
  pm_dp_input_t in;

  PetscFunctionBeginUser;
  PetscCheck(X, cl->comm, PETSC_ERR_ARG_WRONGSTATE, "-cluster_method dp needs the coordinates");
  PetscCall(pm_density_get(den, cl->density, &ld, &err));
  PetscCall(PetscMalloc3(graph->n_local + 1, &cl->delta, graph->n_local + 1, &cl->ref, graph->n_local + 1, &cl->dp_log_den));
  PetscCall(PetscArraycpy(cl->dp_log_den, ld, graph->n_local));
  in = (pm_dp_input_t){X, graph, ld, cl->rho_cut, cl->delta_cut, cl->auto_cut};
  PetscCall(PetscLogEventBegin(cl->ev[4], 0, 0, 0, 0));
  PetscCall(pm_dp_compute(&in, cl->delta, cl->ref, &cl->rho_cut_used, &cl->delta_cut_used, &cl->res));
  PetscCall(PetscLogEventEnd(cl->ev[4], 0, 0, 0, 0));
  for (int64_t c = 0; c < cl->res->K; c++) { /* the error of each peak, summed from its owner */
    pm_gidx_t g          = cl->res->center[c];
    cl->res->peak_err[c] = (g >= graph->row_start && g < graph->row_start + graph->n_local) ? err[g - graph->row_start] : 0.0;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, cl->res->peak_err, (int)cl->res->K, MPI_DOUBLE, MPI_SUM, cl->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_cluster_compute(pm_cluster_t *cl, const pm_rows_t *X, const pm_graph_t *graph, const pm_density_t *den)
{
  double t0 = pm_time();

  PetscFunctionBeginUser;
  PetscCheck(graph, cl->comm, PETSC_ERR_ARG_WRONGSTATE, "the cluster stage needs the knn stage (-stages knn,id,density,cluster)");
  PetscCheck(den, cl->comm, PETSC_ERR_ARG_WRONGSTATE, "the cluster stage needs the density stage (-stages knn,id,density,cluster)");
  PetscCall(pm_dpa_result_destroy(&cl->res));
  PetscCall(PetscFree3(cl->delta, cl->ref, cl->dp_log_den));
  cl->n_global  = graph->n_global;
  cl->row_start = graph->row_start;
  cl->n_local   = graph->n_local;
  if (cl->method == PM_CLUSTER_DPA)
    PetscCall(compute_dpa(cl, graph, den));
  else
    PetscCall(compute_dp(cl, X, graph, den));
  cl->seconds = pm_time() - t0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_cluster_get_labels(const pm_cluster_t *cl, const int64_t **label, int64_t *nclusters)
{
  PetscFunctionBeginUser;
  PetscCheck(cl->res, cl->comm, PETSC_ERR_ARG_WRONGSTATE, "pm_cluster_get_labels: call pm_cluster_compute first");
  *label     = cl->res->label;
  *nclusters = cl->res->K;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_cluster_get_result(const pm_cluster_t *cl, const pm_dpa_result_t **res)
{
  PetscFunctionBeginUser;
  *res = cl->res;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_cluster_destroy(pm_cluster_t **clp)
{
  PetscFunctionBeginUser;
  if (!*clp) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pm_dpa_result_destroy(&(*clp)->res));
  PetscCall(PetscFree3((*clp)->delta, (*clp)->ref, (*clp)->dp_log_den));
  PetscCallMPI(MPI_Comm_free(&(*clp)->comm));
  PetscCall(PetscFree(*clp));
  PetscFunctionReturn(PETSC_SUCCESS);
}
