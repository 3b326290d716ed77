/* DPA on a neighbour table and a density given as raw little-endian arrays (used by the "beyond DADApy"
 * study, bench/bench_cluster_study.sh): -dir D with D/meta.txt ("N ncol"), D/ind.i64 (N x ncol, self in
 * column 0), D/<den>_log_den.f64, D/<den>_err.f64, D/kstar.i64; -den NAME, -dpa_z Z, -out FILE (labels,
 * int64, gathered on rank 0: a tool, not the pipeline). Prints "RESULT K <K> seconds <s> rounds <r>". */
#include "cluster/dpa.h"
#include <stdio.h>

static PetscErrorCode read_rows(MPI_Comm comm, const char *path, size_t elem, pm_gidx_t start, pm_gidx_t cnt, int width, void *buf)
{
  FILE *f = fopen(path, "rb");

  PetscFunctionBeginUser;
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open %s", path);
  PetscCheck(fseek(f, (long)(start * width * elem), SEEK_SET) == 0 && fread(buf, elem * width, (size_t)cnt, f) == (size_t)cnt, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "cannot read %s", path);
  fclose(f);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  MPI_Comm         comm;
  char             dir[PM_PATH_MAX] = ".", den[64] = "pak", out[PM_PATH_MAX] = "", path[PM_PATH_MAX + 80];
  PetscReal        Z = 1.65;
  int              rank, size, ncol;
  pm_gidx_t        n, start, cnt;
  pm_graph_t       G = {0};
  double          *ld, *err, t0;
  int64_t         *ks;
  pm_dpa_result_t *res;
  pm_dpa_input_t   in;
  FILE            *f;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(pm_memory_init()); /* as bin/phasemap */
  comm = PETSC_COMM_WORLD;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  PetscCall(PetscOptionsGetString(NULL, NULL, "-dir", dir, sizeof dir, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-den", den, sizeof den, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-out", out, sizeof out, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-dpa_z", &Z, NULL));
  PetscCall(PetscSNPrintf(path, sizeof path, "%s/meta.txt", dir));
  f = fopen(path, "r");
  PetscCheck(f && fscanf(f, "%" SCNd64 " %d", &n, &ncol) == 2, comm, PETSC_ERR_FILE_READ, "cannot read %s", path);
  fclose(f);
  pm_block_range(n, size, rank, &start, &cnt);
  G.comm      = comm;
  G.n_global  = n;
  G.row_start = start;
  G.n_local   = cnt;
  G.ncol      = ncol;
  G.k         = ncol - 1;
  PetscCall(PetscMalloc4(cnt * ncol + 1, &G.ind, cnt + 1, &ld, cnt + 1, &err, cnt + 1, &ks));
  PetscCall(PetscSNPrintf(path, sizeof path, "%s/ind.i64", dir));
  PetscCall(read_rows(comm, path, 8, start, cnt, ncol, G.ind));
  PetscCall(PetscSNPrintf(path, sizeof path, "%s/%s_log_den.f64", dir, den));
  PetscCall(read_rows(comm, path, 8, start, cnt, 1, ld));
  PetscCall(PetscSNPrintf(path, sizeof path, "%s/%s_err.f64", dir, den));
  PetscCall(read_rows(comm, path, 8, start, cnt, 1, err));
  PetscCall(PetscSNPrintf(path, sizeof path, "%s/kstar.i64", dir));
  PetscCall(read_rows(comm, path, 8, start, cnt, 1, ks));
  in = (pm_dpa_input_t){&G, ld, err, ks, Z, PETSC_FALSE, NULL};
  t0 = pm_time();
  PetscCall(pm_dpa_compute(&in, &res));
  t0 = pm_time() - t0;
  if (out[0]) { /* ranks append their labels in order */
    for (int p = 0; p < size; p++) {
      if (p == rank) {
        f = fopen(out, p == 0 ? "wb" : "ab");
        PetscCheck(f && fwrite(res->label, 8, (size_t)cnt, f) == (size_t)cnt, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write %s", out);
        fclose(f);
      }
      PetscCallMPI(MPI_Barrier(comm));
    }
  }
  PetscCall(PetscPrintf(comm, "RESULT K %" PRId64 " Kpre %" PRId64 " seconds %.3f rounds %d\n", res->K, res->K_pre, t0, res->jump_rounds));
  PetscCall(pm_dpa_result_destroy(&res));
  PetscCall(PetscFree4(G.ind, ld, err, ks));
  PetscCall(PetscFinalize());
  return 0;
}
