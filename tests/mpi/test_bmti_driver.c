/* Driver for tests/e2e/test_bmti_ref.py and the BMTI benchmark: builds a pm_graph_t and the k*NN
 * inputs from raw files in -dir (written by the script: ind.bin int64 N x ncol with column 0 =
 * self, x.bin float64 N x D, kstar.bin int64, kl.bin / ke.bin float64 k*NN log density / error),
 * each rank reading only its rows, runs pm_bmti_compute with the -bmti_* options and writes
 * log_den.bin, err.bin, comp.bin (gathered on rank 0; test-size data) and stats.txt in -out.
 * Asserts zero mallocs during assembly. */
#include "density/bmti.h"
#include "pm_test.h"
#include "pm_test_io.h"
#include <stdio.h>
#include <string.h>

static PetscErrorCode run(MPI_Comm comm)
{
  char           dir[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "";
  PetscInt       N = 0, ncol = 0, D = 0, its;
  PetscReal      id = 0, rnorm;
  PetscBool      set;
  int            rank, size;
  pm_graph_t     g;
  pm_rows_t     *X;
  pm_bmti_t     *b;
  int64_t       *kstar, *comp;
  double        *kl, *ke, *ld, *err, t0;
  PetscLogDouble mallocs;
  pm_gidx_t      ncomp;

  PetscFunctionBeginUser;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  PetscCall(PetscOptionsGetString(NULL, NULL, "-dir", dir, sizeof dir, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-out", out, sizeof out, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-N", &N, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-ncol", &ncol, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-D", &D, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-id", &id, &set));
  PetscCheck(N > 0 && ncol > 2 && D > 0 && set && dir[0] && out[0], comm, PETSC_ERR_USER_INPUT, "usage: -dir D -out D -N n -ncol c -D d -id x");
  PetscCall(PetscMemzero(&g, sizeof g));
  g.comm     = comm;
  g.n_global = N;
  pm_block_range(N, size, rank, &g.row_start, &g.n_local);
  g.k    = (int)ncol - 1;
  g.ncol = (int)ncol;
  PetscCall(PetscMalloc2(g.n_local * ncol + 1, &g.ind, g.n_local * ncol + 1, &g.dist));
  PetscCall(PetscArrayzero(g.dist, g.n_local * ncol));
  PetscCall(pm_test_read_rows(dir, "ind.bin", sizeof(pm_gidx_t), g.row_start, g.n_local, (int)ncol, g.ind));
  PetscCall(pm_rows_create(comm, N, (int)D, &X));
  PetscCall(pm_test_read_rows(dir, "x.bin", sizeof(double), X->row_start, X->n_local, (int)D, X->x));
  PetscCall(PetscMalloc6(g.n_local + 1, &kstar, g.n_local + 1, &kl, g.n_local + 1, &ke, g.n_local + 1, &ld, g.n_local + 1, &err, g.n_local + 1, &comp));
  PetscCall(pm_test_read_rows(dir, "kstar.bin", sizeof(int64_t), g.row_start, g.n_local, 1, kstar));
  PetscCall(pm_test_read_rows(dir, "kl.bin", sizeof(double), g.row_start, g.n_local, 1, kl));
  PetscCall(pm_test_read_rows(dir, "ke.bin", sizeof(double), g.row_start, g.n_local, 1, ke));

  PetscCall(pm_bmti_create(comm, &b));
  PetscCall(pm_bmti_set_from_options(b));
  t0 = pm_time();
  PetscCall(pm_bmti_compute(b, X, &g, id, kstar, kl, ke, ld, err, comp));
  t0 = pm_time() - t0;
  PetscCall(pm_bmti_view(b));
  PetscCall(pm_bmti_get_stats(b, &its, &rnorm, &mallocs, &ncomp));
  PM_TEST(mallocs == 0, "assembly needed %g mallocs (preallocation not exact)", (double)mallocs);
  PetscCall(pm_test_dump(comm, out, "log_den.bin", ld, sizeof(double), g.n_local, N));
  PetscCall(pm_test_dump(comm, out, "err.bin", err, sizeof(double), g.n_local, N));
  PetscCall(pm_test_dump(comm, out, "comp.bin", comp, sizeof(int64_t), g.n_local, N));
  if (rank == 0) {
    char  path[PETSC_MAX_PATH_LEN];
    FILE *f;
    PetscCall(PetscSNPrintf(path, sizeof path, "%s/stats.txt", out));
    f = fopen(path, "w");
    PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", path);
    fprintf(f, "iterations %d\nresidual %.17g\nmallocs %g\ncomponents %" PRId64 "\nseconds %.6f\npeak_rss_mb %.1f\n", (int)its, (double)rnorm, (double)mallocs, ncomp, t0, pm_peak_rss_bytes() / 1048576.0);
    fclose(f);
  }
  PetscCall(pm_bmti_destroy(&b));
  PetscCall(PetscFree6(kstar, kl, ke, ld, err, comp));
  PetscCall(PetscFree2(g.ind, g.dist));
  PetscCall(pm_rows_destroy(&X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscErrorCode err;
  int            fail;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscPushErrorHandler(pm_error_handler, NULL));
  err  = run(PETSC_COMM_WORLD);
  fail = err ? 1 : pm_test_finish_mpi(PETSC_COMM_WORLD);
  PetscCall(PetscPopErrorHandler());
  PetscCall(PetscFinalize());
  return fail;
}
