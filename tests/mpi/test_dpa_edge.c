/* Clustering edge cases with stated behaviour (docs/clustering.md), on any number of ranks; every
 * distributed result is also compared with the serial twin:
 *  1. all points at equal density -> one cluster (ties broken by index, equal peaks merge);
 *  2. two disconnected graph components -> never merged: two clusters, each component pure;
 *  3. one Gaussian blob -> a single cluster;
 *  4. random graphs with random densities: many points whose higher-density neighbour is outside
 *     their row (the spec's fallback), labels == serial twin;
 *  5. classic DP with k = 4: delta and nearest-higher point of orphans by the exact search == brute
 *     force; DP labels identical to the sequential definition. */
#include "cluster/dpa.h"
#include "pm_test.h"
#include <stdlib.h>

typedef struct {
  pm_gidx_t n;
  int       dim, ncol;
  double   *X, *dist, *ld, *err;
  int64_t  *ind, *kstar;
} data_t;

static int pm_rank0(MPI_Comm comm)
{
  int r;
  MPI_Comm_rank(comm, &r);
  return r == 0;
}

static double urand(uint64_t *s)
{
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*s >> 11) * 0x1.0p-53;
}

static double nrand(uint64_t *s)
{
  double u = urand(s) + 1e-300, v = urand(s);
  return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Exact kNN by brute force, rows sorted by (distance, index), self in column 0. */
static void knn_brute(data_t *d)
{
  pm_gidx_t n  = d->n;
  double   *dd = malloc(n * sizeof *dd);
  for (pm_gidx_t i = 0; i < n; i++) {
    for (pm_gidx_t j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < d->dim; k++) s += (d->X[i * d->dim + k] - d->X[j * d->dim + k]) * (d->X[i * d->dim + k] - d->X[j * d->dim + k]);
      dd[j] = sqrt(s);
    }
    dd[i] = -1.0; /* self first */
    for (int r = 0; r < d->ncol; r++) {
      pm_gidx_t b = -1;
      for (pm_gidx_t j = 0; j < n; j++)
        if (dd[j] < 1e300 && (b < 0 || dd[j] < dd[b])) b = j;
      d->ind[i * d->ncol + r]  = b;
      d->dist[i * d->ncol + r] = r == 0 ? 0.0 : dd[b];
      dd[b]                    = 1e301;
    }
  }
  free(dd);
}

static data_t *alloc_data(pm_gidx_t n, int dim, int ncol)
{
  data_t *d = calloc(1, sizeof *d);
  d->n      = n;
  d->dim    = dim;
  d->ncol   = ncol;
  d->X      = calloc(n * (dim ? dim : 1), sizeof(double));
  d->dist   = calloc(n * ncol, sizeof(double));
  d->ind    = calloc(n * ncol, sizeof(int64_t));
  d->ld     = calloc(n, sizeof(double));
  d->err    = calloc(n, sizeof(double));
  d->kstar  = calloc(n, sizeof(int64_t));
  return d;
}

static void free_data(data_t *d)
{
  free(d->X);
  free(d->dist);
  free(d->ind);
  free(d->ld);
  free(d->err);
  free(d->kstar);
  free(d);
}

/* Distributed DPA on block rows of d; labels gathered on every rank (test only). */
static PetscErrorCode dpa_run(MPI_Comm comm, const data_t *d, double Z, PetscBool halo, int64_t *lab, pm_dpa_result_t **res)
{
  int            rank, size, *cnt, *dsp;
  pm_gidx_t      s, c;
  pm_graph_t     G = {0};
  pm_dpa_input_t in;

  PetscFunctionBeginUser;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  pm_block_range(d->n, size, rank, &s, &c);
  G.comm      = comm;
  G.n_global  = d->n;
  G.row_start = s;
  G.n_local   = c;
  G.ncol      = d->ncol;
  G.k         = d->ncol - 1;
  G.ind       = d->ind + s * d->ncol;
  G.dist      = d->dist + s * d->ncol;
  in          = (pm_dpa_input_t){&G, d->ld + s, d->err + s, d->kstar + s, Z, halo, NULL};
  PetscCall(pm_dpa_compute(&in, res));
  cnt    = malloc(size * sizeof *cnt);
  dsp    = malloc((size + 1) * sizeof *dsp);
  dsp[0] = 0;
  for (int p = 0; p < size; p++) {
    pm_gidx_t s2, c2;
    pm_block_range(d->n, size, p, &s2, &c2);
    cnt[p]     = (int)c2;
    dsp[p + 1] = dsp[p] + cnt[p];
  }
  PetscCallMPI(MPI_Allgatherv((*res)->label, (int)c, MPI_INT64_T, lab, cnt, dsp, MPI_INT64_T, comm));
  free(cnt);
  free(dsp);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode check_vs_twin(MPI_Comm comm, const char *tag, const data_t *d, double Z, PetscBool halo, int64_t *K)
{
  int64_t         *lab = malloc(d->n * sizeof *lab);
  pm_dpa_result_t *D, *R;
  pm_gidx_t        bad = 0;

  PetscFunctionBeginUser;
  PetscCall(dpa_run(comm, d, Z, halo, lab, &D));
  PetscCall(pm_dpa_ref(d->n, d->ncol, d->ind, d->ld, d->err, d->kstar, Z, halo, &R));
  for (pm_gidx_t i = 0; i < d->n; i++) bad += lab[i] != R->label[i];
  PM_TEST(D->K == R->K && bad == 0, "%s: distributed K %" PRId64 " vs twin %" PRId64 ", %" PRId64 " labels differ", tag, D->K, R->K, bad);
  PM_TEST(D->n_fallback == R->n_fallback && D->n_merges == R->n_merges, "%s: fallback %" PRId64 "/%" PRId64 " merges %" PRId64 "/%" PRId64, tag, D->n_fallback, R->n_fallback, D->n_merges, R->n_merges);
  for (int64_t c = 0; c < D->K && D->K == R->K; c++) {
    PM_TEST(D->center[c] == R->center[c] && D->population[c] == R->population[c], "%s: cluster %" PRId64, tag, c);
    for (int64_t e = 0; e < D->K; e++) PM_TEST(D->saddle[c * D->K + e] == R->saddle[c * D->K + e] && D->border[c * D->K + e] == R->border[c * D->K + e], "%s: saddle %" PRId64 ",%" PRId64, tag, c, e);
  }
  *K = D->K;
  if (!pm_rank0(comm)) goto done;
  printf("# %s: K=%" PRId64 " putative=%" PRId64 " pre=%" PRId64 " fallback=%" PRId64 " rounds=%d\n", tag, D->K, D->n_putative, D->K_pre, D->n_fallback, D->jump_rounds);
done:
  PetscCall(pm_dpa_result_destroy(&D));
  PetscCall(pm_dpa_result_destroy(&R));
  free(lab);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode case_equal_density(MPI_Comm comm)
{
  data_t  *d = alloc_data(400, 2, 16);
  uint64_t s = 7;
  int64_t  K;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < d->n * 2; i++) d->X[i] = urand(&s);
  knn_brute(d);
  for (pm_gidx_t i = 0; i < d->n; i++) {
    d->ld[i]    = -1.0;
    d->err[i]   = 0.1;
    d->kstar[i] = 10;
  }
  PetscCall(check_vs_twin(comm, "equal density", d, 1.65, PETSC_FALSE, &K));
  PM_TEST(K == 1, "equal density: %" PRId64 " clusters, expected 1", K);
  free_data(d);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Gaussian blobs: log density = -|x - mu|^2 / 2 (exact), small error. */
static data_t *blobs(int nb, pm_gidx_t per, double sep, int ncol, uint64_t seed)
{
  data_t  *d = alloc_data(nb * per, 2, ncol);
  uint64_t s = seed;
  for (pm_gidx_t i = 0; i < d->n; i++) {
    int    b = (int)(i % nb);
    double x = nrand(&s), y = nrand(&s);
    d->X[2 * i]     = x + sep * b;
    d->X[2 * i + 1] = y;
    d->ld[i]        = -0.5 * (x * x + y * y);
    d->err[i]       = 0.05;
    d->kstar[i]     = ncol - 1;
  }
  knn_brute(d);
  return d;
}

static PetscErrorCode case_components(MPI_Comm comm)
{
  data_t          *d = blobs(2, 300, 1000.0, 21, 11);
  int64_t          K, *lab = malloc(d->n * sizeof *lab);
  pm_dpa_result_t *D;
  int              pure = 1;

  PetscFunctionBeginUser;
  PetscCall(check_vs_twin(comm, "two components", d, 1.65, PETSC_FALSE, &K));
  PM_TEST(K == 2, "two components: %" PRId64 " clusters, expected 2", K);
  PetscCall(dpa_run(comm, d, 1.65, PETSC_FALSE, lab, &D));
  for (pm_gidx_t i = 0; i < d->n; i++) pure &= (lab[i] == lab[i % 2]) && lab[0] != lab[1];
  PM_TEST(pure, "two components: each component is one cluster");
  PetscCall(pm_dpa_result_destroy(&D));
  free(lab);
  free_data(d);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode case_single(MPI_Comm comm)
{
  data_t *d = blobs(1, 600, 0.0, 31, 5);
  int64_t K;

  PetscFunctionBeginUser;
  PetscCall(check_vs_twin(comm, "one blob", d, 1.65, PETSC_TRUE, &K));
  PM_TEST(K == 1, "one blob: %" PRId64 " clusters, expected 1", K);
  free_data(d);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Random directed graphs: neighbours are arbitrary, so rows rarely contain the higher points. */
static PetscErrorCode case_random_graphs(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  for (int t = 0; t < 6; t++) {
    data_t  *d = alloc_data(500 + 37 * t, 0, 6);
    uint64_t s = 1000 + t;
    int64_t  K;
    char     tag[64];
    for (pm_gidx_t i = 0; i < d->n; i++) {
      d->ind[i * 6] = i;
      for (int r = 1; r < 6; r++) {
        pm_gidx_t j;
        int       dup;
        do {
          j   = (pm_gidx_t)(urand(&s) * d->n);
          dup = j == i;
          for (int q = 1; q < r; q++) dup |= d->ind[i * 6 + q] == j;
        } while (dup);
        d->ind[i * 6 + r] = j;
      }
      d->ld[i]    = t == 5 ? floor(4 * urand(&s)) : nrand(&s); /* t = 5: many exact ties */
      d->err[i]   = t == 5 ? 0.1 : 0.2 * urand(&s);
      d->kstar[i] = 1 + (int64_t)(urand(&s) * 5);
    }
    snprintf(tag, sizeof tag, "random graph %d", t);
    PetscCall(check_vs_twin(comm, tag, d, t % 2 ? 3.0 : 1.65, t % 3 == 0 ? PETSC_TRUE : PETSC_FALSE, &K));
    free_data(d);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode case_dp(MPI_Comm comm)
{
  data_t          *d = blobs(3, 200, 6.0, 5, 3);
  int              rank, size;
  pm_gidx_t        s, c, *ref, *rref = malloc(d->n * sizeof *rref), bad = 0, orph = 0;
  double          *delta, *rdelta = malloc(d->n * sizeof *rdelta), rc, dc;
  pm_rows_t       *X;
  pm_graph_t       G = {0};
  pm_dpa_result_t *res;
  pm_dp_input_t    in;

  PetscFunctionBeginUser;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  for (pm_gidx_t i = 0; i < d->n; i++) d->ld[i] += 1e-9 * (double)(i % 7); /* distinct densities */
  pm_block_range(d->n, size, rank, &s, &c);
  PetscCall(pm_rows_create(comm, d->n, 2, &X));
  for (pm_gidx_t i = 0; i < 2 * c; i++) X->x[i] = d->X[2 * s + i];
  G.comm      = comm;
  G.n_global  = d->n;
  G.row_start = s;
  G.n_local   = c;
  G.ncol      = d->ncol;
  G.k         = d->ncol - 1;
  G.ind       = d->ind + s * d->ncol;
  G.dist      = d->dist + s * d->ncol;
  PetscCall(PetscMalloc2(c + 1, &delta, c + 1, &ref));
  in = (pm_dp_input_t){X, &G, d->ld + s, 0.0, 0.0, PETSC_TRUE};
  PetscCall(pm_dp_compute(&in, delta, ref, &rc, &dc, &res));
  PetscCall(pm_dp_delta_ref(d->n, 2, d->X, d->ncol, d->ind, d->dist, d->ld, rdelta, rref));
  for (pm_gidx_t i = 0; i < c; i++) {
    bad += !(delta[i] == rdelta[s + i] && ref[i] == rref[s + i]);
    orph += rref[s + i] >= 0 && rdelta[s + i] > d->dist[(s + i) * d->ncol + d->ncol - 1];
  }
  PM_TEST(bad == 0, "dp: %" PRId64 " local points with delta/ref different from brute force", bad);
  PM_TEST(res->n_fallback > 0, "dp: the exact search was exercised (%" PRId64 " points)", res->n_fallback);
  PM_TEST(res->K == 3, "dp: %" PRId64 " clusters on three separated blobs (automatic cuts %g %g)", res->K, rc, dc);
  { /* labels: centre or label of ref (sequential definition, checked point by point) */
    int64_t *lab = malloc(d->n * sizeof *lab);
    int     *cnt = malloc(size * sizeof *cnt), *dsp = malloc((size + 1) * sizeof *dsp);
    dsp[0] = 0;
    for (int p = 0; p < size; p++) {
      pm_gidx_t s2, c2;
      pm_block_range(d->n, size, p, &s2, &c2);
      cnt[p]     = (int)c2;
      dsp[p + 1] = dsp[p] + cnt[p];
    }
    PetscCallMPI(MPI_Allgatherv(res->label, (int)c, MPI_INT64_T, lab, cnt, dsp, MPI_INT64_T, comm));
    bad = 0;
    for (pm_gidx_t i = 0; i < d->n; i++) {
      int is_c = 0;
      for (int64_t k = 0; k < res->K; k++) is_c |= res->center[k] == i;
      if (!is_c)
        bad += lab[i] != lab[rref[i]];
      else
        bad += lab[i] < 0;
    }
    PM_TEST(bad == 0, "dp: %" PRId64 " labels differ from the label of the nearest higher point", bad);
    free(lab);
    free(cnt);
    free(dsp);
  }
  (void)orph;
  PetscCall(pm_dpa_result_destroy(&res));
  PetscCall(PetscFree2(delta, ref));
  PetscCall(pm_rows_destroy(&X));
  free(rref);
  free(rdelta);
  free_data(d);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Bad input: a k* outside 1..k is an error on every rank (no hang), not a crash. */
static PetscErrorCode case_bad_kstar(MPI_Comm comm)
{
  data_t          *d = blobs(1, 100, 0.0, 11, 9);
  int              rank, size;
  pm_gidx_t        s, c;
  pm_graph_t       G = {0};
  pm_dpa_input_t   in;
  pm_dpa_result_t *res = NULL;
  PetscErrorCode   ierr;

  PetscFunctionBeginUser;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  d->kstar[d->n - 1] = 11; /* only the last rank sees it */
  pm_block_range(d->n, size, rank, &s, &c);
  G.comm      = comm;
  G.n_global  = d->n;
  G.row_start = s;
  G.n_local   = c;
  G.ncol      = d->ncol;
  G.k         = d->ncol - 1;
  G.ind       = d->ind + s * d->ncol;
  G.dist      = d->dist + s * d->ncol;
  in          = (pm_dpa_input_t){&G, d->ld + s, d->err + s, d->kstar + s, 1.65, PETSC_FALSE, NULL};
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = pm_dpa_compute(&in, &res);
  PetscCall(PetscPopErrorHandler());
  PM_TEST(ierr == PETSC_ERR_USER_INPUT && res == NULL, "bad k*: error %d on every rank", (int)ierr);
  free_data(d);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  MPI_Comm comm;
  int      bad;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  PetscCall(case_equal_density(comm));
  PetscCall(case_components(comm));
  PetscCall(case_single(comm));
  PetscCall(case_random_graphs(comm));
  PetscCall(case_dp(comm));
  PetscCall(case_bad_kstar(comm));
  bad = pm_test_finish_mpi(comm);
  PetscCall(PetscFinalize());
  return bad;
}
