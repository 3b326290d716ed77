/* BMTI object: options, the compute driver (graph -> gradients -> differences -> system -> solve
 * -> constant per component -> errors), statistics and their output. */
#include "density/bmti_impl.h"
#include <phasemap/io.h>

const char *const pm_bmti_err_names[] = {"kstarnn", "exact", "probe", "pm_bmti_err_t", "PM_BMTI_ERR_", NULL};

PetscErrorCode pm_bmti_create(MPI_Comm comm, pm_bmti_t **b)
{
  pm_bmti_t *p;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&p));
  PetscCallMPI(MPI_Comm_dup(comm, &p->comm));
  p->alpha        = 1.0;
  p->errors       = PM_BMTI_ERR_KSTARNN;
  p->probes       = PM_BMTI_PROBES_DEFAULT;
  p->errors_max_n = PM_BMTI_ERRORS_MAX_N_DEFAULT;
  p->seed         = 12345;
  PetscCall(PetscLogEventRegister("PmBmtiGraph", PETSC_OBJECT_CLASSID, &p->ev_graph));
  PetscCall(PetscLogEventRegister("PmBmtiGrads", PETSC_OBJECT_CLASSID, &p->ev_grads));
  PetscCall(PetscLogEventRegister("PmBmtiVariances", PETSC_OBJECT_CLASSID, &p->ev_var));
  PetscCall(PetscLogEventRegister("PmBmtiCommon", PETSC_OBJECT_CLASSID, &p->ev_common));
  PetscCall(PetscLogEventRegister("PmBmtiDeltaF", PETSC_OBJECT_CLASSID, &p->ev_deltaf));
  PetscCall(PetscLogEventRegister("PmBmtiComp", PETSC_OBJECT_CLASSID, &p->ev_comp));
  PetscCall(PetscLogEventRegister("PmBmtiAssemble", PETSC_OBJECT_CLASSID, &p->ev_assemble));
  PetscCall(PetscLogEventRegister("PmBmtiSolve", PETSC_OBJECT_CLASSID, &p->ev_solve));
  PetscCall(PetscLogEventRegister("PmBmtiErrors", PETSC_OBJECT_CLASSID, &p->ev_errors));
  PetscCall(KSPCreate(p->comm, &p->ksp));
  *b = p;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* BoomerAMG settings for these graphs (docs/bmti.md): HMIS coarsening with ext+i interpolation,
 * at most 4 interpolation entries per row, strength threshold 0.5 and one level of aggressive
 * coarsening keep the operator complexity low on the dense-ish kNN graphs of high-dimensional
 * data (setup 12x and V-cycle 9x cheaper than hypre's defaults on the 20-D timing set, same
 * iteration count within 2). A value the user gives on the command line wins. The probe solves
 * (bmti_probe.c) use two levels of aggressive coarsening and a Chebyshev smoother on top. */
PetscErrorCode bmti_hypre_defaults(const char *prefix, int agg_nl, PetscBool chebyshev)
{
  const char *opt[][2] = {
      {"coarsen_type", "HMIS"},
      {"interp_type", "ext+i"},
      {"P_max", "4"},
      {"strong_threshold", "0.5"},
      {"agg_nl", NULL},
      {"relax_type_all", "Chebyshev"},
  };
  char      name[128], nl[16];
  PetscBool set;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(nl, sizeof nl, "%d", agg_nl));
  opt[4][1] = nl;
  for (size_t i = 0; i < sizeof opt / sizeof opt[0] - (chebyshev ? 0 : 1); i++) {
    PetscCall(PetscSNPrintf(name, sizeof name, "-%spc_hypre_boomeramg_%s", prefix, opt[i][0]));
    PetscCall(PetscOptionsHasName(NULL, NULL, name, &set));
    if (!set) PetscCall(PetscOptionsSetValue(NULL, name, opt[i][1]));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Defaults first (CG + hypre BoomerAMG, chosen by measurement, docs/bmti.md), then the user's -bmti_ksp_* /
 * -bmti_pc_* options. */
PetscErrorCode pm_bmti_set_from_options(pm_bmti_t *b)
{
  PC pc;

  PetscFunctionBeginUser;
  PetscOptionsBegin(b->comm, NULL, "BMTI density (ALGORITHMS.md 3.5)", NULL);
  PetscCall(PetscOptionsReal("-bmti_alpha", "weight of the likelihood vs the k*NN prior (1 = no prior)", "", b->alpha, &b->alpha, NULL));
  PetscCall(PetscOptionsEnum("-bmti_errors", "error estimate: kstarnn, exact (dense, small N) or probe", "", pm_bmti_err_names, (PetscEnum)b->errors, (PetscEnum *)&b->errors, NULL));
  PetscCall(PetscOptionsBoundedInt("-bmti_errors_probes", "random probing vectors for -bmti_errors probe", "", b->probes, &b->probes, NULL, 1));
  PetscCall(PetscOptionsBoundedInt("-bmti_errors_max_n", "largest N accepted by -bmti_errors exact", "", b->errors_max_n, &b->errors_max_n, NULL, 1));
  PetscCall(PetscOptionsBool("-bmti_errors_untruncated", "exact errors from the Moore-Penrose pseudo-inverse (drop only the null space) instead of DADApy's cutoff", "", b->untruncated, &b->untruncated, NULL));
  PetscCall(PetscOptionsBoundedInt("-bmti_seed", "seed of the probing vectors", "", b->seed, &b->seed, NULL, 0));
  PetscOptionsEnd();
  PetscCheck(b->alpha > 0 && b->alpha <= 1, b->comm, PETSC_ERR_USER_INPUT, "-bmti_alpha %g must be in (0, 1]", b->alpha);
  PetscCall(KSPSetType(b->ksp, KSPCG));
  PetscCall(KSPGetPC(b->ksp, &pc));
  PetscCall(PCSetType(pc, PCHYPRE));
  PetscCall(KSPSetTolerances(b->ksp, 1e-8, PETSC_DEFAULT, PETSC_DEFAULT, 2000));
  PetscCall(KSPSetOptionsPrefix(b->ksp, "bmti_"));
  PetscCall(KSPSetFromOptions(b->ksp));
  { /* only when the PC is hypre: injected options that nobody reads would be reported as unused */
    PetscBool is_hypre;
    PetscCall(PetscObjectTypeCompare((PetscObject)pc, PCHYPRE, &is_hypre));
    if (is_hypre) {
      PetscCall(bmti_hypre_defaults("bmti_", 1, PETSC_FALSE));
      PetscCall(PCSetFromOptions(pc));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Gradients, covariances, differences, variances and weights. Collective. */
static PetscErrorCode compute_edges(pm_bmti_t *b, bmti_work_t *w)
{
  int64_t *common;
  double   t0 = pm_time();

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(b->ev_grads, 0, 0, 0, 0));
  PetscCall(bmti_grads(w));
  PetscCall(bmti_halo_fetch(w));
  PetscCall(PetscLogEventEnd(b->ev_grads, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(b->ev_var, 0, 0, 0, 0));
  PetscCall(bmti_variances(w));
  PetscCall(PetscLogEventEnd(b->ev_var, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(b->ev_common, 0, 0, 0, 0));
  PetscCall(PetscMalloc1(w->n_out + 1, &common));
  PetscCall(bmti_common_neighbours(w, common));
  PetscCall(PetscLogEventEnd(b->ev_common, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(b->ev_deltaf, 0, 0, 0, 0));
  PetscCall(bmti_deltaf(w, common, &b->w_min, &b->w_max));
  PetscCall(PetscFree(common));
  PetscCall(PetscLogEventEnd(b->ev_deltaf, 0, 0, 0, 0));
  b->t_grads = pm_time() - t0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode compute_errors(pm_bmti_t *b, bmti_work_t *w, Mat A, const double *kerr, double *err)
{
  double t0 = pm_time();

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(b->ev_errors, 0, 0, 0, 0));
  if (b->errors == PM_BMTI_ERR_KSTARNN)
    PetscCall(PetscArraycpy(err, kerr, w->n_local));
  else if (b->errors == PM_BMTI_ERR_EXACT)
    PetscCall(bmti_errors_exact(b, w, kerr, err));
  else
    PetscCall(bmti_errors_probe(b, w, A, err));
  PetscCall(PetscLogEventEnd(b->ev_errors, 0, 0, 0, 0));
  b->t_errors = pm_time() - t0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_bmti_compute(pm_bmti_t *b, const pm_rows_t *X, const pm_graph_t *graph, double id, const int64_t *kstar, const double *kl, const double *ke, double *log_den, double *err, int64_t *component)
{
  bmti_work_t    w;
  Mat            A   = NULL;
  Vec            rhs = NULL;
  PetscBool      pin = (PetscBool)(b->alpha == 1.0);
  pm_progress_t *prog;
  double         t0 = pm_time(), t;

  PetscFunctionBeginUser;
  PetscCheck(b->errors != PM_BMTI_ERR_EXACT || graph->n_global <= b->errors_max_n, b->comm, PETSC_ERR_USER_INPUT,
             "-bmti_errors exact needs a dense N x N eigendecomposition; N = %" PRId64 " is above -bmti_errors_max_n %" PetscInt_FMT "; use -bmti_errors probe (or raise -bmti_errors_max_n)", graph->n_global,
             b->errors_max_n);
  PetscCall(pm_progress_create(b->comm, "bmti", 5, &prog));
  PetscCall(bmti_work_setup(&w, b->comm, X, graph, id, kstar));
  PetscCall(PetscLogEventBegin(b->ev_graph, 0, 0, 0, 0));
  PetscCall(bmti_graph_edges(&w));
  PetscCall(bmti_graph_reverse(&w));
  PetscCall(PetscLogEventEnd(b->ev_graph, 0, 0, 0, 0));
  b->t_graph = pm_time() - t0;
  PetscCall(pm_progress_step(prog, 1));
  PetscCall(compute_edges(b, &w));
  PetscCall(pm_progress_step(prog, 2));
  t = pm_time();
  PetscCall(PetscLogEventBegin(b->ev_assemble, 0, 0, 0, 0));
  PetscCall(bmti_structure(&w));
  PetscCall(PetscLogEventBegin(b->ev_comp, 0, 0, 0, 0));
  PetscCall(bmti_components(&w));
  PetscCall(PetscLogEventEnd(b->ev_comp, 0, 0, 0, 0));
  PetscCall(bmti_work_release_edges(&w));
  PetscCall(bmti_assemble(b, &w, kl, ke, pin, &A, &rhs));
  PetscCall(PetscLogEventEnd(b->ev_assemble, 0, 0, 0, 0));
  b->t_assemble = pm_time() - t;
  PetscCall(pm_progress_step(prog, 3));
  t = pm_time();
  PetscCall(PetscLogEventBegin(b->ev_solve, 0, 0, 0, 0));
  PetscCall(bmti_solve(b, &w, A, rhs, kl, log_den));
  if (pin) PetscCall(bmti_shift(&w, kl, log_den));
  PetscCall(PetscLogEventEnd(b->ev_solve, 0, 0, 0, 0));
  b->t_solve = pm_time() - t;
  PetscCall(pm_progress_step(prog, 4));
  PetscCall(compute_errors(b, &w, A, ke, err));
  PetscCall(pm_progress_step(prog, 5));
  for (pm_gidx_t i = 0; i < w.n_local; i++) component[i] = w.comp[i];
  PetscCallMPI(MPI_Allreduce(&w.n_out, &b->n_edges, 1, MPI_INT64_T, MPI_SUM, b->comm));
  b->n_components = w.n_comp;
  b->n_pinned     = pin ? w.n_comp : 0;
  b->computed     = PETSC_TRUE;
  b->t_total      = pm_time() - t0;
  PetscCall(MatDestroy(&A));
  PetscCall(VecDestroy(&rhs));
  PetscCall(bmti_work_destroy(&w));
  PetscCall(pm_progress_destroy(&prog));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Names of the solve's KSP and PC types. */
static PetscErrorCode solver_names(const pm_bmti_t *b, KSPType *kt, PCType *pt)
{
  PC pc;

  PetscFunctionBeginUser;
  PetscCall(KSPGetType(b->ksp, kt));
  PetscCall(KSPGetPC(b->ksp, &pc));
  PetscCall(PCGetType(pc, pt));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_bmti_write(const pm_bmti_t *b, pm_output_t *out)
{
  const char *g = "/density/bmti";
  KSPType     kt;
  PCType      pt;

  PetscFunctionBeginUser;
  if (!b->computed) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(solver_names(b, &kt, &pt));
  PetscCall(pm_output_attr_double(out, g, "alpha", b->alpha));
  PetscCall(pm_output_attr_string(out, g, "errors", pm_bmti_err_names[b->errors]));
  PetscCall(pm_output_attr_string(out, g, "ksp_type", kt));
  PetscCall(pm_output_attr_string(out, g, "pc_type", pt));
  PetscCall(pm_output_attr_int(out, g, "iterations", b->its));
  PetscCall(pm_output_attr_double(out, g, "residual_norm", b->rnorm));
  PetscCall(pm_output_attr_double(out, g, "rhs_norm", b->rnorm0));
  PetscCall(pm_output_attr_string(out, g, "converged_reason", KSPConvergedReasons[b->reason]));
  PetscCall(pm_output_attr_int(out, g, "n_edges", b->n_edges));
  PetscCall(pm_output_attr_int(out, g, "n_components", b->n_components));
  PetscCall(pm_output_attr_double(out, g, "weight_min", b->w_min));
  PetscCall(pm_output_attr_double(out, g, "weight_max", b->w_max));
  PetscCall(pm_output_attr_double(out, g, "assemble_seconds", b->t_assemble));
  PetscCall(pm_output_attr_double(out, g, "solve_seconds", b->t_solve));
  PetscCall(pm_output_attr_double(out, g, "total_seconds", b->t_total));
  if (b->errors == PM_BMTI_ERR_PROBE) {
    PetscCall(pm_output_attr_int(out, g, "errors_probes", b->probes));
    PetscCall(pm_output_attr_int(out, g, "errors_probe_iterations", b->probe_its));
  }
  if (b->errors == PM_BMTI_ERR_EXACT) PetscCall(pm_output_attr_int(out, g, "errors_eigenvalues_kept", b->n_kept));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_bmti_view(const pm_bmti_t *b)
{
  KSPType kt;
  PCType  pt;

  PetscFunctionBeginUser;
  if (!b->computed) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(solver_names(b, &kt, &pt));
  PetscCall(PetscPrintf(b->comm, "bmti: alpha %g, %" PRId64 " edges, %" PRId64 " component(s), weights %.3g..%.3g\n", b->alpha, b->n_edges, b->n_components, b->w_min, b->w_max));
  PetscCall(PetscPrintf(b->comm, "bmti: %s/%s %" PetscInt_FMT " iterations, residual %.3g (|b| %.3g), %s; assembly %.3f s (%g mallocs), solve %.3f s, errors (%s) %.3f s\n", kt, pt, b->its, (double)b->rnorm,
                        (double)b->rnorm0, KSPConvergedReasons[b->reason], b->t_assemble, (double)b->mallocs, b->t_solve, pm_bmti_err_names[b->errors], b->t_errors));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_bmti_destroy(pm_bmti_t **b)
{
  PetscFunctionBeginUser;
  if (!*b) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(KSPDestroy(&(*b)->ksp));
  PetscCallMPI(MPI_Comm_free(&(*b)->comm));
  PetscCall(PetscFree(*b));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_bmti_get_stats(const pm_bmti_t *b, PetscInt *its, PetscReal *rnorm, PetscLogDouble *mallocs, pm_gidx_t *n_components)
{
  PetscFunctionBeginUser;
  if (its) *its = b->its;
  if (rnorm) *rnorm = b->rnorm;
  if (mallocs) *mallocs = b->mallocs;
  if (n_components) *n_components = b->n_components;
  PetscFunctionReturn(PETSC_SUCCESS);
}
