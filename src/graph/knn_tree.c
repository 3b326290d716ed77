/* kd-tree over one block of points (median split on the widest coordinate, tight bounding box per
 * node). Queried with each row's current k-th distance as the pruning radius, so a tree over a
 * remote block in the ring only opens the few leaves that can still improve a list. */
#include "graph/graph_impl.h"

typedef struct {
  pm_gidx_t lo, hi;        /* points [lo, hi) in tree order */
  pm_gidx_t left, right;   /* children, -1 for a leaf */
} node_t;

struct knn_tree {
  int        dim, leaf;
  pm_gidx_t  n, start, nnodes, cap;
  pm_gidx_t *perm; /* tree position -> local row of the block */
  double    *px;   /* points in tree order, n x dim */
  node_t    *nodes;
  double    *box; /* per node: dim lows then dim highs */
};

static void node_box(knn_tree_t *t, const double *x, pm_gidx_t nd)
{
  int     D  = t->dim;
  double *lo = t->box + 2 * D * nd, *hi = lo + D;

  for (int d = 0; d < D; d++) {
    lo[d] = PETSC_INFINITY;
    hi[d] = -PETSC_INFINITY;
  }
  for (pm_gidx_t p = t->nodes[nd].lo; p < t->nodes[nd].hi; p++) {
    const double *y = x + t->perm[p] * D;
    for (int d = 0; d < D; d++) {
      if (y[d] < lo[d]) lo[d] = y[d];
      if (y[d] > hi[d]) hi[d] = y[d];
    }
  }
}

/* Reorder perm[lo, hi) so that position m holds the element of rank m - lo along coordinate d. */
static void select_nth(pm_gidx_t *perm, const double *x, int D, int d, pm_gidx_t lo, pm_gidx_t hi, pm_gidx_t m)
{
  hi--;
  while (hi > lo) {
    double    pv = x[perm[lo + (hi - lo) / 2] * D + d];
    pm_gidx_t i = lo, j = hi;
    while (i <= j) {
      while (x[perm[i] * D + d] < pv) i++;
      while (x[perm[j] * D + d] > pv) j--;
      if (i <= j) {
        pm_gidx_t s = perm[i];
        perm[i++]   = perm[j];
        perm[j--]   = s;
      }
    }
    if (m <= j) hi = j;
    else if (m >= i) lo = i;
    else break;
  }
}

static void build_node(knn_tree_t *t, const double *x, pm_gidx_t nd)
{
  int     D = t->dim, best = 0;
  double *lo, *hi, w = -1.0;
  node_t *N = &t->nodes[nd];

  node_box(t, x, nd);
  N->left = N->right = -1;
  if (N->hi - N->lo <= t->leaf) return;
  lo = t->box + 2 * D * nd;
  hi = lo + D;
  for (int d = 0; d < D; d++)
    if (hi[d] - lo[d] > w) {
      w    = hi[d] - lo[d];
      best = d;
    }
  if (w <= 0.0) return; /* all points identical: keep one leaf */
  {
    pm_gidx_t m = N->lo + (N->hi - N->lo) / 2, l = t->nnodes, r = t->nnodes + 1;
    PM_ASSERT(t->nnodes + 2 <= t->cap);
    select_nth(t->perm, x, D, best, N->lo, N->hi, m);
    t->nnodes += 2;
    t->nodes[l] = (node_t){N->lo, m, -1, -1};
    t->nodes[r] = (node_t){m, N->hi, -1, -1};
    t->nodes[nd].left  = l;
    t->nodes[nd].right = r;
    build_node(t, x, l);
    build_node(t, x, r);
  }
}

PetscErrorCode knn_tree_create(const knn_block_t *b, int leaf, knn_tree_t **tree)
{
  knn_tree_t *t;
  int         D = b->dim;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&t));
  t->dim   = D;
  t->leaf  = leaf < 2 ? 2 : leaf;
  t->n     = b->n;
  t->start = b->start;
  t->cap   = 4 * (b->n / t->leaf + 1) + 3; /* leaves hold >= leaf/2 points */
  PetscCall(PetscMalloc1(b->n + 1, &t->perm));
  PetscCall(PetscMalloc1(b->n * D + 1, &t->px));
  PetscCall(PetscMalloc1(t->cap, &t->nodes));
  PetscCall(PetscMalloc1(t->cap * 2 * D, &t->box));
  for (pm_gidx_t p = 0; p < b->n; p++) t->perm[p] = p;
  t->nodes[0] = (node_t){0, b->n, -1, -1};
  t->nnodes   = 1;
  if (b->n > 0) build_node(t, b->x, 0);
  for (pm_gidx_t p = 0; p < b->n; p++)
    for (int d = 0; d < D; d++) t->px[p * D + d] = b->x[t->perm[p] * D + d];
  *tree = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_tree_destroy(knn_tree_t **tree)
{
  PetscFunctionBeginUser;
  if (!*tree) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*tree)->perm));
  PetscCall(PetscFree((*tree)->px));
  PetscCall(PetscFree((*tree)->nodes));
  PetscCall(PetscFree((*tree)->box));
  PetscCall(PetscFree(*tree));
  PetscFunctionReturn(PETSC_SUCCESS);
}

const pm_gidx_t *knn_tree_order(const knn_tree_t *t) { return t->perm; }

/* Squared distance from q to the box of node nd (a lower bound of every point inside). */
static inline double box_lb2(const knn_tree_t *t, pm_gidx_t nd, const double *q)
{
  int           D  = t->dim;
  const double *lo = t->box + 2 * D * nd, *hi = lo + D;
  double        s  = 0.0;

  for (int d = 0; d < D; d++) {
    double e = lo[d] - q[d], f = q[d] - hi[d];
    e = e > f ? e : f;
    if (e > 0.0) s += e * e;
  }
  return s;
}

static void query_node(const knn_tree_t *t, pm_gidx_t nd, const double *q, pm_gidx_t i, knn_lists_t *L, knn_buf_t *B, int64_t *count)
{
  const node_t *N = &t->nodes[nd];
  int           D = t->dim;

  if (N->left < 0) {
    for (pm_gidx_t p = N->lo; p < N->hi; p++) knn_offer(L, B, 0, i, knn_dist2(q, t->px + p * D, D), t->start + t->perm[p]);
    *count += N->hi - N->lo;
    return;
  }
  {
    double    ll = box_lb2(t, N->left, q), lr = box_lb2(t, N->right, q);
    pm_gidx_t a = N->left, b = N->right;
    if (lr < ll) {
      double s = ll;
      ll       = lr;
      lr       = s;
      a        = N->right;
      b        = N->left;
    }
    if (ll <= L->bound2[i]) query_node(t, a, q, i, L, B, count);
    if (lr <= L->bound2[i]) query_node(t, b, q, i, L, B, count);
  }
}

int64_t knn_tree_query(const knn_tree_t *t, const knn_block_t *q, const pm_gidx_t *order, pm_gidx_t nq, knn_lists_t *L, knn_buf_t *B)
{
  int64_t count = 0;

  if (t->n == 0) return 0;
  for (pm_gidx_t r = 0; r < nq; r++) {
    pm_gidx_t i = order ? order[r] : r;
    if (box_lb2(t, 0, q->x + i * q->dim) <= L->bound2[i]) query_node(t, 0, q->x + i * q->dim, i, L, B, &count);
    knn_flush(L, B, 0, i);
  }
  return count;
}
