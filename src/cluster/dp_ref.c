/* Serial twin of the density-peaks decision graph (test oracle): first higher point of the row,
 * else brute force over every point of higher log density; global maxima get 1.05 max(delta). */
#include "dpa.h"

PetscErrorCode pm_dp_delta_ref(pm_gidx_t n, int dim, const double *X, int ncol, const pm_gidx_t *ind, const double *dist, const double *log_den, double *delta, pm_gidx_t *ref)
{
  double dmax = 0.0;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < n; i++) {
    double best = PETSC_MAX_REAL;
    ref[i]      = -1;
    for (int r = 1; r < ncol && ref[i] < 0; r++)
      if (log_den[ind[i * ncol + r]] > log_den[i]) {
        ref[i]   = ind[i * ncol + r];
        delta[i] = dist[i * ncol + r];
      }
    if (ref[i] >= 0) continue;
    for (pm_gidx_t j = 0; j < n; j++) {
      double d2 = 0.0;
      if (!(log_den[j] > log_den[i])) continue;
      for (int k = 0; k < dim; k++) d2 += (X[j * dim + k] - X[i * dim + k]) * (X[j * dim + k] - X[i * dim + k]);
      if (d2 < best) {
        best   = d2;
        ref[i] = j;
      }
    }
    if (ref[i] >= 0) delta[i] = PetscSqrtReal(best);
  }
  for (pm_gidx_t i = 0; i < n; i++)
    if (ref[i] >= 0) dmax = PetscMax(dmax, delta[i]);
  for (pm_gidx_t i = 0; i < n; i++)
    if (ref[i] < 0) delta[i] = 1.05 * dmax;
  PetscFunctionReturn(PETSC_SUCCESS);
}
