/* Exact duplicates: counting them from the graph, and -duplicates drop (keep the lowest global
 * index of each group of identical rows, move the kept rows to the standard block layout). */
#include "graph/graph_impl.h"

PetscErrorCode knn_duplicates_count(pm_knn_t *knn, const pm_graph_t *g, pm_gidx_t *count)
{
  pm_gidx_t c = 0;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < g->n_local; i++) c += g->dist[i * g->ncol + 1] == 0.0;
  PetscCallMPI(MPI_Allreduce(&c, count, 1, MPI_INT64_T, MPI_SUM, knn->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode to_int(MPI_Comm comm, pm_gidx_t v, int *out)
{
  PetscFunctionBeginUser;
  PetscCheck(v <= INT32_MAX, comm, PETSC_ERR_SUP, "-duplicates drop: %" PRId64 " rows to move to one rank exceed the MPI count limit; use more ranks", v);
  *out = (int)v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A row is a later copy when its nearest neighbour is at distance 0 with a lower global index
 * (neighbours at equal distance are sorted by index, so the lowest copy is always seen). */
PetscErrorCode knn_duplicates_drop(pm_knn_t *knn, const pm_graph_t *g, pm_rows_t **X, pm_gidx_t **kept)
{
  pm_rows_t   *Xo = *X, *Xn;
  int          rank, size, D = Xo->dim, *scnt, *sdsp, *rcnt, *rdsp;
  pm_gidx_t    nkeep = 0, first = 0, nnew = 0, *orig, *korig;
  double      *sx;
  MPI_Datatype rowtype;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(knn->comm, &rank));
  PetscCallMPI(MPI_Comm_size(knn->comm, &size));
  PetscCall(PetscMalloc2(Xo->n_local * D + 1, &sx, Xo->n_local + 1, &orig));
  for (pm_gidx_t i = 0; i < g->n_local; i++) {
    const pm_gidx_t *G = g->ind + i * g->ncol;
    if (g->dist[i * g->ncol + 1] == 0.0 && G[1] < G[0]) continue;
    for (int d = 0; d < D; d++) sx[nkeep * D + d] = Xo->x[i * D + d];
    orig[nkeep++] = g->row_start + i;
  }
  PetscCallMPI(MPI_Exscan(&nkeep, &first, 1, MPI_INT64_T, MPI_SUM, knn->comm));
  if (rank == 0) first = 0;
  PetscCallMPI(MPI_Allreduce(&nkeep, &nnew, 1, MPI_INT64_T, MPI_SUM, knn->comm));
  PetscCall(pm_rows_create(Xo->comm, nnew, D, &Xn));
  PetscCall(PetscCalloc4(size, &scnt, size + 1, &sdsp, size, &rcnt, size + 1, &rdsp));
  for (pm_gidx_t r = 0; r < nkeep; r++) scnt[pm_block_owner(nnew, size, first + r)]++;
  PetscCallMPI(MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, knn->comm));
  for (int p = 0; p < size; p++) {
    PetscCall(to_int(knn->comm, (pm_gidx_t)sdsp[p] + scnt[p], &sdsp[p + 1]));
    PetscCall(to_int(knn->comm, (pm_gidx_t)rdsp[p] + rcnt[p], &rdsp[p + 1]));
  }
  PM_ASSERT(rdsp[size] == Xn->n_local);
  PetscCall(PetscMalloc1(Xn->n_local + 1, &korig));
  PetscCallMPI(MPI_Type_contiguous(D, MPI_DOUBLE, &rowtype));
  PetscCallMPI(MPI_Type_commit(&rowtype));
  /* ranks hold consecutive kept rows in order, so receiving in rank order keeps the global order */
  PetscCallMPI(MPI_Alltoallv(sx, scnt, sdsp, rowtype, Xn->x, rcnt, rdsp, rowtype, knn->comm));
  PetscCallMPI(MPI_Alltoallv(orig, scnt, sdsp, MPI_INT64_T, korig, rcnt, rdsp, MPI_INT64_T, knn->comm));
  PetscCallMPI(MPI_Type_free(&rowtype));
  PetscCall(PetscFree4(scnt, sdsp, rcnt, rdsp));
  PetscCall(PetscFree2(sx, orig));
  PetscCall(pm_rows_destroy(X));
  *X    = Xn;
  *kept = korig;
  PetscFunctionReturn(PETSC_SUCCESS);
}
