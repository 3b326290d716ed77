/* Clustering benchmark: N points of a mixture of -ncomp Gaussians in -dim dimensions (generated here,
 * rank-independent), exact kNN graph (library), density (library, -density), then the cluster stage
 * timed: wall and CPU seconds per DPA step, pointer-jumping rounds, peak memory, clusters and the
 * adjusted Rand index against the true components. Prints one "RESULT {json}" line on rank 0. */
#include <phasemap/cluster.h>
#include "cluster/cluster_impl.h"

static inline uint64_t mix(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static inline double u01(uint64_t seed, uint64_t i)
{
  return (double)(mix(seed + 0x9e3779b97f4a7c15ULL * (i + 1)) >> 11) * 0x1.0p-53;
}
static inline double gauss(uint64_t seed, uint64_t i)
{
  return sqrt(-2.0 * log(u01(seed, 2 * i) + 1e-300)) * cos(2.0 * M_PI * u01(seed, 2 * i + 1));
}

/* ARI from the K x C contingency table (replicated after an allreduce). */
static PetscErrorCode ari(MPI_Comm comm, pm_gidx_t N, pm_gidx_t nl, const int64_t *lab, const int *comp, int64_t K, int C, double *out)
{
  double *t, sij = 0, sa = 0, sb = 0, tot, ex, mx;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1((K + 1) * C, &t));
  for (pm_gidx_t i = 0; i < nl; i++) t[(lab[i] + 1) * C + comp[i]] += 1.0;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, t, (int)((K + 1) * C), MPI_DOUBLE, MPI_SUM, comm));
  for (int64_t a = 0; a <= K; a++) {
    double r = 0;
    for (int c = 0; c < C; c++) {
      sij += t[a * C + c] * (t[a * C + c] - 1) / 2;
      r += t[a * C + c];
    }
    sa += r * (r - 1) / 2;
  }
  for (int c = 0; c < C; c++) {
    double s = 0;
    for (int64_t a = 0; a <= K; a++) s += t[a * C + c];
    sb += s * (s - 1) / 2;
  }
  tot  = (double)N * (N - 1) / 2;
  ex   = sa * sb / tot;
  mx   = 0.5 * (sa + sb);
  *out = mx == ex ? 1.0 : (sij - ex) / (mx - ex);
  PetscCall(PetscFree(t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  MPI_Comm               comm;
  int                    rank, size, *comp;
  PetscInt               dim = 3, C = 5, k = 30;
  PetscInt               n = 1000000;
  pm_rows_t             *X;
  pm_graph_t            *G;
  pm_knn_t              *knn;
  pm_density_t          *den;
  pm_cluster_t          *cl;
  pm_den_kind_t          kind;
  const pm_dpa_result_t *res;
  double                 t0, c0, t_knn, t_den, t_cl, c_cl, rss0, rss1, a = 0.0, tmax[7], tloc[7];

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(pm_memory_init()); /* as bin/phasemap */
  comm = PETSC_COMM_WORLD;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &n, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-dim", &dim, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-ncomp", &C, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-k", &k, NULL));
  PetscCall(pm_rows_create(comm, n, dim, &X));
  PetscCall(PetscMalloc1(X->n_local + 1, &comp));
  for (pm_gidx_t i = 0; i < X->n_local; i++) {
    uint64_t g = (uint64_t)(X->row_start + i);
    comp[i]    = (int)(u01(7, g) * C);
    for (int d = 0; d < dim; d++) X->x[i * dim + d] = 8.0 * (u01(100 + comp[i], d) - 0.5) + gauss(1000 + d, g);
  }
  t0 = pm_time();
  PetscCall(pm_knn_create(comm, &knn));
  PetscCall(pm_knn_set_k(knn, k));
  PetscCall(pm_knn_set_from_options(knn));
  PetscCall(pm_knn_build(knn, &X, &G));
  t_knn = pm_time() - t0;
  PetscCall(pm_cluster_create(comm, &cl));
  PetscCall(pm_cluster_set_from_options(cl));
  PetscCall(pm_cluster_get_density_kind(cl, &kind));
  PetscCall(pm_density_create(comm, &den));
  PetscCall(pm_density_set_from_options(den));
  PetscCall(pm_density_require(den, kind));
  t0 = pm_time();
  PetscCall(pm_density_compute(den, X, G, (double)dim));
  t_den = pm_time() - t0;
  rss0  = pm_peak_rss_bytes();
  PetscCallMPI(MPI_Barrier(comm));
  t0 = pm_time();
  c0 = pm_cpu_time();
  PetscCall(pm_cluster_compute(cl, X, G, den));
  t_cl = pm_time() - t0;
  c_cl = pm_cpu_time() - c0;
  rss1 = pm_peak_rss_bytes();
  PetscCall(pm_cluster_get_result(cl, &res));
  PetscCall(ari(comm, n, G->n_local, res->label, comp, res->K, C, &a));
  tloc[0] = t_cl;
  tloc[1] = c_cl;
  tloc[2] = res->seconds[0];
  tloc[3] = res->seconds[1];
  tloc[4] = res->seconds[2];
  tloc[5] = res->seconds[3];
  tloc[6] = rss1;
  PetscCallMPI(MPI_Reduce(tloc, tmax, 7, MPI_DOUBLE, MPI_MAX, 0, comm));
  {
    double drss = rss1 - rss0, dmax;
    PetscCallMPI(MPI_Reduce(&drss, &dmax, 1, MPI_DOUBLE, MPI_MAX, 0, comm));
    PetscCall(PetscPrintf(comm,
                          "RESULT {\"bench\": \"cluster\", \"git\": \"%s\", \"ranks\": %d, \"n\": %" PetscInt_FMT ", \"dim\": %d, \"k\": %d, \"density\": \"%s\", \"Z\": %.4f, "
                          "\"seconds_knn\": %.3f, \"seconds_density\": %.3f, \"seconds_cluster\": %.3f, \"cpu_seconds_cluster_max_rank\": %.3f, "
                          "\"seconds_peaks\": %.3f, \"seconds_assign\": %.3f, \"seconds_saddles\": %.3f, \"seconds_merge\": %.3f, "
                          "\"pointer_jumping_rounds\": %d, \"clusters\": %" PRId64 ", \"clusters_before_merging\": %" PRId64 ", \"ari_vs_truth\": %.4f, "
                          "\"peak_rss_mb_max_rank\": %.0f, \"rss_growth_in_cluster_mb\": %.0f}\n",
                          PM_GIT_HASH, size, n, dim, k, pm_den_kind_names[kind], cl->Z, t_knn, t_den, tmax[0], tmax[1], tmax[2], tmax[3], tmax[4], tmax[5], res->jump_rounds, res->K, res->K_pre, a,
                          tmax[6] / 1048576.0, dmax / 1048576.0));
  }
  PetscCall(pm_cluster_destroy(&cl));
  PetscCall(pm_density_destroy(&den));
  PetscCall(pm_graph_destroy(&G));
  PetscCall(pm_knn_destroy(&knn));
  PetscCall(pm_rows_destroy(&X));
  PetscCall(PetscFree(comp));
  PetscCall(PetscFinalize());
  return 0;
}
