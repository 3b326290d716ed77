/* /clusters/... datasets and attributes, and the short table printed by rank 0. */
#include "cluster_impl.h"

static PetscErrorCode write_small_i64(pm_output_t *out, const char *name, int nd, int64_t d0, int64_t d1, const int64_t *v)
{
  int64_t dims[2] = {d0, d1};

  PetscFunctionBeginUser;
  PetscCall(pm_output_write_small(out, name, PM_T_INT64, nd, dims, v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_small_f64(pm_output_t *out, const char *name, int nd, int64_t d0, int64_t d1, const double *v)
{
  int64_t dims[2] = {d0, d1};

  PetscFunctionBeginUser;
  PetscCall(pm_output_write_small(out, name, PM_T_DOUBLE, nd, dims, v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_dpa(const pm_cluster_t *cl, pm_output_t *out)
{
  const pm_dpa_result_t *r = cl->res;
  int64_t                K = r->K;

  PetscFunctionBeginUser;
  PetscCall(write_small_f64(out, "/clusters/saddle_log_density", 2, K, K, r->saddle));
  PetscCall(write_small_f64(out, "/clusters/saddle_error", 2, K, K, r->saddle_err));
  PetscCall(write_small_i64(out, "/clusters/border_index", 2, K, K, r->border));
  if (r->n_merges > 0) {
    PetscCall(write_small_i64(out, "/clusters/merge_absorbed", 1, r->n_merges, 0, r->merge_absorbed));
    PetscCall(write_small_i64(out, "/clusters/merge_survivor", 1, r->n_merges, 0, r->merge_survivor));
    PetscCall(write_small_f64(out, "/clusters/merge_saddle_log_density", 1, r->n_merges, 0, r->merge_saddle));
    PetscCall(write_small_f64(out, "/clusters/merge_margin", 1, r->n_merges, 0, r->merge_margin));
  }
  PetscCall(pm_output_attr_double(out, "/clusters", "Z", cl->Z));
  PetscCall(pm_output_attr_int(out, "/clusters", "halo", cl->halo));
  PetscCall(pm_output_attr_int(out, "/clusters", "n_merges", r->n_merges));
  PetscCall(pm_output_attr_int(out, "/clusters", "n_putative_centers", r->n_putative));
  PetscCall(pm_output_attr_int(out, "/clusters", "n_clusters_before_merging", r->K_pre));
  PetscCall(pm_output_attr_double(out, "/clusters", "log_den_min", r->log_den_min));
  PetscCall(pm_output_attr_int(out, "/clusters", "n_fallback", r->n_fallback));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_cluster_write(const pm_cluster_t *cl, pm_output_t *out)
{
  const pm_dpa_result_t *r = cl->res;
  int64_t                K;

  PetscFunctionBeginUser;
  PetscCheck(r, cl->comm, PETSC_ERR_ARG_WRONGSTATE, "pm_cluster_write: call pm_cluster_compute first");
  K = r->K;
  PetscCall(pm_output_write_rows(out, "/clusters/label", PM_T_INT64, cl->n_global, cl->row_start, cl->n_local, 0, r->label));
  PetscCall(write_small_i64(out, "/clusters/center", 1, K, 0, r->center));
  PetscCall(write_small_i64(out, "/clusters/population", 1, K, 0, r->population));
  PetscCall(write_small_i64(out, "/clusters/core_population", 1, K, 0, r->core_population));
  PetscCall(write_small_f64(out, "/clusters/peak_log_density", 1, K, 0, r->peak_log_den));
  PetscCall(write_small_f64(out, "/clusters/peak_error", 1, K, 0, r->peak_err));
  PetscCall(pm_output_attr_string(out, "/clusters", "method", pm_cluster_method_names[cl->method]));
  PetscCall(pm_output_attr_string(out, "/clusters", "density", pm_den_kind_names[cl->density]));
  PetscCall(pm_output_attr_int(out, "/clusters", "n_clusters", K));
  PetscCall(pm_output_attr_int(out, "/clusters", "pointer_jumping_rounds", r->jump_rounds));
  PetscCall(pm_output_attr_double(out, "/clusters", "seconds", cl->seconds));
  if (cl->method == PM_CLUSTER_DPA)
    PetscCall(write_dpa(cl, out));
  else {
    PetscCall(pm_output_write_rows(out, "/clusters/dp_delta", PM_T_DOUBLE, cl->n_global, cl->row_start, cl->n_local, 0, cl->delta));
    PetscCall(pm_output_write_rows(out, "/clusters/dp_ref", PM_T_INT64, cl->n_global, cl->row_start, cl->n_local, 0, cl->ref));
    PetscCall(pm_output_attr_double(out, "/clusters", "dp_rho_cut", cl->rho_cut_used));
    PetscCall(pm_output_attr_double(out, "/clusters", "dp_delta_cut", cl->delta_cut_used));
    PetscCall(pm_output_attr_int(out, "/clusters", "dp_auto_cut", cl->auto_cut));
    PetscCall(pm_output_attr_int(out, "/clusters", "dp_n_exact_search", r->n_fallback));
    if (cl->dp_plot) PetscCall(pm_cluster_write_decision_graph(cl));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_cluster_view(const pm_cluster_t *cl)
{
  const pm_dpa_result_t *r = cl->res;
  int64_t                show;

  PetscFunctionBeginUser;
  if (!r) PetscFunctionReturn(PETSC_SUCCESS);
  if (cl->method == PM_CLUSTER_DPA)
    PetscCall(PetscPrintf(cl->comm, "cluster: DPA on %s density, Z = %g%s: %" PRId64 " clusters (%" PRId64 " putative centres, %" PRId64 " before merging, %" PRId64 " merges), %d pointer-jumping rounds, %.2f s\n", pm_den_kind_names[cl->density], cl->Z, cl->halo ? ", halo" : "", r->K, r->n_putative, r->K_pre, r->n_merges, r->jump_rounds, cl->seconds));
  else
    PetscCall(PetscPrintf(cl->comm, "cluster: density peaks on %s density, rho_cut %g, delta_cut %g%s: %" PRId64 " clusters (%" PRId64 " points needed the exact delta search), %.2f s\n", pm_den_kind_names[cl->density], cl->rho_cut_used, cl->delta_cut_used, cl->auto_cut ? " (automatic)" : "", r->K, r->n_fallback, cl->seconds));
  PetscCall(PetscPrintf(cl->comm, "  %7s %12s %12s %14s %10s\n", "cluster", "centre", "population", "peak log den", "error"));
  show = PetscMin(r->K, 30);
  for (int64_t c = 0; c < show; c++) PetscCall(PetscPrintf(cl->comm, "  %7" PRId64 " %12" PRId64 " %12" PRId64 " %14.6f %10.6f\n", c, r->center[c], r->population[c], r->peak_log_den[c], r->peak_err[c]));
  if (r->K > show) PetscCall(PetscPrintf(cl->comm, "  ... %" PRId64 " more clusters in /clusters of the output\n", r->K - show));
  PetscFunctionReturn(PETSC_SUCCESS);
}
