/* kd-tree over one block of points (median split on the widest coordinate, tight bounding box per
 * node). Queried by groups of nearby rows (consecutive in the own tree's order) with each row's
 * current k-th distance as pruning radius: one traversal per group, box-to-box bounds, and at a
 * leaf the distances of one row to all leaf points at once (leaf coordinates stored transposed,
 * so the loop runs across points while each distance still sums its coordinates in order: the
 * same bits as knn_dist2). A tree over a remote block in the ring only opens the few leaves that
 * can still improve a list. */
#include "graph/graph_impl.h"
#include <immintrin.h>

typedef struct {
  pm_gidx_t lo, hi;      /* points [lo, hi) in tree order */
  pm_gidx_t left, right; /* children, -1 for a leaf */
} node_t;

struct knn_tree {
  int        dim, leaf, avx2;
  pm_gidx_t  n, start, nnodes, cap;
  pm_gidx_t  maxleaf; /* largest leaf: above `leaf` when identical points cannot be split */
  pm_gidx_t *perm; /* tree position -> local row of the block */
  pm_gidx_t *gid;  /* tree position -> global index */
  double    *px;   /* leaf by leaf, transposed: leaf [lo, hi) holds dim rows of hi - lo values */
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

void knn_select_nth(pm_gidx_t *perm, const double *x, int D, int d, pm_gidx_t lo, pm_gidx_t hi, pm_gidx_t m)
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
    if (m <= j)
      hi = j;
    else if (m >= i)
      lo = i;
    else
      break;
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
    knn_select_nth(t->perm, x, D, best, N->lo, N->hi, m);
    t->nnodes += 2;
    t->nodes[l]        = (node_t){N->lo, m, -1, -1};
    t->nodes[r]        = (node_t){m, N->hi, -1, -1};
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
  t->avx2  = __builtin_cpu_supports("avx2");
  t->n     = b->n;
  t->start = b->start;
  t->cap   = 4 * (b->n / t->leaf + 1) + 3; /* leaves hold >= leaf/2 points */
  PetscCall(PetscMalloc1(b->n + 1, &t->perm));
  PetscCall(PetscMalloc1(b->n + 1, &t->gid));
  PetscCall(PetscMalloc1(b->n * D + 1, &t->px));
  PetscCall(PetscMalloc1(t->cap, &t->nodes));
  PetscCall(PetscMalloc1(t->cap * 2 * D, &t->box));
  for (pm_gidx_t p = 0; p < b->n; p++) t->perm[p] = p;
  t->nodes[0] = (node_t){0, b->n, -1, -1};
  t->nnodes   = 1;
  if (b->n > 0) build_node(t, b->x, 0);
  for (pm_gidx_t p = 0; p < b->n; p++) t->gid[p] = b->gidx ? b->gidx[t->perm[p]] : b->start + t->perm[p];
  for (pm_gidx_t nd = 0; nd < t->nnodes; nd++) {
    node_t *N = &t->nodes[nd];
    if (N->left >= 0) continue;
    if (N->hi - N->lo > t->maxleaf) t->maxleaf = N->hi - N->lo;
    for (pm_gidx_t p = N->lo; p < N->hi; p++)
      for (int d = 0; d < D; d++) t->px[N->lo * D + d * (N->hi - N->lo) + (p - N->lo)] = b->x[t->perm[p] * D + d];
  }
  *tree = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_tree_destroy(knn_tree_t **tree)
{
  PetscFunctionBeginUser;
  if (!*tree) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*tree)->perm));
  PetscCall(PetscFree((*tree)->gid));
  PetscCall(PetscFree((*tree)->px));
  PetscCall(PetscFree((*tree)->nodes));
  PetscCall(PetscFree((*tree)->box));
  PetscCall(PetscFree(*tree));
  PetscFunctionReturn(PETSC_SUCCESS);
}

const pm_gidx_t *knn_tree_order(const knn_tree_t *t)
{
  return t->perm;
}

/* Squared distance between box [glo, ghi] and the box of node nd (a point box when glo == ghi):
 * a lower bound of every distance between the two. */
__attribute__((target("avx2"))) static double box_lb2_avx2(const double *lo, const double *hi, const double *glo, const double *ghi, int D)
{
  __m256d s = _mm256_setzero_pd(), z = _mm256_setzero_pd();
  double  r[4];
  int     d = 0;

  for (; d + 4 <= D; d += 4) {
    __m256d e = _mm256_sub_pd(_mm256_loadu_pd(lo + d), _mm256_loadu_pd(ghi + d));
    __m256d f = _mm256_sub_pd(_mm256_loadu_pd(glo + d), _mm256_loadu_pd(hi + d));
    e         = _mm256_max_pd(_mm256_max_pd(e, f), z);
    s         = _mm256_add_pd(s, _mm256_mul_pd(e, e));
  }
  _mm256_storeu_pd(r, s);
  r[0] = (r[0] + r[1]) + (r[2] + r[3]);
  for (; d < D; d++) {
    double e = lo[d] - ghi[d], f = glo[d] - hi[d];
    e = e > f ? e : f;
    if (e > 0.0) r[0] += e * e;
  }
  return r[0];
}

static inline double box_box_lb2(const knn_tree_t *t, pm_gidx_t nd, const double *glo, const double *ghi)
{
  int           D = t->dim, d = 0;
  const double *lo = t->box + 2 * D * nd, *hi = lo + D;
  __m128d       s = _mm_setzero_pd(), z = _mm_setzero_pd();
  double        r[2];

  if (t->avx2) return box_lb2_avx2(lo, hi, glo, ghi, D);
  /* two coordinates at a time: e = max(lo - ghi, glo - hi, 0); only a bound, so the grouping of
     the sum does not matter (the bounds carry a relative slack far above its rounding) */
  for (; d + 2 <= D; d += 2) {
    __m128d e = _mm_sub_pd(_mm_loadu_pd(lo + d), _mm_loadu_pd(ghi + d));
    __m128d f = _mm_sub_pd(_mm_loadu_pd(glo + d), _mm_loadu_pd(hi + d));
    e         = _mm_max_pd(_mm_max_pd(e, f), z);
    s         = _mm_add_pd(s, _mm_mul_pd(e, e));
  }
  _mm_storeu_pd(r, s);
  r[0] += r[1];
  for (; d < D; d++) {
    double e = lo[d] - ghi[d], f = glo[d] - hi[d];
    e = e > f ? e : f;
    if (e > 0.0) r[0] += e * e;
  }
  return r[0];
}

/* Exact squared distances of q to the np points of a transposed leaf (bitwise knn_dist2). */
__attribute__((target_clones("avx2", "default"))) static void leaf_dist2(const double *xt, int np, int D, const double *q, double *out)
{
  for (int p = 0; p < np; p++) out[p] = 0.0;
  for (int d = 0; d < D; d++) {
    const double *row = xt + (size_t)d * np;
    double        qd  = q[d];
    for (int p = 0; p < np; p++) {
      double e = qd - row[p];
      out[p] += e * e;
    }
  }
}

typedef struct {
  const knn_block_t *q;
  const pm_gidx_t   *rows; /* local rows of the group */
  int                ng;
  double            *glo, *ghi, *d2; /* group box; distances to one leaf */
  knn_lists_t       *L;
  knn_buf_t         *B;
  int64_t            count;
} group_t;

static double group_bound2(const group_t *G)
{
  double m = 0.0;
  for (int r = 0; r < G->ng; r++) m = G->L->bound2[G->rows[r]] > m ? G->L->bound2[G->rows[r]] : m;
  return m;
}

static void visit_leaf(const knn_tree_t *t, const node_t *N, group_t *G)
{
  int           D = t->dim, np = (int)(N->hi - N->lo);
  const double *xt = t->px + N->lo * D;

  for (int r = 0; r < G->ng; r++) {
    pm_gidx_t     i = G->rows[r];
    const double *q = G->q->x + i * D;
    if (G->ng > 1 && box_box_lb2(t, N - t->nodes, q, q) > G->L->bound2[i]) continue;
    leaf_dist2(xt, np, D, q, G->d2);
    for (int p0 = 0; p0 < np; p0 += 64) { /* passing points as a bit mask: no branch per point */
      int      p1 = p0 + 64 < np ? p0 + 64 : np;
      double   b  = G->L->bound2[i];
      uint64_t m  = 0;
      for (int p = p0; p < p1; p++) m |= (uint64_t)(G->d2[p] <= b) << (p - p0);
      while (m) {
        int p = p0 + __builtin_ctzll(m);
        m &= m - 1;
        knn_offer(G->L, G->B, r, i, G->d2[p], t->gid[N->lo + p]);
      }
    }
    G->count += np;
  }
}

static void query_node(const knn_tree_t *t, pm_gidx_t nd, group_t *G)
{
  const node_t *N = &t->nodes[nd];

  if (N->left < 0) {
    visit_leaf(t, N, G);
    return;
  }
  {
    double    ll = box_box_lb2(t, N->left, G->glo, G->ghi), lr = box_box_lb2(t, N->right, G->glo, G->ghi);
    pm_gidx_t a = N->left, b = N->right;
    if (lr < ll) {
      double s = ll;
      ll       = lr;
      lr       = s;
      a        = N->right;
      b        = N->left;
    }
    if (ll <= group_bound2(G)) query_node(t, a, G);
    if (lr <= group_bound2(G)) query_node(t, b, G);
  }
}

PetscErrorCode knn_tree_query(const knn_tree_t *t, const knn_block_t *q, const pm_gidx_t *order, pm_gidx_t nq, knn_lists_t *L, knn_buf_t *B, int64_t *count)
{
  group_t    G = {q, NULL, 0, NULL, NULL, NULL, L, B, 0};
  int        D = q->dim, gs = B->rows;
  pm_gidx_t *seq = NULL;
  double    *work;

  PetscFunctionBeginUser;
  if (t->n == 0) PetscFunctionReturn(PETSC_SUCCESS);
  if (!order) {
    PetscCall(PetscMalloc1(nq + 1, &seq));
    for (pm_gidx_t r = 0; r < nq; r++) seq[r] = r;
    order = seq;
  }
  PetscCall(PetscMalloc1(2 * D + t->maxleaf + 1, &work));
  G.glo = work;
  G.ghi = work + D;
  G.d2  = work + 2 * D;
  for (pm_gidx_t r0 = 0; r0 < nq; r0 += gs) {
    G.rows = order + r0;
    G.ng   = (int)(nq - r0 < gs ? nq - r0 : gs);
    for (int d = 0; d < D; d++) {
      G.glo[d] = PETSC_INFINITY;
      G.ghi[d] = -PETSC_INFINITY;
    }
    for (int r = 0; r < G.ng; r++)
      for (int d = 0; d < D; d++) {
        double v = q->x[G.rows[r] * D + d];
        G.glo[d] = v < G.glo[d] ? v : G.glo[d];
        G.ghi[d] = v > G.ghi[d] ? v : G.ghi[d];
      }
    if (box_box_lb2(t, 0, G.glo, G.ghi) <= group_bound2(&G)) query_node(t, 0, &G);
    for (int r = 0; r < G.ng; r++) knn_flush(L, B, r, G.rows[r]);
  }
  PetscCall(PetscFree(work));
  PetscCall(PetscFree(seq));
  *count += G.count;
  PetscFunctionReturn(PETSC_SUCCESS);
}
