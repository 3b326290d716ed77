/* kNN benchmark driver: reads an N x D .npy, builds the graph with the kNN options given
 * (-knn_method, -knn_k, ...), and measures OpenBLAS dgemm of the kernel's tile shape in the same
 * run. Rank 0 prints one line "RESULT {json}". Options: -input F, -bench_dgemm 0|1. */
#include <phasemap/graph.h>
#include <phasemap/io.h>
#include "graph/graph_impl.h"
#include <cblas.h>

/* GFLOP/s of one rank running dgemm on T x T tiles with inner dimension D over a q x b block pair
 * (the brute kernel's loop without the filter: the same call on operands packed as the kernel packs
 * them, one contiguous D x T coordinate-major block per tile, the layout OpenBLAS runs fastest),
 * all ranks at once as in the real run. */
static PetscErrorCode dgemm_rate(MPI_Comm comm, int D, int T, double *gflops, double *gflops_cpu)
{
  int     nq = T * (4096 / T + 1), nb = T * (8192 / T + 1), reps = 3; /* whole tiles */
  double *A, *B, *C, t, c, best = 1e30, bestc = 1e30;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3((size_t)nq * D, &A, (size_t)nb * D, &B, (size_t)T * T, &C));
  for (size_t e = 0; e < (size_t)nq * D; e++) A[e] = (e % 7) * 0.1;
  for (size_t e = 0; e < (size_t)nb * D; e++) B[e] = (e % 5) * 0.2;
  for (int r = 0; r < reps; r++) {
    PetscCallMPI(MPI_Barrier(comm));
    t = pm_time();
    c = pm_cpu_time();
    for (int j0 = 0; j0 < nb; j0 += T)
      for (int i0 = 0; i0 < nq; i0 += T) cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, T, D, -2.0, A + (size_t)(i0 / T) * D * T, T, B + (size_t)(j0 / T) * D * T, T, 0.0, C, T);
    t = pm_time() - t;
    c = pm_cpu_time() - c;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &c, 1, MPI_DOUBLE, MPI_MAX, comm));
    best  = PetscMin(best, t);
    bestc = PetscMin(bestc, c);
  }
  *gflops     = 2.0 * nq * (double)nb * D / best * 1e-9;
  *gflops_cpu = 2.0 * nq * (double)nb * D / bestc * 1e-9;
  PetscCall(PetscFree3(A, B, C));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  MPI_Comm    comm;
  char        path[PM_PATH_MAX] = "";
  pm_rows_t  *X;
  pm_knn_t   *knn;
  pm_graph_t *g;
  int         size, D, tile = PM_KNN_TILE_DEFAULT;
  PetscBool   do_dgemm = PETSC_TRUE;
  double      t, tread, rate = 0.0, ratec = 0.0, rss, rssmax, cpu, cpumax, cpusum, flt, tring;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(pm_memory_init()); /* as bin/phasemap */
  PetscCall(PetscLogDefaultBegin()); /* the search's own time (the ring's event) beside the whole build's */
  comm = PETSC_COMM_WORLD;
  openblas_set_num_threads(1);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-input", path, sizeof path, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-bench_dgemm", &do_dgemm, NULL));
  {
    PetscInt ti = tile;
    PetscCall(PetscOptionsGetInt(NULL, NULL, "-knn_tile", &ti, NULL));
    tile = (int)ti;
  }
  tread = pm_time();
  PetscCall(pm_matrix_read(comm, path, PM_FMT_NPY, NULL, &X));
  tread = pm_time() - tread;
  D     = X->dim;
  PetscCall(pm_knn_create(comm, &knn));
  PetscCall(pm_knn_set_from_options(knn));
  PetscCallMPI(MPI_Barrier(comm));
  t   = pm_time();
  cpu = pm_cpu_time();
  flt = pm_page_faults();
  PetscCall(pm_knn_build(knn, &X, &g));
  t   = pm_time() - t;
  cpu = pm_cpu_time() - cpu;
  flt = pm_page_faults() - flt;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &flt, 1, MPI_DOUBLE, MPI_MAX, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
  { /* distance and selection alone: the ring (the tiles, the provisional bounds, the merges), without
       the method probe, the kd order and the final sort of the lists */
    PetscEventPerfInfo info;
    PetscCall(PetscLogEventGetPerfInfo(0, knn->ev_ring, &info));
    tring = info.time;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &tring, 1, MPI_DOUBLE, MPI_MAX, comm));
  }
  PetscCallMPI(MPI_Allreduce(&cpu, &cpumax, 1, MPI_DOUBLE, MPI_MAX, comm));
  PetscCallMPI(MPI_Allreduce(&cpu, &cpusum, 1, MPI_DOUBLE, MPI_SUM, comm));
  rss = pm_peak_rss_bytes();
  PetscCallMPI(MPI_Allreduce(&rss, &rssmax, 1, MPI_DOUBLE, MPI_MAX, comm));
  if (do_dgemm) PetscCall(dgemm_rate(comm, D, tile, &rate, &ratec));
  {
    double n = (double)X->n_global, kflops = 2.0 * n * n * D / size / t * 1e-9; /* per rank */
    double kcpu = 2.0 * n * n * D / cpusum * 1e-9;                               /* per CPU second */
    double kring = tring > 0.0 ? 2.0 * n * n * D / size / tring * 1e-9 : 0.0;   /* per rank, the search alone */
    PetscCall(PetscPrintf(comm,
                          "RESULT {\"n\": %" PRId64 ", \"d\": %d, \"k\": %d, \"ranks\": %d, \"method\": \"%s\", \"seconds\": %.4f, \"read_seconds\": %.3f, "
                          "\"cpu_seconds_max\": %.4f, \"cpu_seconds_sum\": %.4f, \"kernel_gflops_per_rank\": %.3f, \"kernel_gflops_per_cpu\": %.3f, \"dgemm_gflops_per_rank\": %.3f, \"dgemm_gflops_per_cpu\": %.3f, \"search_seconds\": %.4f, \"search_gflops_per_rank\": %.3f, \"peak_rss_mib_per_rank\": %.1f, \"page_faults_max\": %.0f, \"duplicates\": %" PRId64 ", \"blas_core\": \"%s\"}\n",
                          X->n_global, D, g->k, size, g->method == PM_KNN_TREE ? "tree" : "brute", t, tread, cpumax, cpusum, g->method == PM_KNN_BRUTE ? kflops : 0.0, g->method == PM_KNN_BRUTE ? kcpu : 0.0, rate, ratec, tring, g->method == PM_KNN_BRUTE ? kring : 0.0, rssmax / 1048576.0, flt, g->n_duplicates, pm_blas_core()));
  }
  PetscCall(pm_graph_destroy(&g));
  PetscCall(pm_knn_destroy(&knn));
  PetscCall(pm_rows_destroy(&X));
  PetscCall(PetscFinalize());
  return 0;
}
