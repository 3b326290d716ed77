/* TwoNN (ALGORITHMS.md 2.1): mu_i = r2/r1; closed-form least-squares fit through the origin of
 * y_m = -log(1 - m/N) against the sorted log mu, keeping the floor(N * fraction) smallest. The
 * global ranks m come from a distributed sort; sums are reproducible (pm_sum_repro), so the
 * result has the same bits for any number of ranks. */
#include "id/id_impl.h"
#include <math.h>

/* Points with r1 = 0 (an exact duplicate) make mu undefined: one clear error. */
static PetscErrorCode check_positive_r1(const pm_graph_t *g)
{
  char      why[PM_REASON_MAX] = "";
  PetscBool ok                 = PETSC_TRUE;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < g->n_local && ok; i++) {
    if (!(g->dist[i * g->ncol + 1] > 0.0)) {
      ok = PETSC_FALSE;
      PetscCall(PetscSNPrintf(why, sizeof why,
                              "id: point %" PRId64 " has distance 0 to its nearest neighbour (identical points), so TwoNN/GRIDE are undefined; "
                              "remove duplicates with -duplicates drop",
                              g->row_start + i));
    }
  }
  PetscCall(pm_agree(g->comm, ok, why));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_twonn(pm_id_t *id, const pm_graph_t *g)
{
  pm_gidx_t n = g->n_local, N = g->n_global, nsorted, off;
  double   *x, *r12, *sorted, *xy, s_r, sums[2];

  PetscFunctionBeginUser;
  PetscCheck(g->k >= 2, id->comm, PETSC_ERR_USER_INPUT, "id: TwoNN needs at least 2 neighbours per point; raise -knn_k (now %d)", g->k);
  PetscCall(check_positive_r1(g));
  PetscCall(PetscMalloc2(n + 1, &x, 2 * n + 1, &r12));
  for (pm_gidx_t i = 0; i < n; i++) {
    const double *d = g->dist + i * g->ncol;
    x[i]            = log(d[2] / d[1]);
    r12[i]          = d[1];
    r12[n + i]      = d[2];
  }
  PetscCall(pm_sum_repro(id->comm, 2 * n, 1, r12, &s_r));
  id->twonn_scale = s_r / (2.0 * (double)N);
  id->twonn_n     = N;
  id->twonn_err   = 0.0;
  id->twonn_ml    = fabs(id->twonn_fraction - 1.0) <= 1e-8 ? PETSC_TRUE : PETSC_FALSE; /* numpy isclose */
  if (id->twonn_ml) {
    double s;
    PetscCall(pm_sum_repro(id->comm, n, 1, x, &s));
    id->twonn_n_eff = N;
    id->twonn_id    = (double)(N - 1) / s;
  } else {
    id->twonn_n_eff = (pm_gidx_t)floor((double)N * id->twonn_fraction);
    PetscCheck(id->twonn_n_eff >= 1, id->comm, PETSC_ERR_USER_INPUT, "-twonn_fraction %g keeps no point of %" PRId64 "; use a value in (0, 1]", id->twonn_fraction, N);
    PetscCall(pm_id_sort(id->comm, 1, n, x, &sorted, &nsorted, &off));
    PetscCall(PetscMalloc1(2 * nsorted + 1, &xy));
    for (pm_gidx_t l = 0; l < nsorted; l++) {
      pm_gidx_t m     = off + l + 1; /* global rank, 1-based */
      double    y     = -log(1.0 - (double)m / (double)N);
      xy[l]           = m <= id->twonn_n_eff ? sorted[l] * y : 0.0;
      xy[nsorted + l] = m <= id->twonn_n_eff ? sorted[l] * sorted[l] : 0.0;
    }
    PetscCall(pm_sum_repro(id->comm, nsorted, 2, xy, sums));
    PetscCheck(sums[1] > 0.0, id->comm, PETSC_ERR_USER_INPUT, "id: every kept r2/r1 equals 1 (all second neighbours tie with the first); TwoNN is undefined for these data");
    id->twonn_id = sums[0] / sums[1];
    PetscCall(PetscFree(xy));
    PetscCall(PetscFree(sorted));
  }
  PetscCall(PetscFree2(x, r12));
  PetscFunctionReturn(PETSC_SUCCESS);
}
