/* BMTI probing errors (-bmti_errors probe): the diagonal of the untruncated pseudo-inverse P = A^+
 * of the system matrix, estimated with random +-1 vectors (counter-based, keyed by seed, vector and
 * global index, so the same vectors on any number of ranks) in the diag++ scheme: a sketch Y = P Z
 * of r vectors gives an orthonormal basis Q of P's dominant (smooth, low-eigenvalue) part, whose
 * diagonal diag(Q (P Q)^T) is exact, and s more vectors estimate the rest, diag((I - QQ^T) P), by
 * Hutchinson's z * ((I - QQ^T) P z). Plain Hutchinson fails here: P's rows are dominated by the
 * smooth modes, so its error is several times the value. -bmti_errors_probes m: r = 2m/3, s = m - r;
 * 2r + s solves with the same KSP. With alpha = 1 the vectors are projected off the per-component
 * constants before and after the (pinned) solve, which applies the pseudo-inverse exactly. */
#include "density/bmti_impl.h"

static double rademacher(uint64_t seed, uint64_t probe, pm_gidx_t i)
{
  uint64_t z = seed * 0xd1342543de82ef95ULL + probe * 0x9e3779b97f4a7c15ULL + 0xbf58476d1ce4e5b9ULL * (uint64_t)(i + 1);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (z >> 63) ? 1.0 : -1.0;
}

static PetscErrorCode fill_random(pm_bmti_t *b, bmti_work_t *w, PetscInt probe, Vec z)
{
  PetscScalar *zz;

  PetscFunctionBeginUser;
  PetscCall(VecGetArray(z, &zz));
  for (pm_gidx_t i = 0; i < w->n_local; i++) zz[i] = rademacher((uint64_t)b->seed, (uint64_t)probe, w->row_start + i);
  PetscCall(VecRestoreArray(z, &zz));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* x = A^+ z (z is not modified). Collective. */
static PetscErrorCode apply_pinv(pm_bmti_t *b, bmti_work_t *w, Vec z, Vec zt, Vec x, double *zero)
{
  PetscScalar       *p;
  PetscInt           its;
  KSPConvergedReason reason;
  PetscBool          pin = (PetscBool)(b->alpha == 1.0);

  PetscFunctionBeginUser;
  PetscCall(VecCopy(z, zt));
  if (pin) {
    PetscCall(VecGetArray(zt, &p));
    PetscCall(bmti_shift(w, zero, p)); /* remove the per-component mean: zt in the range of A */
    for (pm_gidx_t i = 0; i < w->n_local; i++)
      if (w->label[i] == w->row_start + i) p[i] = 0;
    PetscCall(VecRestoreArray(zt, &p));
  }
  PetscCall(KSPSolve(b->ksp, zt, x));
  PetscCall(KSPGetConvergedReason(b->ksp, &reason));
  PetscCall(KSPGetIterationNumber(b->ksp, &its));
  PetscCheck(reason > 0, w->comm, PETSC_ERR_NOT_CONVERGED, "BMTI probe errors: a solve did not converge (%s after %" PetscInt_FMT " iterations); raise -bmti_ksp_max_it or change -bmti_pc_type", KSPConvergedReasons[reason], its);
  b->probe_its += its;
  if (pin) {
    PetscCall(VecGetArray(x, &p));
    PetscCall(bmti_shift(w, zero, p));
    PetscCall(VecRestoreArray(x, &p));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Orthonormalise the r vectors of Y in place (classical Gram-Schmidt, twice); vectors that vanish
 * (rank deficiency) are dropped. Returns the number kept. Collective. */
static PetscErrorCode orthonormalise(PetscInt r, Vec *Y, PetscInt *kept)
{
  PetscScalar *h;
  PetscInt     k = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(r + 1, &h));
  for (PetscInt j = 0; j < r; j++) {
    PetscReal n0, n1;
    PetscCall(VecNorm(Y[j], NORM_2, &n0));
    for (int pass = 0; pass < 2 && k > 0; pass++) {
      PetscCall(VecMDot(Y[j], k, Y, h));
      for (PetscInt i = 0; i < k; i++) h[i] = -h[i];
      PetscCall(VecMAXPY(Y[j], k, h, Y));
    }
    PetscCall(VecNorm(Y[j], NORM_2, &n1));
    if (!(n1 > 1e-10 * n0)) continue;
    PetscCall(VecScale(Y[j], 1.0 / n1));
    if (j != k) PetscCall(VecSwap(Y[j], Y[k]));
    k++;
  }
  PetscCall(PetscFree(h));
  *kept = k;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode bmti_errors_probe(pm_bmti_t *b, bmti_work_t *w, Mat A, double *err)
{
  PetscInt           m = b->probes, r = PetscMax(1, (2 * m) / 3), s = PetscMax(1, m - r), q = 0, maxit;
  Vec               *Q, z, zt, x;
  PetscScalar       *h;
  const PetscScalar *qa, *xa, *za;
  double            *diag, *zero;
  PetscReal          rtol, atol, dtol;

  PetscFunctionBeginUser;
  /* an error estimate needs a few digits, not the solution's: solve the probes to 1e-5 at most */
  PetscCall(KSPGetTolerances(b->ksp, &rtol, &atol, &dtol, &maxit));
  PetscCall(KSPSetTolerances(b->ksp, PetscMax(rtol, 1e-5), atol, dtol, maxit));
  PetscCall(MatCreateVecs(A, &x, &z));
  PetscCall(VecDuplicate(z, &zt));
  PetscCall(VecDuplicateVecs(z, r, &Q));
  PetscCall(PetscCalloc2(w->n_local + 1, &diag, w->n_local + 1, &zero));
  PetscCall(PetscMalloc1(r + 1, &h));
  PetscCall(KSPSetInitialGuessNonzero(b->ksp, PETSC_FALSE));
  b->probe_its = 0;
  for (PetscInt j = 0; j < r; j++) { /* sketch Y = P Z */
    PetscCall(fill_random(b, w, j, z));
    PetscCall(apply_pinv(b, w, z, zt, Q[j], zero));
  }
  PetscCall(orthonormalise(r, Q, &q));
  for (PetscInt j = 0; j < q; j++) { /* exact part: diag(Q (P Q)^T) */
    PetscCall(apply_pinv(b, w, Q[j], zt, x, zero));
    PetscCall(VecGetArrayRead(Q[j], &qa));
    PetscCall(VecGetArrayRead(x, &xa));
    for (pm_gidx_t i = 0; i < w->n_local; i++) diag[i] += qa[i] * xa[i];
    PetscCall(VecRestoreArrayRead(x, &xa));
    PetscCall(VecRestoreArrayRead(Q[j], &qa));
  }
  for (PetscInt t = 0; t < s; t++) { /* rest: Hutchinson on (I - QQ^T) P */
    PetscCall(fill_random(b, w, r + t, z));
    PetscCall(apply_pinv(b, w, z, zt, x, zero));
    PetscCall(VecMDot(x, q, Q, h));
    for (PetscInt j = 0; j < q; j++) h[j] = -h[j];
    PetscCall(VecMAXPY(x, q, h, Q));
    PetscCall(VecGetArrayRead(z, &za));
    PetscCall(VecGetArrayRead(x, &xa));
    for (pm_gidx_t i = 0; i < w->n_local; i++) diag[i] += za[i] * xa[i] / (double)s;
    PetscCall(VecRestoreArrayRead(x, &xa));
    PetscCall(VecRestoreArrayRead(z, &za));
  }
  for (pm_gidx_t i = 0; i < w->n_local; i++) err[i] = PetscSqrtReal(PetscMax(0.0, diag[i]));
  PetscCall(KSPSetInitialGuessNonzero(b->ksp, PETSC_TRUE));
  PetscCall(KSPSetTolerances(b->ksp, rtol, atol, dtol, maxit));
  PetscCall(PetscFree(h));
  PetscCall(PetscFree2(diag, zero));
  PetscCall(VecDestroyVecs(r, &Q));
  PetscCall(VecDestroy(&zt));
  PetscCall(VecDestroy(&x));
  PetscCall(VecDestroy(&z));
  PetscFunctionReturn(PETSC_SUCCESS);
}
