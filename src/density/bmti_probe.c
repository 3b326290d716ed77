/* BMTI probing errors (-bmti_errors probe): the diagonal of the untruncated pseudo-inverse P = A^+
 * of the system matrix, estimated with random +-1 vectors (counter-based, keyed by seed, vector and
 * global index, so the same vectors on any number of ranks) in the diag++ scheme: a sketch Y = P Z
 * of r vectors gives an orthonormal basis Q of P's dominant (smooth, low-eigenvalue) part, whose
 * diagonal diag(Q (P Q)^T) is exact, and s more vectors estimate the rest, diag((I - QQ^T) P), by
 * Hutchinson's z * ((I - QQ^T) P z). Plain Hutchinson fails here: P's rows are dominated by the
 * smooth modes, so its error is several times the value. -bmti_errors_probes m: r = 2m/3, s = m - r;
 * 2r + s solves with one KSP whose preconditioner is set up once. With alpha = 1 the vectors are
 * projected off the per-component constants before and after the (pinned) solve, which applies the
 * pseudo-inverse exactly.
 * Cost (measured, docs/bmti.md): the probe solves stop at rtol 1e-2 (the estimator's own noise is
 * several %; 1e-5 gives the same error), with their own CG + BoomerAMG (prefix bmti_probe_: two
 * levels of aggressive coarsening and a Chebyshev smoother, 40% cheaper per probe solve). */
#include "density/bmti_impl.h"

#define PROBE_RTOL       1e-2  /* relative tolerance of the probe solves (-bmti_probe_ksp_rtol) */
#define PROBE_FAST_COMPS 65536 /* components up to which the projection uses one dense allreduce */

typedef struct {
  pm_bmti_t   *b;
  bmti_work_t *w;
  KSP          ksp; /* the probe solves' KSP (own, or the solve's) */
  PetscBool    pin;
  PetscInt     r, s;
  Vec          zt;
  double      *csum; /* per-component sums and counts (fast projection), 2 n_comp */
  double      *zero; /* zeros (reference of bmti_shift) */
} probe_t;

static double rademacher(uint64_t seed, uint64_t probe, pm_gidx_t i)
{
  uint64_t z = pm_mix64(seed * 0xd1342543de82ef95ULL + probe * 0x9e3779b97f4a7c15ULL + 0xbf58476d1ce4e5b9ULL * (uint64_t)(i + 1));
  return (z >> 63) ? 1.0 : -1.0;
}

static PetscErrorCode fill_random(probe_t *p, PetscInt probe, Vec z)
{
  PetscScalar *zz;

  PetscFunctionBeginUser;
  PetscCall(VecGetArray(z, &zz));
  for (pm_gidx_t i = 0; i < p->w->n_local; i++) zz[i] = rademacher((uint64_t)p->b->seed, (uint64_t)probe, p->w->row_start + i);
  PetscCall(VecRestoreArray(z, &zz));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Remove the per-component mean of x (alpha = 1). Up to PROBE_FAST_COMPS components: one
 * allreduce of the per-component sums (the probe solves' tolerance dominates the round-off);
 * beyond, the batched reproducible bmti_shift. Collective. */
static PetscErrorCode project(probe_t *p, Vec x)
{
  bmti_work_t *w = p->w;
  PetscScalar *a;

  PetscFunctionBeginUser;
  PetscCall(VecGetArray(x, &a));
  if (w->n_comp > PROBE_FAST_COMPS) {
    PetscCall(bmti_shift(w, p->zero, a));
  } else {
    PetscCall(PetscArrayzero(p->csum, 2 * w->n_comp));
    for (pm_gidx_t i = 0; i < w->n_local; i++) {
      p->csum[2 * w->comp[i]] += a[i];
      p->csum[2 * w->comp[i] + 1] += 1.0;
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, p->csum, (int)(2 * w->n_comp), MPI_DOUBLE, MPI_SUM, w->comm));
    for (pm_gidx_t i = 0; i < w->n_local; i++) a[i] -= p->csum[2 * w->comp[i]] / p->csum[2 * w->comp[i] + 1];
  }
  PetscCall(VecRestoreArray(x, &a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* x = A^+ z (z is not modified). Collective. */
static PetscErrorCode apply_pinv(probe_t *p, Vec z, Vec x)
{
  bmti_work_t       *w = p->w;
  PetscInt           its;
  KSPConvergedReason reason;

  PetscFunctionBeginUser;
  PetscCall(VecCopy(z, p->zt));
  if (p->pin) { /* zt in the range of A, root rows (pinned to 0) zero */
    PetscScalar *a;
    PetscCall(project(p, p->zt));
    PetscCall(VecGetArray(p->zt, &a));
    for (pm_gidx_t i = 0; i < w->n_local; i++)
      if (w->label[i] == w->row_start + i) a[i] = 0;
    PetscCall(VecRestoreArray(p->zt, &a));
  }
  PetscCall(KSPSolve(p->ksp, p->zt, x));
  PetscCall(KSPGetConvergedReason(p->ksp, &reason));
  PetscCall(KSPGetIterationNumber(p->ksp, &its));
  PetscCheck(reason > 0, w->comm, PETSC_ERR_NOT_CONVERGED, "BMTI probe errors: a solve did not converge (%s after %" PetscInt_FMT " iterations); raise -bmti_probe_ksp_max_it or change -bmti_probe_pc_type (-bmti_ksp_max_it, -bmti_pc_type when -bmti_pc_type is not hypre)", KSPConvergedReasons[reason], its);
  p->b->probe_its += its;
  if (p->pin) PetscCall(project(p, x));
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

/* diag += diag(Q (P Q)^T): the exact part. Collective. */
static PetscErrorCode exact_part(probe_t *p, Vec *Q, PetscInt q, Vec x, double *diag)
{
  const PetscScalar *qa, *xa;

  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < q; j++) {
    PetscCall(apply_pinv(p, Q[j], x));
    PetscCall(VecGetArrayRead(Q[j], &qa));
    PetscCall(VecGetArrayRead(x, &xa));
    for (pm_gidx_t i = 0; i < p->w->n_local; i++) diag[i] += qa[i] * xa[i];
    PetscCall(VecRestoreArrayRead(x, &xa));
    PetscCall(VecRestoreArrayRead(Q[j], &qa));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* diag += mean over s vectors of z * ((I - QQ^T) P z): Hutchinson on the rest. Collective. */
static PetscErrorCode hutchinson(probe_t *p, Vec *Q, PetscInt q, Vec z, Vec x, double *diag)
{
  PetscScalar       *h;
  const PetscScalar *xa, *za;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(q + 1, &h));
  for (PetscInt t = 0; t < p->s; t++) {
    PetscCall(fill_random(p, p->r + t, z));
    PetscCall(apply_pinv(p, z, x));
    if (q > 0) {
      PetscCall(VecMDot(x, q, Q, h));
      for (PetscInt j = 0; j < q; j++) h[j] = -h[j];
      PetscCall(VecMAXPY(x, q, h, Q));
    }
    PetscCall(VecGetArrayRead(z, &za));
    PetscCall(VecGetArrayRead(x, &xa));
    for (pm_gidx_t i = 0; i < p->w->n_local; i++) diag[i] += za[i] * xa[i] / (double)p->s;
    PetscCall(VecRestoreArrayRead(x, &xa));
    PetscCall(VecRestoreArrayRead(z, &za));
  }
  PetscCall(PetscFree(h));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The KSP of the probe solves. With the default hypre PC: its own CG + BoomerAMG (prefix
 * bmti_probe_, rtol PROBE_RTOL, the solve's max_it), set up once for all probes; with any other PC
 * the user chose for the solve: that KSP (rtol at least PROBE_RTOL). Collective. */
static PetscErrorCode probe_ksp_create(pm_bmti_t *b, Mat A, KSP *kp)
{
  PC        pc;
  PetscBool hypre;
  PetscReal rtol, atol, dtol;
  PetscInt  maxit;

  PetscFunctionBeginUser;
  PetscCall(KSPGetPC(b->ksp, &pc));
  PetscCall(PetscObjectTypeCompare((PetscObject)pc, PCHYPRE, &hypre));
  PetscCall(KSPGetTolerances(b->ksp, &rtol, &atol, &dtol, &maxit));
  if (!hypre) {
    *kp = b->ksp;
    PetscCall(PetscObjectReference((PetscObject)b->ksp));
    PetscCall(KSPSetTolerances(b->ksp, PetscMax(rtol, PROBE_RTOL), atol, dtol, maxit));
    PetscCall(KSPSetInitialGuessNonzero(b->ksp, PETSC_FALSE));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(KSPCreate(PetscObjectComm((PetscObject)A), kp));
  PetscCall(KSPSetType(*kp, KSPCG));
  PetscCall(KSPGetPC(*kp, &pc));
  PetscCall(PCSetType(pc, PCHYPRE));
  PetscCall(KSPSetTolerances(*kp, PROBE_RTOL, PETSC_DEFAULT, PETSC_DEFAULT, maxit));
  PetscCall(KSPSetOptionsPrefix(*kp, "bmti_probe_"));
  PetscCall(KSPSetFromOptions(*kp));
  PetscCall(PetscObjectTypeCompare((PetscObject)pc, PCHYPRE, &hypre));
  if (hypre) { /* injected options that nobody reads would be reported as unused */
    /* the solve's BoomerAMG with agg_nl 2 and a Chebyshev smoother: 40% cheaper per probe solve
       on the 20-D timing set (docs/bmti.md); a value given on the command line wins */
    PetscCall(bmti_hypre_defaults("bmti_probe_", 2, PETSC_TRUE));
    PetscCall(PCSetFromOptions(pc));
  }
  PetscCall(KSPSetOperators(*kp, A, A));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode bmti_errors_probe(pm_bmti_t *b, bmti_work_t *w, Mat A, double *err)
{
  probe_t   p = {.b = b, .w = w, .pin = (PetscBool)(b->alpha == 1.0)};
  PetscInt  m = b->probes, q = 0, maxit;
  Vec      *Q, z, x;
  double   *diag, c0 = pm_cpu_time();
  PetscReal rtol, atol, dtol, prtol;

  PetscFunctionBeginUser;
  p.r = PetscMax(1, (2 * m) / 3);
  p.s = PetscMax(1, m - p.r);
  PetscCall(KSPGetTolerances(b->ksp, &rtol, &atol, &dtol, &maxit));
  PetscCall(probe_ksp_create(b, A, &p.ksp));
  PetscCall(KSPGetTolerances(p.ksp, &prtol, NULL, NULL, NULL));
  PetscCall(MatCreateVecs(A, &x, &z));
  PetscCall(VecDuplicate(z, &p.zt));
  PetscCall(VecDuplicateVecs(z, p.r, &Q));
  PetscCall(PetscCalloc2(w->n_local + 1, &diag, w->n_local + 1, &p.zero));
  PetscCall(PetscMalloc1(2 * PetscMin(w->n_comp, (pm_gidx_t)PROBE_FAST_COMPS) + 1, &p.csum));
  b->probe_its = 0;
  for (PetscInt j = 0; j < p.r; j++) { /* sketch Y = P Z */
    PetscCall(fill_random(&p, j, z));
    PetscCall(apply_pinv(&p, z, Q[j]));
  }
  PetscCall(orthonormalise(p.r, Q, &q));
  PetscCall(exact_part(&p, Q, q, x, diag));
  PetscCall(hutchinson(&p, Q, q, z, x, diag));
  for (pm_gidx_t i = 0; i < w->n_local; i++) err[i] = PetscSqrtReal(PetscMax(0.0, diag[i]));
  PetscCall(PetscInfo(NULL, "BMTI probe: %" PetscInt_FMT " sketch (%" PetscInt_FMT " kept) and %" PetscInt_FMT " Hutchinson vectors, %" PetscInt_FMT " solves, %" PetscInt_FMT " iterations (rtol %g), %.3f CPU s\n", p.r, q, p.s, p.r + q + p.s, b->probe_its, (double)prtol, pm_cpu_time() - c0));
  PetscCall(KSPSetInitialGuessNonzero(b->ksp, PETSC_TRUE));
  PetscCall(KSPSetTolerances(b->ksp, rtol, atol, dtol, maxit));
  PetscCall(KSPDestroy(&p.ksp));
  PetscCall(PetscFree(p.csum));
  PetscCall(PetscFree2(diag, p.zero));
  PetscCall(VecDestroyVecs(p.r, &Q));
  PetscCall(VecDestroy(&p.zt));
  PetscCall(VecDestroy(&x));
  PetscCall(VecDestroy(&z));
  PetscFunctionReturn(PETSC_SUCCESS);
}
