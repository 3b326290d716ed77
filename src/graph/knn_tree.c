/* kd-tree over one block of points, queried by groups of nearby rows (consecutive in the own
 * tree's order) with each row's current k-th distance as pruning radius: one traversal per group,
 * box-to-box bounds, and at a leaf the distances of one row to all leaf points at once (leaf
 * coordinates stored transposed, so the loop runs across points).
 *
 * Frame (knn_frame.c): a block near an m-dimensional linear subspace (m <= D/2) is split, boxed
 * and pre-filtered in its principal-axes frame (m coordinates): a leaf point whose frame distance
 * exceeds the row's rigorous threshold cannot be a neighbour; the others are measured exactly with
 * knn_dist2 on the input coordinates. Otherwise the frame is the identity and the leaf distances
 * are the exact ones (the same bits as knn_dist2: each sum runs over the coordinates in order).
 *
 * Splits: at the multiple of `leaf` nearest the median, so every leaf but the last holds exactly
 * `leaf` points and starts at a multiple of `leaf` in tree order: query groups of `leaf`
 * consecutive rows of the own tree are exactly its leaves. */
#include "graph/knn_frame.h"
#include <immintrin.h>

typedef struct {
  pm_gidx_t lo, hi;      /* points [lo, hi) in tree order */
  pm_gidx_t left, right; /* children, -1 for a leaf */
} node_t;

struct knn_tree {
  int         dim, leaf, avx2, mp; /* mp: frame coordinates (boxes) */
  knn_frame_t F;
  pm_gidx_t   n, start, nnodes, cap;
  pm_gidx_t   maxleaf; /* largest leaf: above `leaf` when identical points cannot be split */
  pm_gidx_t  *perm;    /* tree position -> local row of the block */
  pm_gidx_t  *gid;     /* tree position -> global index */
  double     *pt;      /* leaf by leaf, transposed frame coordinates: leaf [lo, hi) holds F.m
                          (identity: dim) rows of hi - lo values */
  double     *px;      /* rotated frame: input coordinates in tree order (n x dim); else NULL */
  double      emax;    /* largest projection error bound e(y) of the tree's points */
  node_t     *nodes;
  double     *box; /* per node: mp lows then mp highs (frame coordinates) */
};

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

/* Tight box of node nd over the frame coordinates z (stride mp). */
static void node_box(knn_tree_t *t, const double *z, pm_gidx_t nd)
{
  int     M  = t->mp;
  double *lo = t->box + 2 * M * nd, *hi = lo + M;

  for (int d = 0; d < M; d++) {
    lo[d] = PETSC_INFINITY;
    hi[d] = -PETSC_INFINITY;
  }
  for (pm_gidx_t p = t->nodes[nd].lo; p < t->nodes[nd].hi; p++) {
    const double *y = z + t->perm[p] * M;
    for (int d = 0; d < M; d++) {
      lo[d] = y[d] < lo[d] ? y[d] : lo[d];
      hi[d] = y[d] > hi[d] ? y[d] : hi[d];
    }
  }
}

static void build_node(knn_tree_t *t, const double *z, pm_gidx_t nd)
{
  int       M = t->mp, best = 0;
  double   *lo, *hi, w = -1.0;
  node_t   *N = &t->nodes[nd];
  pm_gidx_t nq;

  node_box(t, z, nd);
  N->left = N->right = -1;
  if (N->hi - N->lo <= t->leaf) return;
  lo = t->box + 2 * M * nd;
  hi = lo + M;
  for (int d = 0; d < M; d++)
    if (hi[d] - lo[d] > w) {
      w    = hi[d] - lo[d];
      best = d;
    }
  if (w <= 0.0) return; /* all points identical: keep one leaf */
  nq = (N->hi - N->lo + t->leaf - 1) / t->leaf; /* leaves below; the left side gets half of them, full */
  {
    pm_gidx_t m = N->lo + nq / 2 * t->leaf, l = t->nnodes, r = t->nnodes + 1;
    PM_ASSERT(t->nnodes + 2 <= t->cap);
    knn_select_nth(t->perm, z, M, best, N->lo, N->hi, m);
    t->nnodes += 2;
    t->nodes[l]        = (node_t){N->lo, m, -1, -1};
    t->nodes[r]        = (node_t){m, N->hi, -1, -1};
    t->nodes[nd].left  = l;
    t->nodes[nd].right = r;
    build_node(t, z, l);
    build_node(t, z, r);
  }
}

/* Frame coordinates of the block's rows (n x mp) and the largest projection error. */
static PetscErrorCode project_block(knn_tree_t *t, const knn_block_t *b, double **z)
{
  double *w;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(b->n * t->mp + 1, z));
  PetscCall(PetscMalloc1(b->dim, &w));
  for (pm_gidx_t r = 0; r < b->n; r++) {
    double e = knn_frame_project(&t->F, b->x + r * b->dim, *z + r * t->mp, w);
    t->emax  = e > t->emax ? e : t->emax;
  }
  PetscCall(PetscFree(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Leaf storage: transposed frame coordinates (and the input rows in tree order when rotated). */
static PetscErrorCode store_leaves(knn_tree_t *t, const knn_block_t *b, const double *z)
{
  int M = t->F.R ? t->F.m : t->dim, S = t->F.R ? t->mp : t->dim, D = t->dim;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(b->n * M + 1, &t->pt));
  if (t->F.R) {
    PetscCall(PetscMalloc1(b->n * D + 1, &t->px));
    for (pm_gidx_t p = 0; p < b->n; p++)
      for (int d = 0; d < D; d++) t->px[p * D + d] = b->x[t->perm[p] * D + d];
  }
  for (pm_gidx_t nd = 0; nd < t->nnodes; nd++) {
    node_t   *N = &t->nodes[nd];
    pm_gidx_t np = N->hi - N->lo;
    if (N->left >= 0) continue;
    if (np > t->maxleaf) t->maxleaf = np;
    for (pm_gidx_t p = N->lo; p < N->hi; p++)
      for (int d = 0; d < M; d++) t->pt[N->lo * M + d * np + (p - N->lo)] = z[t->perm[p] * S + d];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_tree_create_frame(const knn_block_t *b, int leaf, PetscBool rotate, knn_tree_t **tree)
{
  knn_tree_t *t;
  double     *z = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&t));
  t->dim   = b->dim;
  t->leaf  = leaf < 2 ? 2 : leaf;
  t->avx2  = __builtin_cpu_supports("avx2");
  t->n     = b->n;
  t->start = b->start;
  t->cap   = 4 * (b->n / t->leaf + 1) + 3;
  if (rotate)
    PetscCall(knn_frame_local(b, &t->F));
  else
    knn_frame_identity(b->dim, &t->F);
  t->mp = t->F.mp;
  if (t->F.R) PetscCall(project_block(t, b, &z));
  PetscCall(PetscMalloc1(b->n + 1, &t->perm));
  PetscCall(PetscMalloc1(b->n + 1, &t->gid));
  PetscCall(PetscMalloc1(t->cap, &t->nodes));
  PetscCall(PetscMalloc1(t->cap * 2 * t->mp, &t->box));
  for (pm_gidx_t p = 0; p < b->n; p++) t->perm[p] = p;
  t->nodes[0] = (node_t){0, b->n, -1, -1};
  t->nnodes   = 1;
  if (b->n > 0) build_node(t, z ? z : b->x, 0);
  for (pm_gidx_t p = 0; p < b->n; p++) t->gid[p] = b->gidx ? b->gidx[t->perm[p]] : b->start + t->perm[p];
  PetscCall(store_leaves(t, b, z ? z : b->x));
  PetscCall(PetscFree(z));
  *tree = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_tree_create(const knn_block_t *b, int leaf, knn_tree_t **tree)
{
  PetscFunctionBeginUser;
  PetscCall(knn_tree_create_frame(b, leaf, PETSC_TRUE, tree));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_tree_destroy(knn_tree_t **tree)
{
  PetscFunctionBeginUser;
  if (!*tree) PetscFunctionReturn(PETSC_SUCCESS);
  knn_frame_free(&(*tree)->F);
  PetscCall(PetscFree((*tree)->perm));
  PetscCall(PetscFree((*tree)->gid));
  PetscCall(PetscFree((*tree)->pt));
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
  int           D = t->mp, d = 0;
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

int64_t knn_npass, knn_nacc;
typedef struct {
  const knn_block_t *q;
  const pm_gidx_t   *rows; /* local rows of the group */
  int                ng;
  double            *zq, *aq;     /* frame coordinates (ng x mp) and error bounds of the rows */
  double            *glo, *ghi;   /* group box (frame coordinates) */
  double            *d2, *ex, *w; /* distances to one leaf, exact ones of the passing points; projection scratch */
  int               *idx;         /* passing points of a leaf */
  double             tg;          /* group threshold: the largest row threshold */
  knn_lists_t       *L;
  knn_buf_t         *B;
  int64_t            count;
} group_t;

static double row_thresh(const knn_tree_t *t, const group_t *G, int r)
{
  return knn_frame_thresh(&t->F, G->L->bound2[G->rows[r]], G->aq[r]);
}

static void group_thresh(const knn_tree_t *t, group_t *G)
{
  double m = 0.0, a = 0.0;
  for (int r = 0; r < G->ng; r++) {
    double b = G->L->bound2[G->rows[r]];
    m        = b > m ? b : m;
    a        = G->aq[r] > a ? G->aq[r] : a;
  }
  G->tg = knn_frame_thresh(&t->F, m, a);
}

/* Exact squared distances of x to the n rows idx of y (row-major, D columns), four independent
 * sums at a time; each sum runs over the coordinates in order (bitwise knn_dist2). */
static void exact_dist2(const double *x, const double *y, int D, const int *idx, int n, double *out)
{
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const double *a = y + (size_t)idx[j] * D, *b = y + (size_t)idx[j + 1] * D, *c = y + (size_t)idx[j + 2] * D, *e = y + (size_t)idx[j + 3] * D;
    double        s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    for (int d = 0; d < D; d++) {
      double t0 = x[d] - a[d], t1 = x[d] - b[d], t2 = x[d] - c[d], t3 = x[d] - e[d];
      s0 += t0 * t0;
      s1 += t1 * t1;
      s2 += t2 * t2;
      s3 += t3 * t3;
    }
    out[j]     = s0;
    out[j + 1] = s1;
    out[j + 2] = s2;
    out[j + 3] = s3;
  }
  for (; j < n; j++) out[j] = knn_dist2(x, y + (size_t)idx[j] * D, D);
}

/* Offer the leaf points whose value in d2 is <= lim: exact distances already (identity frame), or
 * frame distances, in which case the passing points are measured exactly first. */
static void offer_leaf(const knn_tree_t *t, const node_t *N, group_t *G, int r, double lim)
{
  int           D = t->dim, np = (int)(N->hi - N->lo), n = 0;
  pm_gidx_t     i = G->rows[r];
  const double *x = G->q->x + i * D;

  for (int p = 0; p < np; p++) { /* branch-free compaction of the passing points */
    G->idx[n] = p;
    n += G->d2[p] <= lim;
  }
  if (t->F.R) {
    exact_dist2(x, t->px + N->lo * D, D, G->idx, n, G->ex);
    for (int j = 0; j < n; j++) knn_offer(G->L, G->B, r, i, G->ex[j], t->gid[N->lo + G->idx[j]]);
  } else
    for (int j = 0; j < n; j++) knn_offer(G->L, G->B, r, i, G->d2[G->idx[j]], t->gid[N->lo + G->idx[j]]);
}

static void visit_leaf(const knn_tree_t *t, const node_t *N, group_t *G)
{
  int           M  = t->F.R ? t->F.m : t->dim, np = (int)(N->hi - N->lo);
  const double *xt = t->pt + N->lo * M;

  for (int r = 0; r < G->ng; r++) {
    const double *z = G->zq + r * t->mp;
    double        T = row_thresh(t, G, r);
    if (G->ng > 1 && box_box_lb2(t, N - t->nodes, z, z) > T) continue;
    leaf_dist2(xt, np, M, z, G->d2);
    offer_leaf(t, N, G, r, t->F.R ? row_thresh(t, G, r) : G->L->bound2[G->rows[r]]);
    G->count += np;
  }
  group_thresh(t, G);
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
    if (ll <= G->tg) query_node(t, a, G);
    if (lr <= G->tg) query_node(t, b, G);
  }
}

/* Frame coordinates, error bounds and box of the group's rows. */
static void group_setup(const knn_tree_t *t, group_t *G)
{
  int M = t->mp;

  for (int d = 0; d < M; d++) {
    G->glo[d] = PETSC_INFINITY;
    G->ghi[d] = -PETSC_INFINITY;
  }
  for (int r = 0; r < G->ng; r++) {
    double *z = G->zq + r * M;
    G->aq[r]  = knn_frame_project(&t->F, G->q->x + G->rows[r] * G->q->dim, z, G->w) + t->emax;
    for (int d = 0; d < M; d++) {
      G->glo[d] = z[d] < G->glo[d] ? z[d] : G->glo[d];
      G->ghi[d] = z[d] > G->ghi[d] ? z[d] : G->ghi[d];
    }
  }
  group_thresh(t, G);
}

PetscErrorCode knn_tree_query(const knn_tree_t *t, const knn_block_t *q, const pm_gidx_t *order, pm_gidx_t nq, knn_lists_t *L, knn_buf_t *B, int64_t *count)
{
  group_t    G  = {0};
  int        gs = B->rows, M = t->mp;
  pm_gidx_t *seq = NULL;
  double    *work;

  PetscFunctionBeginUser;
  if (t->n == 0) PetscFunctionReturn(PETSC_SUCCESS);
  if (!order) {
    PetscCall(PetscMalloc1(nq + 1, &seq));
    for (pm_gidx_t r = 0; r < nq; r++) seq[r] = r;
    order = seq;
  }
  PetscCall(PetscMalloc1((size_t)gs * (M + 1) + 2 * M + 2 * t->maxleaf + q->dim + 1, &work));
  PetscCall(PetscMalloc1(t->maxleaf + 1, &G.idx));
  G.q   = q;
  G.L   = L;
  G.B   = B;
  G.zq  = work;
  G.aq  = G.zq + (size_t)gs * M;
  G.glo = G.aq + gs;
  G.ghi = G.glo + M;
  G.d2  = G.ghi + M;
  G.ex  = G.d2 + t->maxleaf;
  G.w   = G.ex + t->maxleaf;
  for (pm_gidx_t r0 = 0; r0 < nq; r0 += gs) {
    G.rows = order + r0;
    G.ng   = (int)(nq - r0 < gs ? nq - r0 : gs);
    group_setup(t, &G);
    if (box_box_lb2(t, 0, G.glo, G.ghi) <= G.tg) query_node(t, 0, &G);
    for (int r = 0; r < G.ng; r++) knn_flush(L, B, r, G.rows[r]);
  }
  PetscCall(PetscFree(work));
  PetscCall(PetscFree(G.idx));
  PetscCall(PetscFree(seq));
  *count += G.count;
  PetscFunctionReturn(PETSC_SUCCESS);
}

int knn_tree_frame_dims(const knn_tree_t *t)
{
  return t->F.R ? t->F.m : 0;
}
