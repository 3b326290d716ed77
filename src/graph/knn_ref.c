/* Serial reference kNN (test oracle): every distance, then a full sort of each row by (distance,
 * global index). O(N^2 log N); independent of the heap, tile and tree code it checks. */
#include "graph/graph_impl.h"
#include <math.h>
#include <stdlib.h>

typedef struct {
  double    d;
  pm_gidx_t g;
} pair_t;

static int cmp_pair(const void *a, const void *b)
{
  const pair_t *x = a, *y = b;
  if (x->d != y->d) return x->d < y->d ? -1 : 1;
  return (x->g > y->g) - (x->g < y->g);
}

PetscErrorCode knn_ref_graph(pm_gidx_t n, int dim, const double *x, int k, pm_gidx_t *ind, double *dist)
{
  pair_t *row;

  PetscFunctionBeginUser;
  PetscCheck(k < n, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "knn_ref_graph: k %d >= n %" PRId64, k, n);
  PetscCall(PetscMalloc1(n, &row));
  for (pm_gidx_t i = 0; i < n; i++) {
    pm_gidx_t m = 0;
    for (pm_gidx_t j = 0; j < n; j++)
      if (j != i) row[m++] = (pair_t){sqrt(knn_dist2(x + i * dim, x + j * dim, dim)), j};
    qsort(row, (size_t)m, sizeof *row, cmp_pair);
    ind[i * (k + 1)]  = i;
    dist[i * (k + 1)] = 0.0;
    for (int r = 0; r < k; r++) {
      ind[i * (k + 1) + 1 + r]  = row[r].g;
      dist[i * (k + 1) + 1 + r] = row[r].d;
    }
  }
  PetscCall(PetscFree(row));
  PetscFunctionReturn(PETSC_SUCCESS);
}
