/* The -knn_method auto rule. Both methods give the identical graph, so this is only about speed.
 * Probe: rank 0 fetches a strided sample of m = min(N, PROBE_M) rows (knn_sample_fetch: the same
 * sample for any rank count, kept for the cell cuts), builds a kd-tree over it and runs the real
 * k-NN query, one row at a time, for PROBE_Q of them; f = distances computed / (queries x m) is the fraction of a
 * brute-force scan the tree needs at that scale (it only falls as N grows, so the probe is
 * pessimistic for the tree). A tree distance costs 6-13 times a brute-force pair (measured on the
 * benchmark sets, docs/knn.md), but the probe overestimates the tree's fraction 2-4x at 100k points,
 * so the tree is chosen when f < 1 / TREE_COST_RATIO = 0.2. Rank 0 broadcasts the verdict. */
#include "graph/graph_impl.h"

#define PROBE_M         16384
#define PROBE_Q         256
#define TREE_COST_RATIO 5.0

PetscErrorCode knn_sample_fetch(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t N, pm_gidx_t want, knn_sample_t *s)
{
  int        rank;
  pm_gidx_t  nreq, *rows;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(knn->comm, &rank));
  s->m = PetscMin(N, want);
  nreq = rank == 0 ? s->m : 0;
  PetscCall(PetscMalloc1(nreq + 1, &rows));
  PetscCall(PetscMalloc1(nreq * mine->dim + 1, &s->x));
  for (pm_gidx_t r = 0; r < nreq; r++) rows[r] = r * N / s->m;
  PetscCall(pm_fetch_rows(knn->comm, N, mine->start, mine->n, mine->x, sizeof(double), mine->dim, nreq, rows, s->x));
  PetscCall(PetscFree(rows));
  if (rank != 0) PetscCall(PetscFree(s->x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_sample_free(knn_sample_t *s)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(s->x));
  s->m = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode probe_fraction(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t N, int k, knn_sample_t *s, double *f)
{
  pm_gidx_t   m, nq;
  int         D = mine->dim, kk, rank;
  double     *xs, *dist;
  pm_gidx_t  *ind, *order;
  knn_block_t b;
  knn_tree_t *t;
  knn_lists_t h;
  knn_buf_t   buf;

  PetscFunctionBeginUser;
  *f = 1.0;
  PetscCallMPI(MPI_Comm_rank(knn->comm, &rank));
  PetscCall(knn_sample_fetch(knn, mine, N, PROBE_M, s));
  m  = s->m;
  xs = s->x;
  if (rank != 0 || m < 3) PetscFunctionReturn(PETSC_SUCCESS);
  kk = (int)PetscMin((pm_gidx_t)k, m - 1);
  nq = PetscMin(m, PROBE_Q);
  b  = (knn_block_t){0, m, D, xs, NULL};
  PetscCall(knn_tree_create(&b, knn->leaf, &t));
  PetscCall(PetscMalloc3(nq * (kk + 1), &ind, nq * (kk + 1), &dist, nq, &order));
  for (pm_gidx_t r = 0; r < nq; r++) order[r] = r * (m / nq);
  {
    /* queries are sample rows order[r]; lists are indexed by query, so query through a block view
       whose row r is the sample row order[r] */
    double *xq;
    PetscCall(PetscMalloc1(nq * D, &xq));
    for (pm_gidx_t r = 0; r < nq; r++)
      for (int d = 0; d < D; d++) xq[r * D + d] = xs[order[r] * D + d];
    {
      knn_block_t q  = {0, nq, D, xq, NULL};
      int64_t     ev = 0;
      PetscCall(knn_lists_init(&h, nq, -1 - m, kk, ind, dist)); /* row_start outside: self not rejected */
      PetscCall(knn_buf_create(1, KNN_TREE_BUF, kk, &buf));
      PetscCall(knn_tree_query(t, &q, NULL, nq, &h, &buf, &ev));
      *f = (double)ev / ((double)nq * (double)m);
      PetscCall(knn_buf_destroy(&buf));
      PetscCall(knn_lists_free(&h));
    }
    PetscCall(PetscFree(xq));
  }
  PetscCall(PetscFree3(ind, dist, order));
  PetscCall(knn_tree_destroy(&t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_choose_method(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t n_global, int k, pm_knn_method_t *method, knn_sample_t *s)
{
  double f;
  int    choice;

  PetscFunctionBeginUser;
  if (knn->method != PM_KNN_AUTO) {
    *method = knn->method;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscLogEventBegin(knn->ev_probe, 0, 0, 0, 0));
  PetscCall(probe_fraction(knn, mine, n_global, k, s, &f));
  choice = f < 1.0 / TREE_COST_RATIO ? PM_KNN_TREE : PM_KNN_BRUTE;
  PetscCallMPI(MPI_Bcast(&choice, 1, MPI_INT, 0, knn->comm)); /* rank 0 probed */
  PetscCallMPI(MPI_Bcast(&f, 1, MPI_DOUBLE, 0, knn->comm));
  *method = (pm_knn_method_t)choice;
  PetscCall(PetscInfo(NULL, "kNN auto: the tree needs %.4f of the brute-force distances on a %" PRId64 "-point probe -> %s\n", f, PetscMin(n_global, (pm_gidx_t)PROBE_M), pm_knn_method_names[choice]));
  PetscCall(PetscLogEventEnd(knn->ev_probe, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
