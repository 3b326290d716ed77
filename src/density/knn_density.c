/* kNN / k*NN density (ALGORITHMS.md 3.2) with a per-point neighbour count k_i:
 * log rho_i = log k_i - (log omega_d + d log r_{k_i}(i)) - log N, error 1/sqrt(k_i). */
#include "density/density_impl.h"
#include <math.h>

PetscErrorCode pm_den_knn(const pm_graph_t *g, double d, const int64_t *k, double *log_den, double *err)
{
  double    log_omega = log(pm_den_omega(d)), logN = log((double)g->n_global);
  char      why[PM_REASON_MAX] = "";
  PetscBool ok                 = PETSC_TRUE;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < g->n_local; i++) {
    double rk = g->dist[i * g->ncol + k[i]];
    if (!(rk > 0.0) && ok) {
      ok = PETSC_FALSE;
      PetscCall(PetscSNPrintf(why, sizeof why,
                              "density: point %" PRId64 " has distance 0 to its %" PRId64 "-th neighbour (identical points), so its density is infinite; "
                              "remove duplicates with -duplicates drop",
                              g->row_start + i, k[i]));
    }
    log_den[i] = log((double)k[i]) - (log_omega + d * log(rk)) - logN;
    err[i]     = 1.0 / sqrt((double)k[i]);
  }
  PetscCall(pm_agree(g->comm, ok, why));
  PetscFunctionReturn(PETSC_SUCCESS);
}
