/* BMTI log-density differences along edges, their variances with the Jaccard-based correlation
 * sign, and the edge weights (spec 3.5 (b)-(f), delta_F_inv_cov = "uncorr"). */
#include "density/bmti_impl.h"

/* Gradients and k* of the halo (one exchange each). Collective. */
PetscErrorCode bmti_halo_fetch(bmti_work_t *w)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(w->n_halo * w->D + 1, &w->hg));
  PetscCall(PetscMalloc1(w->n_halo + 1, &w->hk));
  PetscCall(pm_fetch_rows(w->comm, w->N, w->row_start, w->n_local, w->grad, sizeof(double), w->D, w->n_halo, w->halo, w->hg));
  PetscCall(pm_fetch_rows(w->comm, w->N, w->row_start, w->n_local, w->kstar, sizeof(int64_t), 1, w->n_halo, w->halo, w->hk));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static double sign_of(double x)
{
  return (double)((x > 0) - (x < 0));
}

/* dF_e = (g_i + g_j).D_e / 2, sigma_e^2 = (v_i + v_j + 2 p_e sqrt(v_i v_j)) / 4 with
 * p_e = s_e sign((g_i.D_e)(g_j.D_e)), s_e = c_e / (k*_i + k*_j - c_e), w_e = 1 / (sigma_e^2
 * sqrt(k*_i k*_j)); then dF and w are sent to the owners of the targets. Collective. */
PetscErrorCode bmti_deltaf(bmti_work_t *w, const int64_t *common, double *wmin, double *wmax)
{
  const int D                  = w->D;
  char      why[PM_REASON_MAX] = "";
  PetscBool ok                 = PETSC_TRUE;
  double    lo = PETSC_MAX_REAL, hi = 0, mm[2], gm[2];

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc4(w->n_out + 1, &w->dF, w->n_out + 1, &w->w, w->n_in + 1, &w->dF_in, w->n_in + 1, &w->w_in));
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    const double *xi = w->x + i * D, *gi = w->grad + i * D;
    double        ki = (double)w->kstar[i];
    for (pm_gidx_t e = w->eptr[i]; e < w->eptr[i + 1]; e++) {
      pm_gidx_t     h  = w->eh[e];
      const double *xj = w->hx + h * D, *gj = w->hg + h * D;
      double        kj = (double)w->hk[h], pi = 0, pj = 0, f = 0, sim, p, var;
      for (int a = 0; a < D; a++) {
        double d = xj[a] - xi[a];
        pi += gi[a] * d;
        pj += gj[a] * d;
        f += (gi[a] + gj[a]) * d;
      }
      sim      = (double)common[e] / (ki + kj - (double)common[e]);
      p        = sim * sign_of(pi * pj);
      var      = 0.25 * (w->v_src[e] + w->v_tgt[e] + 2.0 * p * PetscSqrtReal(w->v_src[e] * w->v_tgt[e]));
      w->dF[e] = 0.5 * f;
      w->w[e]  = 1.0 / (var * PetscSqrtReal(ki * kj));
      if (ok && !(var > 0 && PetscIsNormalReal(w->w[e]))) {
        ok = PETSC_FALSE;
        PetscCall(PetscSNPrintf(why, sizeof why, "BMTI: the log-density difference between points %" PRId64 " and %" PRId64 " has variance %g; duplicate or degenerate points? (try -duplicates drop)", w->row_start + i, w->etgt[e], var));
      }
      if (ok) {
        lo = PetscMin(lo, w->w[e]);
        hi = PetscMax(hi, w->w[e]);
      }
    }
  }
  PetscCall(pm_agree(w->comm, ok, why));
  mm[0] = -lo;
  mm[1] = hi;
  PetscCallMPI(MPI_Allreduce(mm, gm, 2, MPI_DOUBLE, MPI_MAX, w->comm));
  *wmin = -gm[0];
  *wmax = gm[1];
  PetscCall(bmti_exchange_to_targets(w, w->dF, w->dF_in));
  PetscCall(bmti_exchange_to_targets(w, w->w, w->w_in));
  PetscFunctionReturn(PETSC_SUCCESS);
}
