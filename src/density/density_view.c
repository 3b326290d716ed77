/* Rank 0 prints a short summary of every computed estimator (statistics from reproducible sums,
 * so the printed table does not depend on the rank count). */
#include "density/density_impl.h"
#include <math.h>

PetscErrorCode pm_density_view(const pm_density_t *d)
{
  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(d->comm, "density (id used %.6g)\n", d->id_used));
  PetscCall(PetscPrintf(d->comm, "  estimator   mean log rho   min log rho   max log rho   mean error\n"));
  for (int k = 0; k < PM_DEN_COUNT; k++) {
    double s[2], mn = INFINITY, mx = -INFINITY, gmn, gmx;
    if (!d->done[k]) continue;
    PetscCall(pm_sum_repro(d->comm, d->n_local, 1, d->log_den[k], &s[0]));
    PetscCall(pm_sum_repro(d->comm, d->n_local, 1, d->err[k], &s[1]));
    for (pm_gidx_t i = 0; i < d->n_local; i++) {
      mn = fmin(mn, d->log_den[k][i]);
      mx = fmax(mx, d->log_den[k][i]);
    }
    PetscCallMPI(MPI_Allreduce(&mn, &gmn, 1, MPI_DOUBLE, MPI_MIN, d->comm));
    PetscCallMPI(MPI_Allreduce(&mx, &gmx, 1, MPI_DOUBLE, MPI_MAX, d->comm));
    PetscCall(PetscPrintf(d->comm, "  %-9s %14.6f %13.6f %13.6f %12.6f\n", pm_den_kind_names[k], s[0] / (double)d->n_global, gmn, gmx, s[1] / (double)d->n_global));
  }
  if (d->kstar_is_test)
    PetscCall(PetscPrintf(d->comm, "  k*: min %" PRId64 ", max %" PRId64 ", %" PRId64 " points at the cap %d (alpha %g, Dthr %.6g)\n", d->kstar_min, d->kstar_max, d->kstar_capped, d->graph_k - 1, d->kstar_alpha, d->dthr));
  if (d->done[PM_DEN_PAK])
    PetscCall(PetscPrintf(d->comm, "  PAk: %" PRId64 " not converged, %" PRId64 " skipped (zero shell volume), %" PRId64 " singular Hessian, at most %" PRId64 " iterations\n", d->pak_failed, d->pak_skipped, d->pak_singular, d->pak_max_its));
  if (d->done[PM_DEN_BMTI]) PetscCall(pm_bmti_view(d->bmti));
  PetscFunctionReturn(PETSC_SUCCESS);
}
