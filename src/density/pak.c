/* PAk (ALGORITHMS.md 3.3): per point, maximise L(F, a) = sum_{l=1..k} [(F + a l) - v_l e^{F + a l}]
 * over the k = k*_i shell volumes v_l by damped Newton (learning rate 0.1, step capped at 10% of
 * |F0|, relative gradient tolerance 1e-3), with the fixed-point update when the Hessian is singular.
 * Unlike the reference, every branch counts against the iteration cap (-pak_maxit); points that
 * reach it are counted as failed and keep their last iterate. */
#include "density/density_impl.h"
#include <math.h>
#include <float.h>

#define PAK_TOL     1e-3
#define PAK_LR      0.1
#define PAK_TIE     1e-15 /* numpy finfo(float64).resolution */
#define PAK_EXP_MAX 300.0
#define PAK_VMIN    1e-300

typedef struct {
  double gf, ga, h00, h01, h11, det;
} pak_state_t;

static void shell_volumes(const double *r, int k, double d, double omega, double *v)
{
  for (int l = 1; l <= k; l++) {
    double ratio = r[l - 1] / r[l], e;
    if (fabs(ratio - 1.0) < PAK_TIE) ratio -= 10 * PAK_TIE;
    e = d * log(r[l]) + log(1.0 - pow(ratio, d));
    if (e > PAK_EXP_MAX) e = PAK_EXP_MAX;
    v[l - 1] = omega * exp(e);
  }
}

/* Sums S_m = sum_l l^m v_l e^{F + a l} (m = 0, 1, 2) give the gradient and Hessian. e^{F + a l} is
 * built by the recurrence e^F (e^a)^l in 4 interleaved chains (one exp per call instead of k, and
 * independent multiply-adds), relative difference from direct exps ~k ulps; the direct form is
 * used when a factor could leave the double range. The order of operations depends only on the
 * point's own data, so the result is identical for any rank count. */
static void grad_hess(const double *v, int k, double F, double a, pak_state_t *s)
{
  double S0 = 0.0, S1 = 0.0, S2 = 0.0, kk = (double)k;

  if (exp(F) > 1e-250 && exp(F) < 1e250 && fabs(a) * k < 500.0) {
    double ea = exp(a), e4 = ea * ea * ea * ea, p[4], s0[4] = {0, 0, 0, 0}, s1[4] = {0, 0, 0, 0}, s2[4] = {0, 0, 0, 0};
    int    j = 0;
    p[0] = exp(F) * ea, p[1] = p[0] * ea, p[2] = p[1] * ea, p[3] = p[2] * ea;
    for (; j + 4 <= k; j += 4)
      for (int c = 0; c < 4; c++) {
        double l = (double)(j + c + 1), t = v[j + c] * p[c];
        s0[c] += t;
        s1[c] += l * t;
        s2[c] += l * l * t;
        p[c] *= e4;
      }
    for (int c = 0; j < k; j++, c++) {
      double l = (double)(j + 1), t = v[j] * p[c];
      s0[c] += t;
      s1[c] += l * t;
      s2[c] += l * l * t;
    }
    S0 = (s0[0] + s0[1]) + (s0[2] + s0[3]);
    S1 = (s1[0] + s1[1]) + (s1[2] + s1[3]);
    S2 = (s2[0] + s2[1]) + (s2[2] + s2[3]);
  } else {
    for (int j = 0; j < k; j++) {
      double l = (double)(j + 1), t = v[j] * exp(F + a * l);
      S0 += t;
      S1 += l * t;
      S2 += l * l * t;
    }
  }
  s->gf  = kk - S0;
  s->ga  = (kk + 1) * kk / 2.0 - S1;
  s->h00 = -S0;
  s->h01 = -S1;
  s->h11 = -S2;
  s->det = s->h00 * s->h11 - s->h01 * s->h01;
}

/* Returns the iterations used; *F in/out; *singular set if the fixed-point branch ran. */
static int64_t newton_point(const double *v, int k, double *Fio, PetscInt maxit, PetscBool *converged, PetscBool *singular)
{
  double      F = *Fio, a = 0.0, stepmax = 0.1 * fabs(F), func = 100.0, kk = (double)k, half = kk * (kk + 1) / 2;
  double      i00 = 0, i01 = 0, i10 = 0, i11 = 0;
  int64_t     it = 0;
  pak_state_t s;

  grad_hess(v, k, F, a, &s);
  while (func > PAK_TOL && it < maxit) {
    if (s.det < DBL_EPSILON) {
      *singular = PETSC_TRUE;
      F         = (-a * kk * (kk + 1) / 2 - (s.gf - kk)) / kk;
      a         = (-F * kk - (s.gf - kk)) / half;
    } else {
      double detinv = 1.0 / s.det, df, da, lr = PAK_LR;
      i00 = detinv * s.h11, i10 = -detinv * s.h01, i01 = -detinv * s.h01, i11 = detinv * s.h00;
      df = i00 * s.gf + i01 * s.ga;
      da = i10 * s.gf + i11 * s.ga;
      if (fabs(lr * df) > stepmax) lr = fabs(stepmax / df);
      F -= lr * df;
      a -= lr * da;
    }
    it++;
    grad_hess(v, k, F, a, &s);
    if (fabs(a) <= DBL_EPSILON || fabs(F) <= DBL_EPSILON)
      func = fmax(fabs(s.gf), fabs(s.ga));
    else
      func = fmax(fabs(s.gf / F), fabs(s.ga / a));
  }
  *converged = func <= PAK_TOL ? PETSC_TRUE : PETSC_FALSE;
  *Fio       = F;
  return it;
}

PetscErrorCode pm_den_pak(const pm_graph_t *g, double d, const int64_t *kstar, PetscInt maxit, double *log_den, double *err, pm_gidx_t *nfailed, pm_gidx_t *nskipped, pm_gidx_t *nsingular, int64_t *max_its)
{
  double         omega = pm_den_omega(d), log_omega = log(omega), logN = log((double)g->n_global), *v;
  pm_gidx_t      cnt[3]  = {0, 0, 0}, gcnt[3];
  int64_t        its_max = 0;
  pm_progress_t *prog;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(g->ncol, &v));
  PetscCall(pm_progress_create(g->comm, "density pak", g->n_local, &prog));
  for (pm_gidx_t i = 0; i < g->n_local; i++) {
    const double *r    = g->dist + i * g->ncol;
    int           k    = (int)kstar[i];
    double        F    = log((double)k) - (log_omega + d * log(r[k]));
    PetscBool     skip = PETSC_FALSE, conv = PETSC_TRUE, sing = PETSC_FALSE;

    shell_volumes(r, k, d, omega, v);
    for (int j = 0; j < k; j++)
      if (!(v[j] >= PAK_VMIN)) skip = PETSC_TRUE;
    if (skip)
      cnt[1]++;
    else {
      int64_t it = newton_point(v, k, &F, maxit, &conv, &sing);
      if (it > its_max) its_max = it;
      if (!conv) cnt[0]++;
      if (sing) cnt[2]++;
    }
    log_den[i] = F - logN;
    err[i]     = sqrt((4.0 * k + 2.0) / ((double)k * (k - 1.0)));
    if ((i & 1023) == 0) PetscCall(pm_progress_step(prog, i));
  }
  PetscCall(pm_progress_destroy(&prog));
  PetscCallMPI(MPI_Allreduce(cnt, gcnt, 3, MPI_INT64_T, MPI_SUM, g->comm));
  PetscCallMPI(MPI_Allreduce(&its_max, max_its, 1, MPI_INT64_T, MPI_MAX, g->comm));
  *nfailed   = gcnt[0];
  *nskipped  = gcnt[1];
  *nsingular = gcnt[2];
  PetscCall(PetscFree(v));
  PetscFunctionReturn(PETSC_SUCCESS);
}
