/* Driver for tests/e2e/test_density_ref.py: builds a pm_graph_t from a raw neighbour table (the
 * DADApy reference kNN table dumped by the script: int64 indices and float64 distances, N x ncol,
 * column 0 = self), runs the id and density stages through their APIs on any number of ranks,
 * and writes every result (gathered on rank 0; test-size data only) as raw files in -out.
 * -identical replaces the table by N identical points (all distances 0) to test the error paths;
 * -no_id skips the id stage (the density stage then needs -density_id). */
#include <phasemap/id.h>
#include <phasemap/density.h>
#include "pm_test_io.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PetscErrorCode build_graph(MPI_Comm comm, const char *dir, PetscInt N, PetscInt ncol_file, PetscInt k, PetscBool identical, pm_graph_t **graph)
{
  int         rank, size;
  pm_graph_t *g;
  pm_gidx_t  *ind;
  double     *dist;

  PetscFunctionBeginUser;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  PetscCall(PetscNew(&g));
  g->comm     = comm;
  g->n_global = N;
  pm_block_range(N, size, rank, &g->row_start, &g->n_local);
  g->k    = (int)k;
  g->ncol = (int)k + 1;
  PetscCall(PetscMalloc2(g->n_local * ncol_file + 1, &ind, g->n_local * ncol_file + 1, &dist));
  if (!identical) {
    PetscCall(pm_test_read_rows(dir, "ind.bin", sizeof(pm_gidx_t), g->row_start, g->n_local, (int)ncol_file, ind));
    PetscCall(pm_test_read_rows(dir, "dist.bin", sizeof(double), g->row_start, g->n_local, (int)ncol_file, dist));
  } else {
    for (pm_gidx_t i = 0; i < g->n_local; i++)
      for (int c = 0; c < ncol_file; c++) {
        pm_gidx_t j             = (g->row_start + i + c) % N; /* self first, then the following points */
        ind[i * ncol_file + c]  = j;
        dist[i * ncol_file + c] = 0.0;
      }
    g->n_duplicates = N;
  }
  PetscCall(PetscMalloc1(g->n_local * g->ncol + 1, &g->ind));
  PetscCall(PetscMalloc1(g->n_local * g->ncol + 1, &g->dist));
  for (pm_gidx_t i = 0; i < g->n_local; i++)
    for (int c = 0; c < g->ncol; c++) {
      g->ind[i * g->ncol + c]  = ind[i * ncol_file + c];
      g->dist[i * g->ncol + c] = dist[i * ncol_file + c];
    }
  PetscCall(PetscFree2(ind, dist));
  *graph = g;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Run the id stage and write its results to <out>/id.txt (hex floats); *d = the TwoNN id. */
static PetscErrorCode id_stage(MPI_Comm comm, pm_id_t *id, const pm_graph_t *g, const char *out, double *d)
{
  int    rank;
  double e;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(pm_id_compute(id, g));
  PetscCall(pm_id_view(id));
  PetscCall(pm_id_get_twonn(id, d, &e));
  if (rank == 0) {
    int            ns;
    const double  *ids, *errs, *sc;
    const int64_t *n1, *n2;
    char           path[PETSC_MAX_PATH_LEN];
    FILE          *f;
    PetscCall(pm_id_get_gride(id, &ns, &ids, &errs, &sc, &n1, &n2));
    PetscCall(PetscSNPrintf(path, sizeof path, "%s/id.txt", out));
    f = fopen(path, "w");
    PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", path);
    fprintf(f, "twonn %a %a\n", *d, e);
    for (int s = 0; s < ns; s++) fprintf(f, "gride %" PRId64 " %" PRId64 " %a %a %a\n", n1[s], n2[s], ids[s], errs[s], sc[s]);
    fclose(f);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run(MPI_Comm comm)
{
  char          dir[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "";
  PetscInt      N = 0, ncol = 0, k = 0;
  PetscBool     identical = PETSC_FALSE, no_id = PETSC_FALSE;
  pm_graph_t   *g;
  pm_id_t      *id;
  pm_density_t *den;
  double        d;
  int           rank;

  PetscFunctionBeginUser;
  MPI_Comm_rank(comm, &rank);
  PetscCall(PetscOptionsGetString(NULL, NULL, "-ref_dir", dir, sizeof dir, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-out", out, sizeof out, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-N", &N, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-ncol", &ncol, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-identical", &identical, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-no_id", &no_id, NULL)); /* density with -density_id only */
  k = ncol - 1;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-knn_k", &k, NULL)); /* use the first k neighbours */
  PetscCheck(N > 0 && ncol > 1 && k >= 1 && k < ncol && out[0], comm, PETSC_ERR_USER_INPUT, "usage: -ref_dir D -out D -N n -ncol c [-knn_k k]");
  PetscCall(build_graph(comm, dir, N, ncol, k, identical, &g));

  PetscCall(pm_id_create(comm, &id));
  PetscCall(pm_id_set_from_options(id));
  PetscCall(pm_density_create(comm, &den));
  PetscCall(pm_density_set_from_options(den));
  d = 0.0;
  if (!no_id) PetscCall(id_stage(comm, id, g, out, &d));
  PetscCall(pm_density_compute(den, NULL, g, d));
  PetscCall(pm_density_view(den));
  for (int kind = 0; kind < PM_DEN_COUNT; kind++) {
    const double *ld, *er;
    char          name[64];
    PetscBool     has;
    PetscCall(pm_density_computed(den, (pm_den_kind_t)kind, &has));
    if (!has) continue;
    PetscCall(pm_density_get(den, (pm_den_kind_t)kind, &ld, &er));
    PetscCall(PetscSNPrintf(name, sizeof name, "%s_log_density.bin", pm_den_kind_names[kind]));
    PetscCall(pm_test_dump(comm, out, name, ld, sizeof(double), g->n_local, N));
    PetscCall(PetscSNPrintf(name, sizeof name, "%s_error.bin", pm_den_kind_names[kind]));
    PetscCall(pm_test_dump(comm, out, name, er, sizeof(double), g->n_local, N));
  }
  {
    const int64_t *ks;
    PetscCall(pm_density_get_kstar(den, &ks));
    PetscCall(pm_test_dump(comm, out, "kstar.bin", ks, sizeof(int64_t), g->n_local, N));
  }
  PetscCall(pm_density_destroy(&den));
  PetscCall(pm_id_destroy(&id));
  PetscCall(pm_graph_destroy(&g));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscErrorCode err;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscPushErrorHandler(pm_error_handler, NULL));
  err = run(PETSC_COMM_WORLD);
  PetscCall(PetscPopErrorHandler());
  PetscCall(PetscFinalize());
  return err ? 1 : 0;
}
