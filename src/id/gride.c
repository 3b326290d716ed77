/* GRIDE multiscale ladder (ALGORITHMS.md 2.2): for s = 0..S-1, n1 = 2^s, n2 = 2^(s+1),
 * mu_i = r_n2 / r_n1; outliers above q50 + 20 (q95 - q50) are dropped for the fit (percentiles exact,
 * from a distributed sort); the ML id is found by bisection on -dlogL/dd; the error is the inverse
 * square root of the Fisher information on all mus. Every sum is reproducible (pm_sum_repro), so
 * the results have the same bits on any number of ranks. The S bisections run in lock step, so
 * each bisection step is one reproducible sum of S values (one pair of collectives), not S. */
#include "id/id_impl.h"
#include <math.h>
#include <float.h>

#define GRIDE_D0  1e-3
#define GRIDE_D1  1e3
#define GRIDE_EPS 1e-7

typedef struct {
  int        S;
  pm_gidx_t  n;      /* local points */
  double    *mu;     /* S x n: all ratios (a ratio exactly 1 gets +10 eps) */
  double    *kept;   /* S x n: ratios kept by the filter, zero-padded */
  double    *logk;   /* S x n: their logs */
  pm_gidx_t *nk;     /* S: local kept counts */
  pm_gidx_t *nk_all; /* S: global kept counts */
  double    *work;   /* S x n */
} gride_t;

/* -dlogL/dd of every active scale at its own d[s] (the (1 - mu^-d) floor is 2 eps). */
static PetscErrorCode neg_dloglik(MPI_Comm comm, gride_t *G, const int *active, const double *d, double *g)
{
  PetscFunctionBeginUser;
  for (int s = 0; s < G->S; s++) {
    int64_t       n1 = (int64_t)1 << s, n2 = n1 << 1;
    const double *mu = G->kept + s * G->n, *lm = G->logk + s * G->n;
    double       *w = G->work + s * G->n;
    for (pm_gidx_t i = 0; i < G->n; i++) w[i] = 0.0;
    if (!active[s]) continue;
    for (pm_gidx_t i = 0; i < G->nk[s]; i++) {
      double om = 1.0 - pow(mu[i], -d[s]);
      if (om < 2 * GRIDE_EPS) om = 2 * GRIDE_EPS;
      w[i] = ((double)(1 - n2 + n1) / om + (double)n2 - 1.0) * lm[i];
    }
  }
  PetscCall(pm_sum_repro(comm, G->n, G->S, G->work, g));
  for (int s = 0; s < G->S; s++) g[s] -= (double)(G->nk_all[s] - 1) / d[s];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The reference bisection (l1 = g(d1) is not re-evaluated; only its sign matters), per scale. */
static PetscErrorCode bisect(MPI_Comm comm, gride_t *G, double *d_out)
{
  double d0[PM_GRIDE_MAX_SCALES], d1[PM_GRIDE_MAX_SCALES], dm[PM_GRIDE_MAX_SCALES], l1[PM_GRIDE_MAX_SCALES], l2[PM_GRIDE_MAX_SCALES];
  int    active[PM_GRIDE_MAX_SCALES], any = 1;

  PetscFunctionBeginUser;
  for (int s = 0; s < G->S; s++) d0[s] = GRIDE_D0, d1[s] = GRIDE_D1, active[s] = 1;
  PetscCall(neg_dloglik(comm, G, active, d1, l1));
  for (int it = 0; any && it < 200; it++) { /* 34 halvings reach eps; 200 is a safety cap */
    any = 0;
    for (int s = 0; s < G->S; s++) {
      active[s] = fabs(d0[s] - d1[s]) > GRIDE_EPS;
      dm[s]     = (d0[s] + d1[s]) / 2.0;
      any |= active[s];
    }
    if (!any) break; /* the same on every rank: d0, d1 are identical everywhere */
    PetscCall(neg_dloglik(comm, G, active, dm, l2));
    for (int s = 0; s < G->S; s++) {
      if (!active[s]) continue;
      if (l2[s] * l1[s] > 0)
        d1[s] = dm[s];
      else
        d0[s] = dm[s];
    }
  }
  for (int s = 0; s < G->S; s++) d_out[s] = (d0[s] + d1[s]) / 2.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* 1/sqrt(Fisher information) on all ratios; n2 = 2 n1 as the reference passes it. */
static PetscErrorCode fisher_errors(MPI_Comm comm, gride_t *G, pm_gidx_t N, const double *d, double *err)
{
  const double floor_ = 5 * DBL_EPSILON;
  double       sums[PM_GRIDE_MAX_SCALES];

  PetscFunctionBeginUser;
  for (int s = 0; s < G->S; s++) {
    int64_t       n1 = (int64_t)1 << s;
    const double *mu = G->mu + s * G->n;
    double       *w  = G->work + s * G->n;
    for (pm_gidx_t i = 0; i < G->n; i++) {
      double om = 1.0 - pow(mu[i], -d[s]), f1;
      if (om < floor_) om = floor_;
      f1   = log(mu[i]) / om;
      w[i] = (double)(2 * n1 - n1 - 1) * (f1 * f1 * pow(mu[i], -d[s]));
    }
  }
  PetscCall(pm_sum_repro(comm, G->n, G->S, G->work, sums));
  for (int s = 0; s < G->S; s++) err[s] = 1.0 / sqrt((double)N / (d[s] * d[s]) + sums[s]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Ratios, scales, and the outlier filter of every rung. */
static PetscErrorCode ratios_and_filter(pm_id_t *id, const pm_graph_t *g, gride_t *G)
{
  pm_gidx_t n = G->n, N = g->n_global;
  double   *r, rs[PM_GRIDE_MAX_SCALES];

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)2 * n * G->S + 1, &r));
  for (int s = 0; s < G->S; s++) {
    int64_t n1 = (int64_t)1 << s, n2 = n1 << 1;
    double *mu = G->mu + s * n;
    for (pm_gidx_t i = 0; i < n; i++) {
      const double *d = g->dist + i * g->ncol;
      mu[i]           = d[n2] / d[n1];
      if (mu[i] == 1.0) mu[i] += 10 * DBL_EPSILON;
      r[2 * n * s + i]     = d[n1];
      r[2 * n * s + n + i] = d[n2];
    }
  }
  PetscCall(pm_sum_repro(id->comm, 2 * n, G->S, r, rs));
  PetscCall(PetscFree(r));
  {
    pm_gidx_t    cnt[PM_GRIDE_MAX_SCALES], off[PM_GRIDE_MAX_SCALES];
    double      *sorted, pq[2 * PM_GRIDE_MAX_SCALES];
    const double q[2] = {95.0, 50.0};
    PetscCall(pm_id_sort(id->comm, G->S, n, G->mu, &sorted, cnt, off));
    PetscCall(pm_id_percentiles(id->comm, G->S, sorted, cnt, off, N, 2, q, pq));
    PetscCall(PetscFree(sorted));
    for (int s = 0; s < G->S; s++) {
      pm_gidx_t nk = 0;
      double   *mu = G->mu + s * n, *kept = G->kept + s * n, mu_max = 20 * (pq[2 * s] - pq[2 * s + 1]) + pq[2 * s + 1];
      for (pm_gidx_t i = 0; i < n; i++)
        if (mu[i] < mu_max) {
          G->logk[s * n + nk] = log(mu[i]);
          kept[nk++]          = mu[i];
        }
      G->nk[s]           = nk;
      id->gride_scale[s] = rs[s] / (2.0 * (double)N);
    }
  }
  PetscCallMPI(MPI_Allreduce(G->nk, G->nk_all, G->S, MPI_INT64_T, MPI_SUM, id->comm));
  for (int s = 0; s < G->S; s++) PetscCheck(G->nk_all[s] > 1, id->comm, PETSC_ERR_USER_INPUT, "id: GRIDE at ranks %d,%d keeps fewer than 2 points", 1 << s, 2 << s);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_gride(pm_id_t *id, const pm_graph_t *g)
{
  pm_gidx_t max_rank = g->n_global;
  gride_t   G        = {0};

  PetscFunctionBeginUser;
  if (max_rank > id->gride_range_max) max_rank = id->gride_range_max;
  if (max_rank > g->k) max_rank = g->k; /* only the neighbour table is available */
  while (((pm_gidx_t)1 << (G.S + 1)) <= max_rank && G.S + 1 < PM_GRIDE_MAX_SCALES) G.S++;
  id->nscales = G.S;
  if (G.S == 0) PetscFunctionReturn(PETSC_SUCCESS);
  G.n = g->n_local;
  PetscCall(PetscMalloc4((size_t)G.S * G.n + 1, &G.mu, (size_t)G.S * G.n + 1, &G.kept, (size_t)G.S * G.n + 1, &G.logk, (size_t)G.S * G.n + 1, &G.work));
  PetscCall(PetscMalloc2(G.S, &G.nk, G.S, &G.nk_all));
  PetscCall(ratios_and_filter(id, g, &G));
  PetscCall(bisect(id->comm, &G, id->gride_id));
  PetscCall(fisher_errors(id->comm, &G, g->n_global, id->gride_id, id->gride_err));
  for (int s = 0; s < G.S; s++) {
    id->gride_n1[s]     = (int64_t)1 << s;
    id->gride_n2[s]     = (int64_t)2 << s;
    id->gride_n_used[s] = G.nk_all[s];
  }
  PetscCall(PetscFree4(G.mu, G.kept, G.logk, G.work));
  PetscCall(PetscFree2(G.nk, G.nk_all));
  PetscFunctionReturn(PETSC_SUCCESS);
}
