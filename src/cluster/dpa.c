/* Distributed DPA driver (ALGORITHMS.md 4.1): input checks, then steps 0-6 in order. */
#include "dpa_impl.h"

static PetscErrorCode check_input(const pm_dpa_input_t *in)
{
  const pm_graph_t *G                  = in->graph;
  char              why[PM_REASON_MAX] = "";
  PetscBool         ok                 = PETSC_TRUE;

  PetscFunctionBeginUser;
  PetscCheck(in->Z >= 0.0, G->comm, PETSC_ERR_USER_INPUT, "-dpa_z %g must be >= 0 (default 3)", in->Z);
  for (pm_gidx_t i = 0; i < G->n_local && ok; i++) {
    if (in->kstar[i] < 1 || in->kstar[i] >= G->ncol) {
      ok = PETSC_FALSE;
      PetscCall(PetscSNPrintf(why, sizeof why, "DPA: k* of point %" PRId64 " is %" PRId64 ", outside 1..%d (the neighbour table has k = %d); raise -knn_k or check the density stage", G->row_start + i, in->kstar[i], G->ncol - 1, G->k));
    } else if (PetscIsInfOrNanReal(in->log_den[i])) {
      ok = PETSC_FALSE;
      PetscCall(PetscSNPrintf(why, sizeof why, "DPA: the log density of point %" PRId64 " is not finite; check the density estimator", G->row_start + i));
    } else if (!(in->err[i] >= 0.0) || PetscIsInfOrNanReal(in->err[i])) {
      ok = PETSC_FALSE;
      PetscCall(PetscSNPrintf(why, sizeof why, "DPA: the density error of point %" PRId64 " is %g; errors must be finite and >= 0", G->row_start + i, in->err[i]));
    }
  }
  PetscCall(pm_agree(G->comm, ok, why));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode step_begin(const pm_dpa_input_t *in, int s, double *t)
{
  PetscFunctionBeginUser;
  if (in->events) PetscCall(PetscLogEventBegin(in->events[s], 0, 0, 0, 0));
  *t = pm_time();
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode step_end(const pm_dpa_input_t *in, int s, double t, pm_dpa_result_t *res)
{
  PetscFunctionBeginUser;
  res->seconds[s] += pm_time() - t;
  if (in->events) PetscCall(PetscLogEventEnd(in->events[s], 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_dpa_compute(const pm_dpa_input_t *in, pm_dpa_result_t **resp)
{
  dpa_work_t        w = {0};
  pm_dpa_result_t  *res;
  const pm_graph_t *G = in->graph;
  double            t;

  PetscFunctionBeginUser;
  PetscCall(check_input(in));
  PetscCall(PetscNew(&res));
  w.in        = in;
  w.comm      = G->comm;
  w.n_local   = G->n_local;
  w.row_start = G->row_start;
  w.n_global  = G->n_global;
  w.ncol      = G->ncol;
  PetscCallMPI(MPI_Comm_rank(w.comm, &w.rank));
  PetscCallMPI(MPI_Comm_size(w.comm, &w.size));

  PetscCall(step_begin(in, 0, &t));
  PetscCall(pm_dpa_nbr_create(G, &w.nb));
  PetscCall(PetscMalloc5(w.n_local + 1, &w.rc, w.n_local + w.nb->nghost + 1, &w.g, w.n_local + 1, &w.clab, w.n_local + 1, &w.higher, w.n_local + 1, &w.ghigher));
  PetscCall(PetscMalloc1(w.n_local + w.nb->nghost + 1, &w.label));
  PetscCall(dpa_find_centres(&w));
  res->n_putative  = w.n_putative;
  res->K_pre       = w.K_pre;
  res->log_den_min = w.m;
  PetscCall(step_end(in, 0, t, res));

  PetscCall(step_begin(in, 1, &t));
  PetscCall(dpa_assign(&w, res));
  PetscCall(step_end(in, 1, t, res));

  PetscCall(step_begin(in, 2, &t));
  PetscCall(dpa_find_saddles(&w));
  PetscCall(step_end(in, 2, t, res));

  PetscCall(step_begin(in, 3, &t));
  PetscCall(dpa_merge(&w, res));
  PetscCall(step_end(in, 3, t, res));

  PetscCall(PetscFree5(w.rc, w.g, w.clab, w.higher, w.ghigher));
  PetscCall(PetscFree(w.label));
  PetscCall(PetscFree4(w.cen, w.cen_rc, w.cen_err, w.cen_logden));
  PetscCall(PetscFree(w.edges));
  PetscCall(pm_dpa_nbr_destroy(&w.nb));
  *resp = res;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_dpa_result_destroy(pm_dpa_result_t **res)
{
  pm_dpa_result_t *r;

  PetscFunctionBeginUser;
  if (!*res) PetscFunctionReturn(PETSC_SUCCESS);
  r = *res;
  PetscCall(PetscFree(r->label));
  PetscCall(PetscFree5(r->center, r->population, r->core_population, r->peak_log_den, r->peak_err));
  PetscCall(PetscFree3(r->saddle, r->saddle_err, r->border));
  PetscCall(PetscFree4(r->merge_absorbed, r->merge_survivor, r->merge_saddle, r->merge_margin));
  PetscCall(PetscFree(*res));
  PetscFunctionReturn(PETSC_SUCCESS);
}
