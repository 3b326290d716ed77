/* Density stage driver: options, estimator dependencies (bmti -> kstarnn -> k*; pak -> k*),
 * k*, kNN, k*NN, PAk, and the hand-over to BMTI (density/bmti.h). */
#include "density/density_impl.h"
#include <string.h>
#include <math.h>

const char *const pm_den_kind_names[] = {"knn", "kstarnn", "pak", "bmti", "pm_den_kind_t", "PM_DEN_", NULL};

PetscErrorCode pm_density_create(MPI_Comm comm, pm_density_t **den)
{
  pm_density_t *d;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&d));
  PetscCallMPI(MPI_Comm_dup(comm, &d->comm));
  d->want[PM_DEN_BMTI] = PETSC_TRUE;
  d->knn_k             = 10;
  d->pak_maxit         = 10000;
  d->kstar_alpha       = 1e-6;
  d->dthr              = PM_KSTAR_DTHR_1E6;
  PetscCall(pm_bmti_create(d->comm, &d->bmti));
  PetscCall(PetscLogEventRegister("PmDenKstar", PETSC_OBJECT_CLASSID, &d->ev_kstar));
  PetscCall(PetscLogEventRegister("PmDenKnn", PETSC_OBJECT_CLASSID, &d->ev_knn));
  PetscCall(PetscLogEventRegister("PmDenPak", PETSC_OBJECT_CLASSID, &d->ev_pak));
  PetscCall(PetscLogEventRegister("PmDenBmti", PETSC_OBJECT_CLASSID, &d->ev_bmti));
  *den = d;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode parse_kinds(pm_density_t *d, const char *list)
{
  char buf[256], *tok, *save = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(buf, list, sizeof buf));
  for (int k = 0; k < PM_DEN_COUNT; k++) d->want[k] = PETSC_FALSE;
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int found = -1;
    for (int k = 0; k < PM_DEN_COUNT; k++)
      if (!strcmp(tok, pm_den_kind_names[k])) found = k;
    PetscCheck(found >= 0, d->comm, PETSC_ERR_USER_INPUT, "-density: unknown estimator '%s'; choose from knn,kstarnn,pak,bmti (comma-separated)", tok);
    d->want[found] = PETSC_TRUE;
  }
  PetscCheck(d->want[0] || d->want[1] || d->want[2] || d->want[3], d->comm, PETSC_ERR_USER_INPUT, "-density: empty list; choose from knn,kstarnn,pak,bmti");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_density_set_from_options(pm_density_t *d)
{
  char      list[256] = "bmti";
  PetscBool set;

  PetscFunctionBeginUser;
  PetscOptionsBegin(d->comm, NULL, "Density (stage density)", NULL);
  PetscCall(PetscOptionsString("-density", "estimators, comma-separated: knn,kstarnn,pak,bmti (dependencies are computed too)", "pm_density_set_from_options", list, list, sizeof list, &set));
  PetscCall(PetscOptionsReal("-density_id", "intrinsic dimension used by the estimators (default: the TwoNN id of the id stage)", "pm_density_set_from_options", d->id_opt, &d->id_opt, NULL));
  PetscCall(PetscOptionsInt("-density_knn_k", "neighbours of the kNN estimator (must be below -knn_k)", "pm_density_set_from_options", d->knn_k, &d->knn_k, NULL));
  PetscCall(PetscOptionsReal("-kstar_alpha", "significance level of the k* likelihood-ratio test", "pm_density_set_from_options", d->kstar_alpha, &d->kstar_alpha, NULL));
  PetscCall(PetscOptionsInt("-pak_maxit", "PAk: iteration cap of the per-point Newton optimisation", "pm_density_set_from_options", d->pak_maxit, &d->pak_maxit, NULL));
  PetscOptionsEnd();
  if (set) PetscCall(parse_kinds(d, list));
  PetscCheck(d->id_opt == 0.0 || (d->id_opt > 0.0 && isfinite(d->id_opt)), d->comm, PETSC_ERR_USER_INPUT, "-density_id %g must be a positive intrinsic dimension", d->id_opt);
  PetscCheck(d->knn_k >= 1, d->comm, PETSC_ERR_USER_INPUT, "-density_knn_k %d must be at least 1; the default is 10", (int)d->knn_k);
  PetscCheck(d->pak_maxit >= 1, d->comm, PETSC_ERR_USER_INPUT, "-pak_maxit %d must be at least 1; the default is 10000", (int)d->pak_maxit);
  if (d->want[PM_DEN_KNN]) { /* fail in the first second, not after the kNN graph; rechecked at compute */
    PetscInt  gk = 100;
    PetscBool kset;
    PetscCall(PetscOptionsGetInt(NULL, NULL, "-knn_k", &gk, &kset));
    PetscCheck(d->knn_k < gk, d->comm, PETSC_ERR_USER_INPUT, "-density_knn_k %d must be below the number of neighbours of the graph, -knn_k %d%s; lower -density_knn_k or raise -knn_k", (int)d->knn_k, (int)gk, kset ? "" : " (default)");
  }
  PetscCall(pm_den_chi2_isf1(d->comm, d->kstar_alpha, &d->dthr));
  PetscCall(pm_bmti_set_from_options(d->bmti));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_density_require(pm_density_t *d, pm_den_kind_t kind)
{
  PetscFunctionBeginUser;
  PetscCheck(kind >= 0 && kind < PM_DEN_COUNT, d->comm, PETSC_ERR_ARG_OUTOFRANGE, "density: unknown estimator %d", (int)kind);
  d->want[kind] = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode alloc_kind(pm_density_t *d, pm_den_kind_t k)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(d->log_den[k]));
  PetscCall(PetscFree(d->err[k]));
  PetscCall(PetscMalloc1(d->n_local + 1, &d->log_den[k]));
  PetscCall(PetscMalloc1(d->n_local + 1, &d->err[k]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode compute_kstar(pm_density_t *d, const pm_graph_t *g, PetscBool quiet)
{
  int64_t mn = INT64_MAX, mx = 0;

  PetscFunctionBeginUser;
  PetscCheck(g->k >= 4, d->comm, PETSC_ERR_USER_INPUT, "density: k* needs at least 4 neighbours per point; raise -knn_k (now %d)", g->k);
  PetscCall(PetscLogEventBegin(d->ev_kstar, 0, 0, 0, 0));
  PetscCall(pm_den_kstar(g, d->id_used, d->dthr, d->kstar, &d->kstar_capped));
  PetscCall(PetscLogEventEnd(d->ev_kstar, 0, 0, 0, 0));
  for (pm_gidx_t i = 0; i < g->n_local; i++) {
    if (d->kstar[i] < mn) mn = d->kstar[i];
    if (d->kstar[i] > mx) mx = d->kstar[i];
  }
  PetscCallMPI(MPI_Allreduce(&mn, &d->kstar_min, 1, MPI_INT64_T, MPI_MIN, d->comm));
  PetscCallMPI(MPI_Allreduce(&mx, &d->kstar_max, 1, MPI_INT64_T, MPI_MAX, d->comm));
  d->kstar_is_test = PETSC_TRUE;
  if (!quiet && d->kstar_capped > 0.03 * (double)g->n_global)
    PetscCall(PetscPrintf(d->comm,
                          "density: warning: k* reached its cap k-1 = %d for %" PRId64 " of %" PRId64 " points (%.1f%%): the density looks constant over the whole "
                          "neighbour list there; a larger -knn_k (e.g. %d) lets k* grow\n",
                          g->k - 1, d->kstar_capped, g->n_global, 100.0 * (double)d->kstar_capped / (double)g->n_global, 2 * g->k));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode compute_knn(pm_density_t *d, const pm_graph_t *g, PetscBool have_kstar)
{
  int64_t *k;

  PetscFunctionBeginUser;
  PetscCheck(d->knn_k < g->k, d->comm, PETSC_ERR_USER_INPUT, "-density_knn_k %d must be below the number of neighbours of the graph, -knn_k %d; lower -density_knn_k or raise -knn_k", (int)d->knn_k, g->k);
  PetscCall(PetscLogEventBegin(d->ev_knn, 0, 0, 0, 0));
  PetscCall(PetscMalloc1(g->n_local + 1, &k));
  for (pm_gidx_t i = 0; i < g->n_local; i++) k[i] = d->knn_k;
  PetscCall(alloc_kind(d, PM_DEN_KNN));
  PetscCall(pm_den_knn(g, d->id_used, k, d->log_den[PM_DEN_KNN], d->err[PM_DEN_KNN]));
  if (!have_kstar) { /* as in the reference: the kNN estimator alone sets k*_i = k */
    PetscCall(PetscMemcpy(d->kstar, k, (size_t)g->n_local * sizeof *k));
    d->kstar_min = d->kstar_max = d->knn_k;
  }
  PetscCall(PetscFree(k));
  PetscCall(PetscLogEventEnd(d->ev_knn, 0, 0, 0, 0));
  d->done[PM_DEN_KNN] = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode compute_bmti(pm_density_t *d, const pm_rows_t *X, const pm_graph_t *g)
{
  PetscFunctionBeginUser;
  PetscCheck(X, d->comm, PETSC_ERR_ARG_NULL, "density: BMTI needs the coordinates (feature matrix)");
  PetscCall(alloc_kind(d, PM_DEN_BMTI));
  PetscCall(PetscFree(d->component));
  PetscCall(PetscMalloc1(g->n_local + 1, &d->component));
  PetscCall(PetscLogEventBegin(d->ev_bmti, 0, 0, 0, 0));
  PetscCall(pm_bmti_compute(d->bmti, X, g, d->id_used, d->kstar, d->log_den[PM_DEN_KSTARNN], d->err[PM_DEN_KSTARNN], d->log_den[PM_DEN_BMTI], d->err[PM_DEN_BMTI], d->component));
  PetscCall(PetscLogEventEnd(d->ev_bmti, 0, 0, 0, 0));
  d->done[PM_DEN_BMTI] = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_density_compute(pm_density_t *d, const pm_rows_t *X, const pm_graph_t *g, double id)
{
  PetscBool quiet = PETSC_FALSE, need_kstar;

  PetscFunctionBeginUser;
  PetscCheck(g, d->comm, PETSC_ERR_ARG_NULL, "density: the density stage needs the knn graph; add knn to -stages");
  d->id_used = d->id_opt > 0.0 ? d->id_opt : id;
  PetscCheck(d->id_used > 0.0 && isfinite(d->id_used), d->comm, PETSC_ERR_USER_INPUT, "density: no intrinsic dimension (got %g); run the id stage (-stages knn,id,density) or give -density_id", d->id_used);
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-quiet", &quiet, NULL));
  for (int k = 0; k < PM_DEN_COUNT; k++) d->done[k] = PETSC_FALSE;
  d->n_global  = g->n_global;
  d->row_start = g->row_start;
  d->n_local   = g->n_local;
  d->graph_k   = g->k;
  PetscCall(PetscFree(d->kstar));
  PetscCall(PetscMalloc1(g->n_local + 1, &d->kstar));
  d->kstar_is_test = PETSC_FALSE;
  need_kstar       = d->want[PM_DEN_KSTARNN] || d->want[PM_DEN_PAK] || d->want[PM_DEN_BMTI];
  if (need_kstar) {
    PetscCall(compute_kstar(d, g, quiet));
    PetscCall(alloc_kind(d, PM_DEN_KSTARNN));
    PetscCall(PetscLogEventBegin(d->ev_knn, 0, 0, 0, 0));
    PetscCall(pm_den_knn(g, d->id_used, d->kstar, d->log_den[PM_DEN_KSTARNN], d->err[PM_DEN_KSTARNN]));
    PetscCall(PetscLogEventEnd(d->ev_knn, 0, 0, 0, 0));
    d->done[PM_DEN_KSTARNN] = PETSC_TRUE;
  }
  if (d->want[PM_DEN_KNN]) PetscCall(compute_knn(d, g, need_kstar));
  if (d->want[PM_DEN_PAK]) {
    PetscCall(alloc_kind(d, PM_DEN_PAK));
    PetscCall(PetscLogEventBegin(d->ev_pak, 0, 0, 0, 0));
    PetscCall(pm_den_pak(g, d->id_used, d->kstar, d->pak_maxit, d->log_den[PM_DEN_PAK], d->err[PM_DEN_PAK], &d->pak_failed, &d->pak_skipped, &d->pak_singular, &d->pak_max_its));
    PetscCall(PetscLogEventEnd(d->ev_pak, 0, 0, 0, 0));
    d->done[PM_DEN_PAK] = PETSC_TRUE;
    if (!quiet && d->pak_failed)
      PetscCall(PetscPrintf(d->comm, "density: warning: PAk did not converge within -pak_maxit %d iterations for %" PRId64 " points (their last iterate is kept)\n", (int)d->pak_maxit, d->pak_failed));
  }
  if (d->want[PM_DEN_BMTI]) PetscCall(compute_bmti(d, X, g));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_density_get(const pm_density_t *d, pm_den_kind_t kind, const double **log_den, const double **err)
{
  PetscFunctionBeginUser;
  PetscCheck(kind >= 0 && kind < PM_DEN_COUNT && d->done[kind], PETSC_COMM_SELF, PETSC_ERR_ORDER, "density: estimator %s was not computed; add it to -density",
             kind >= 0 && kind < PM_DEN_COUNT ? pm_den_kind_names[kind] : "?");
  if (log_den) *log_den = d->log_den[kind];
  if (err) *err = d->err[kind];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_density_computed(const pm_density_t *d, pm_den_kind_t kind, PetscBool *done)
{
  PetscFunctionBeginUser;
  *done = (kind >= 0 && kind < PM_DEN_COUNT) ? d->done[kind] : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_density_get_kstar(const pm_density_t *d, const int64_t **kstar)
{
  PetscFunctionBeginUser;
  PetscCheck(d->kstar && (d->kstar_is_test || d->done[PM_DEN_KNN]), PETSC_COMM_SELF, PETSC_ERR_ORDER, "density: k* is not available before pm_density_compute");
  *kstar = d->kstar;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_density_destroy(pm_density_t **den)
{
  pm_density_t *d = *den;

  PetscFunctionBeginUser;
  if (!d) PetscFunctionReturn(PETSC_SUCCESS);
  for (int k = 0; k < PM_DEN_COUNT; k++) {
    PetscCall(PetscFree(d->log_den[k]));
    PetscCall(PetscFree(d->err[k]));
  }
  PetscCall(PetscFree(d->kstar));
  PetscCall(PetscFree(d->component));
  PetscCall(pm_bmti_destroy(&d->bmti));
  PetscCallMPI(MPI_Comm_free(&d->comm));
  PetscCall(PetscFree(*den));
  PetscFunctionReturn(PETSC_SUCCESS);
}
