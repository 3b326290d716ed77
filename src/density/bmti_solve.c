/* BMTI solve with the KSP under prefix bmti_, and the per-component constant of alpha = 1. */
#include "density/bmti_impl.h"

/* Initial guess: the reference (k*NN) log density; with pinned roots, relative to the root of the
 * component so the pinned value 0 is consistent. Collective. */
static PetscErrorCode initial_guess(bmti_work_t *w, const double *ref, PetscBool pin, Vec x)
{
  PetscScalar *xx;
  double      *root_ref = NULL;

  PetscFunctionBeginUser;
  if (pin) {
    PetscCall(PetscMalloc1(w->n_local + 1, &root_ref));
    PetscCall(pm_fetch_rows(w->comm, w->N, w->row_start, w->n_local, ref, sizeof(double), 1, w->n_local, w->label, root_ref));
  }
  PetscCall(VecGetArray(x, &xx));
  for (pm_gidx_t i = 0; i < w->n_local; i++) xx[i] = pin ? ref[i] - root_ref[i] : ref[i];
  PetscCall(VecRestoreArray(x, &xx));
  PetscCall(PetscFree(root_ref));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Solve A x = rhs; a solve that does not converge is an error naming the reason. Collective. */
PetscErrorCode bmti_solve(pm_bmti_t *b, bmti_work_t *w, Mat A, Vec rhs, const double *ref, double *log_den)
{
  Vec                x;
  const PetscScalar *xx;
  PetscBool          pin = (PetscBool)(b->alpha == 1.0);

  PetscFunctionBeginUser;
  PetscCall(VecDuplicate(rhs, &x));
  PetscCall(initial_guess(w, ref, pin, x));
  PetscCall(KSPSetOperators(b->ksp, A, A));
  PetscCall(KSPSetInitialGuessNonzero(b->ksp, PETSC_TRUE));
  PetscCall(VecNorm(rhs, NORM_2, &b->rnorm0));
  PetscCall(KSPSolve(b->ksp, rhs, x));
  PetscCall(KSPGetConvergedReason(b->ksp, &b->reason));
  PetscCall(KSPGetIterationNumber(b->ksp, &b->its));
  PetscCall(KSPGetResidualNorm(b->ksp, &b->rnorm));
  PetscCheck(b->reason > 0, w->comm, PETSC_ERR_NOT_CONVERGED,
             "BMTI: the linear solve did not converge (%s after %" PetscInt_FMT " iterations, residual norm %g, |b| %g); raise -bmti_ksp_max_it, loosen -bmti_ksp_rtol or change -bmti_pc_type",
             KSPConvergedReasons[b->reason], b->its, (double)b->rnorm, (double)b->rnorm0);
  PetscCall(VecGetArrayRead(x, &xx));
  for (pm_gidx_t i = 0; i < w->n_local; i++) log_den[i] = xx[i];
  PetscCall(VecRestoreArrayRead(x, &xx));
  PetscCall(VecDestroy(&x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

#define SHIFT_BATCH 32

/* Shift every component so that its mean equals the mean of ref over the same points; the means
 * are reproducible sums (pm_sum_repro), computed for SHIFT_BATCH components at a time. Collective. */
PetscErrorCode bmti_shift(bmti_work_t *w, const double *ref, double *log_den)
{
  double   *vals, *sums;
  pm_gidx_t nbmax = PetscMin((pm_gidx_t)SHIFT_BATCH, w->n_comp);

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(3 * nbmax * (w->n_local + 1), &vals, 3 * nbmax + 1, &sums));
  for (pm_gidx_t c0 = 0; c0 < w->n_comp; c0 += SHIFT_BATCH) {
    int     nb = (int)PetscMin((pm_gidx_t)SHIFT_BATCH, w->n_comp - c0);
    double *shift;
    PetscCall(PetscArrayzero(vals, 3 * nb * w->n_local));
    for (pm_gidx_t i = 0; i < w->n_local; i++) {
      pm_gidx_t c = w->comp[i] - c0;
      if (c < 0 || c >= nb) continue;
      vals[(3 * c) * w->n_local + i]     = log_den[i];
      vals[(3 * c + 1) * w->n_local + i] = ref[i];
      vals[(3 * c + 2) * w->n_local + i] = 1.0;
    }
    PetscCall(pm_sum_repro(w->comm, w->n_local, 3 * nb, vals, sums));
    PetscCall(PetscMalloc1(nb, &shift));
    for (int c = 0; c < nb; c++) shift[c] = (sums[3 * c + 1] - sums[3 * c]) / sums[3 * c + 2];
    for (pm_gidx_t i = 0; i < w->n_local; i++) {
      pm_gidx_t c = w->comp[i] - c0;
      if (c >= 0 && c < nb) log_den[i] += shift[c];
    }
    PetscCall(PetscFree(shift));
  }
  PetscCall(PetscFree2(vals, sums));
  PetscFunctionReturn(PETSC_SUCCESS);
}
