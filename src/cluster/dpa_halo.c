/* DPA step 6: final labels (survivors renumbered in their original order), optional halo (points of
 * cluster j below the highest saddle of j get -1), populations and per-cluster peak data. */
#include "dpa_impl.h"

PetscErrorCode dpa_finish(dpa_work_t *w, const int64_t *absorbed_by, const int64_t *final_of_pre, const double *halo_cut, pm_dpa_result_t *res)
{
  int64_t K = res->K, *pop;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc5(K + 1, &res->center, K + 1, &res->population, K + 1, &res->core_population, K + 1, &res->peak_log_den, K + 1, &res->peak_err));
  for (int64_t c = 0; c < w->K_pre; c++) {
    int64_t f = final_of_pre[c];
    if (absorbed_by[c] < 0) {
      res->center[f]       = w->cen[c];
      res->peak_log_den[f] = w->cen_logden[c];
      res->peak_err[f]     = w->cen_err[c];
    }
  }
  PetscCall(PetscCalloc1(2 * K + 1, &pop));
  PetscCall(PetscMalloc1(w->n_local + 1, &res->label));
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    int64_t f = final_of_pre[w->label[i]];
    pop[K + f]++;
    res->label[i] = f;
    if (w->in->halo && w->rc[i] < halo_cut[f])
      res->label[i] = -1;
    else
      pop[f]++;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, pop, (int)(2 * K), MPI_INT64_T, MPI_SUM, w->comm));
  for (int64_t f = 0; f < K; f++) {
    res->population[f]      = pop[f];
    res->core_population[f] = pop[K + f];
  }
  PetscCall(PetscFree(pop));
  PetscFunctionReturn(PETSC_SUCCESS);
}
