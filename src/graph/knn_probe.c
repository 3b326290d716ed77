/* The -knn_method auto rule. Both methods give the identical graph, so this is only about speed.
 * Probe: every rank builds a kd-tree over a strided sample of up to PROBE_M of its rows and runs
 * the real k-NN query for PROBE_Q of them; f = distances computed / (queries x sample size) is the
 * fraction of a brute-force scan the tree needs at that scale (it only falls as N grows, so the
 * probe is pessimistic for the tree). A tree distance costs about TREE_COST_RATIO times a brute
 * pair (dgemm + filter), so the tree is chosen when f < 1 / TREE_COST_RATIO, averaged over ranks. */
#include "graph/graph_impl.h"

#define PROBE_M         16384
#define PROBE_Q         256
#define TREE_COST_RATIO 5.0

static PetscErrorCode probe_fraction(pm_knn_t *knn, const knn_block_t *mine, int k, double *f)
{
  pm_gidx_t   m = PetscMin(mine->n, PROBE_M), stride, nq;
  int         D = mine->dim, kk;
  double     *xs, *dist;
  pm_gidx_t  *ind, *order;
  knn_block_t b;
  knn_tree_t *t;
  knn_lists_t h;
  knn_buf_t   buf;

  PetscFunctionBeginUser;
  *f = 1.0;
  if (m < 3) PetscFunctionReturn(PETSC_SUCCESS);
  stride = mine->n / m;
  kk     = (int)PetscMin((pm_gidx_t)k, m - 1);
  nq     = PetscMin(m, PROBE_Q);
  PetscCall(PetscMalloc1(m * D, &xs));
  for (pm_gidx_t r = 0; r < m; r++)
    for (int d = 0; d < D; d++) xs[r * D + d] = mine->x[r * stride * D + d];
  b = (knn_block_t){0, m, D, xs};
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
      knn_block_t q = {0, nq, D, xq};
      int64_t     ev;
      PetscCall(knn_lists_init(&h, nq, -1 - m, kk, ind, dist)); /* row_start outside: self not rejected */
      PetscCall(knn_buf_create(1, KNN_TREE_BUF, kk, &buf));
      ev = knn_tree_query(t, &q, NULL, nq, &h, &buf);
      *f = (double)ev / ((double)nq * (double)m);
      PetscCall(knn_buf_destroy(&buf));
      PetscCall(knn_lists_free(&h));
    }
    PetscCall(PetscFree(xq));
  }
  PetscCall(PetscFree3(ind, dist, order));
  PetscCall(knn_tree_destroy(&t));
  PetscCall(PetscFree(xs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_choose_method(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t n_global, int k, pm_knn_method_t *method)
{
  double f, fsum;
  int    size, choice;

  PetscFunctionBeginUser;
  if (knn->method != PM_KNN_AUTO) {
    *method = knn->method;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscLogEventBegin(knn->ev_probe, 0, 0, 0, 0));
  PetscCall(probe_fraction(knn, mine, k, &f));
  PetscCallMPI(MPI_Comm_size(knn->comm, &size));
  PetscCallMPI(MPI_Allreduce(&f, &fsum, 1, MPI_DOUBLE, MPI_SUM, knn->comm));
  choice = fsum / size < 1.0 / TREE_COST_RATIO ? PM_KNN_TREE : PM_KNN_BRUTE;
  PetscCallMPI(MPI_Bcast(&choice, 1, MPI_INT, 0, knn->comm)); /* one verdict, whatever the rounding */
  *method = (pm_knn_method_t)choice;
  PetscCall(PetscInfo(NULL, "kNN auto: tree/brute distance fraction %.4f on a %" PRId64 "-point probe -> %s\n", fsum / size, PetscMin(n_global, (pm_gidx_t)PROBE_M), pm_knn_method_names[choice]));
  PetscCall(PetscLogEventEnd(knn->ev_probe, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
