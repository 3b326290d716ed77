/* BMTI probing errors (-bmti_errors probe): the diagonal of the untruncated pseudo-inverse of the
 * system matrix estimated from random +-1 probing vectors z (counter-based, keyed by seed, probe
 * and global index, so independent of the partition): diag ~ mean_s z_s * A^+ z_s. Each A^+ z is
 * one solve with the same KSP; with alpha = 1 the vectors are projected off the per-component
 * constants before and after the (pinned) solve, which gives the pseudo-inverse exactly. */
#include "density/bmti_impl.h"

static double rademacher(uint64_t seed, uint64_t probe, pm_gidx_t i)
{
  uint64_t z = seed * 0xd1342543de82ef95ULL + probe * 0x9e3779b97f4a7c15ULL + 0xbf58476d1ce4e5b9ULL * (uint64_t)(i + 1);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (z >> 63) ? 1.0 : -1.0;
}

PetscErrorCode bmti_errors_probe(pm_bmti_t *b, bmti_work_t *w, Mat A, double *err)
{
  Vec          z, x;
  PetscScalar *zz;
  double      *acc, *zero, *tmp;
  PetscBool    pin = (PetscBool)(b->alpha == 1.0);
  PetscInt     its;
  KSPConvergedReason reason;

  PetscFunctionBeginUser;
  PetscCall(MatCreateVecs(A, &x, &z));
  PetscCall(PetscCalloc3(w->n_local + 1, &acc, w->n_local + 1, &zero, w->n_local + 1, &tmp));
  PetscCall(KSPSetInitialGuessNonzero(b->ksp, PETSC_FALSE));
  b->probe_its = 0;
  for (PetscInt s = 0; s < b->probes; s++) {
    PetscCall(VecGetArray(z, &zz));
    for (pm_gidx_t i = 0; i < w->n_local; i++) tmp[i] = rademacher((uint64_t)b->seed, (uint64_t)s, w->row_start + i);
    for (pm_gidx_t i = 0; i < w->n_local; i++) zz[i] = tmp[i];
    if (pin) {
      PetscCall(bmti_shift(w, zero, zz)); /* remove the per-component mean: z in the range of A */
      for (pm_gidx_t i = 0; i < w->n_local; i++)
        if (w->label[i] == w->row_start + i) zz[i] = 0;
    }
    PetscCall(VecRestoreArray(z, &zz));
    PetscCall(KSPSolve(b->ksp, z, x));
    PetscCall(KSPGetConvergedReason(b->ksp, &reason));
    PetscCall(KSPGetIterationNumber(b->ksp, &its));
    PetscCheck(reason > 0, w->comm, PETSC_ERR_NOT_CONVERGED, "BMTI probe errors: solve %" PetscInt_FMT " did not converge (%s after %" PetscInt_FMT " iterations); raise -bmti_ksp_max_it or change -bmti_pc_type", s,
               KSPConvergedReasons[reason], its);
    b->probe_its += its;
    PetscCall(VecGetArray(x, &zz));
    if (pin) PetscCall(bmti_shift(w, zero, zz));
    for (pm_gidx_t i = 0; i < w->n_local; i++) acc[i] += tmp[i] * zz[i];
    PetscCall(VecRestoreArray(x, &zz));
  }
  for (pm_gidx_t i = 0; i < w->n_local; i++) err[i] = PetscSqrtReal(PetscMax(0.0, acc[i] / (double)b->probes));
  PetscCall(KSPSetInitialGuessNonzero(b->ksp, PETSC_TRUE));
  PetscCall(PetscFree3(acc, zero, tmp));
  PetscCall(VecDestroy(&x));
  PetscCall(VecDestroy(&z));
  PetscFunctionReturn(PETSC_SUCCESS);
}
