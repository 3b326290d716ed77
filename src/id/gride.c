/* GRIDE multiscale ladder (ALGORITHMS.md 2.2): for s = 0..S-1, n1 = 2^s, n2 = 2^(s+1),
 * mu_i = r_n2 / r_n1; outliers above q50 + 20 (q95 - q50) are dropped for the fit (percentiles exact,
 * from a distributed sort); the ML id is found by bisection on -dlogL/dd; the error is the inverse
 * square root of the Fisher information on all mus. Every sum is reproducible (pm_sum_repro). */
#include "id/id_impl.h"
#include <math.h>
#include <float.h>

#define GRIDE_D0  1e-3
#define GRIDE_D1  1e3
#define GRIDE_EPS 1e-7

/* -dlogL/dd over the kept mus (the (1 - mu^-d) floor is 2 eps as in the spec). */
static PetscErrorCode neg_dloglik(MPI_Comm comm, pm_gidx_t n, const double *mu, const double *logmu, pm_gidx_t n_kept, int64_t n1, int64_t n2, double d, double *work, double *g)
{
  double s;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < n; i++) {
    double om = 1.0 - pow(mu[i], -d);
    if (om < 2 * GRIDE_EPS) om = 2 * GRIDE_EPS;
    work[i] = ((double)(1 - n2 + n1) / om + (double)n2 - 1.0) * logmu[i];
  }
  PetscCall(pm_sum_repro(comm, n, 1, work, &s));
  *g = s - (double)(n_kept - 1) / d;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* mu: the n kept ratios on this rank; work: 2n doubles. */
static PetscErrorCode bisect(MPI_Comm comm, pm_gidx_t n, const double *mu, pm_gidx_t n_kept, int64_t n1, int64_t n2, double *work, double *d_out)
{
  double d0 = GRIDE_D0, d1 = GRIDE_D1, l1, l2, *logmu = work + n;
  int    it = 0;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < n; i++) logmu[i] = log(mu[i]);
  PetscCall(neg_dloglik(comm, n, mu, logmu, n_kept, n1, n2, d1, work, &l1));
  while (fabs(d0 - d1) > GRIDE_EPS && it++ < 200) { /* 34 halvings reach eps; 200 is a safety cap */
    double dm = (d0 + d1) / 2.0;
    PetscCall(neg_dloglik(comm, n, mu, logmu, n_kept, n1, n2, dm, work, &l2));
    if (l2 * l1 > 0)
      d1 = dm;
    else
      d0 = dm;
  }
  *d_out = (d0 + d1) / 2.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode fisher_error(MPI_Comm comm, pm_gidx_t n, pm_gidx_t N, const double *mu, int64_t n1, double d, double *work, double *err)
{
  const double floor_ = 5 * DBL_EPSILON;
  double       s;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < n; i++) {
    double om = 1.0 - pow(mu[i], -d), f1;
    if (om < floor_) om = floor_;
    f1      = log(mu[i]) / om;
    work[i] = (double)(2 * n1 - n1 - 1) * (f1 * f1 * pow(mu[i], -d)); /* n2 = 2 n1 as DADApy passes it */
  }
  PetscCall(pm_sum_repro(comm, n, 1, work, &s));
  *err = 1.0 / sqrt((double)N / (d * d) + s);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One rung of the ladder. */
static PetscErrorCode gride_scale(pm_id_t *id, const pm_graph_t *g, int s, double *mu, double *kept, double *work)
{
  pm_gidx_t n = g->n_local, N = g->n_global, nsorted, off, nk = 0, nk_glob;
  int64_t   n1 = (int64_t)1 << s, n2 = n1 << 1;
  double   *sorted, q95, q50, mu_max, s_r;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < n; i++) {
    const double *d = g->dist + i * g->ncol;
    mu[i]           = d[n2] / d[n1];
    if (mu[i] == 1.0) mu[i] += 10 * DBL_EPSILON;
    work[i]     = d[n1];
    work[n + i] = d[n2];
  }
  PetscCall(pm_sum_repro(id->comm, 2 * n, 1, work, &s_r));
  PetscCall(pm_id_sort(id->comm, n, mu, &sorted, &nsorted, &off));
  PetscCall(pm_id_percentile(id->comm, sorted, nsorted, off, N, 95.0, &q95));
  PetscCall(pm_id_percentile(id->comm, sorted, nsorted, off, N, 50.0, &q50));
  PetscCall(PetscFree(sorted));
  mu_max = 20 * (q95 - q50) + q50;
  for (pm_gidx_t i = 0; i < n; i++)
    if (mu[i] < mu_max) kept[nk++] = mu[i];
  PetscCallMPI(MPI_Allreduce(&nk, &nk_glob, 1, MPI_INT64_T, MPI_SUM, id->comm));
  PetscCheck(nk_glob > 1, id->comm, PETSC_ERR_USER_INPUT, "id: GRIDE at ranks %" PRId64 ",%" PRId64 " keeps fewer than 2 points", n1, n2);
  PetscCall(bisect(id->comm, nk, kept, nk_glob, n1, n2, work, &id->gride_id[s]));
  PetscCall(fisher_error(id->comm, n, N, mu, n1, id->gride_id[s], work, &id->gride_err[s]));
  id->gride_scale[s]  = s_r / (2.0 * (double)N);
  id->gride_n1[s]     = n1;
  id->gride_n2[s]     = n2;
  id->gride_n_used[s] = nk_glob;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_gride(pm_id_t *id, const pm_graph_t *g)
{
  pm_gidx_t max_rank = g->n_global;
  pm_gidx_t n        = g->n_local;
  double   *mu, *kept, *work;
  int       S = 0;

  PetscFunctionBeginUser;
  if (max_rank > id->gride_range_max) max_rank = id->gride_range_max;
  if (max_rank > g->k) max_rank = g->k; /* only the neighbour table is available */
  while (((pm_gidx_t)1 << (S + 1)) <= max_rank && S + 1 < PM_GRIDE_MAX_SCALES) S++;
  id->nscales = S;
  if (S == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc3(n + 1, &mu, n + 1, &kept, 2 * n + 1, &work));
  for (int s = 0; s < S; s++) PetscCall(gride_scale(id, g, s, mu, kept, work));
  PetscCall(PetscFree3(mu, kept, work));
  PetscFunctionReturn(PETSC_SUCCESS);
}
