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
#include <string.h>

typedef struct {
  pm_gidx_t lo, hi;      /* points [lo, hi) in tree order */
  pm_gidx_t left, right; /* children, -1 for a leaf */
  double    sv;          /* split value: left points have z[sd] <= sv, right ones >= sv */
  int       sd;          /* split coordinate */
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
  double     *box;  /* per node: mp lows then mp highs (frame coordinates) */
  char       *pack; /* gid, pt, px, nodes and box live in this one buffer (the packed layout) */
  PetscBool   view; /* pack belongs to somebody else (knn_tree_view) */
};

/* Quickselect (Hoare partition, middle pivot) of position m in [lo, hi) along coordinate d: the
 * values are x[perm[i] D + d], or with moved z[i D + d] and the rows of z move with perm. Both
 * make the same swaps, so the same order; the constant flag lets each caller get its own loop. */
static inline void select_core(pm_gidx_t *perm, double *z, const double *x, int D, int d, pm_gidx_t lo, pm_gidx_t hi, pm_gidx_t m, const int moved)
{
#define SEL_VAL(i) (moved ? z[(i) * D + d] : x[perm[i] * D + d])
  hi--;
  while (hi > lo) {
    double    pv = SEL_VAL(lo + (hi - lo) / 2);
    pm_gidx_t i = lo, j = hi;
    while (i <= j) {
      while (SEL_VAL(i) < pv) i++;
      while (SEL_VAL(j) > pv) j--;
      if (i <= j) {
        pm_gidx_t s = perm[i];
        perm[i]     = perm[j];
        perm[j]     = s;
        if (moved)
          for (int c = 0; c < D; c++) {
            double v     = z[i * D + c];
            z[i * D + c] = z[j * D + c];
            z[j * D + c] = v;
          }
        i++;
        j--;
      }
    }
    if (m <= j)
      hi = j;
    else if (m >= i)
      lo = i;
    else
      break;
  }
#undef SEL_VAL
}

void knn_select_nth(pm_gidx_t *perm, const double *x, int D, int d, pm_gidx_t lo, pm_gidx_t hi, pm_gidx_t m)
{
  select_core(perm, NULL, x, D, d, lo, hi, m, 0);
}

/* Tight box of node nd over the frame coordinates z (stride mp, rows in tree order). */
static void node_box(knn_tree_t *t, const double *z, pm_gidx_t nd)
{
  int     M  = t->mp;
  double *lo = t->box + 2 * M * nd, *hi = lo + M;

  for (int d = 0; d < M; d++) {
    lo[d] = PETSC_INFINITY;
    hi[d] = -PETSC_INFINITY;
  }
  for (pm_gidx_t p = t->nodes[nd].lo; p < t->nodes[nd].hi; p++) {
    const double *y = z + p * M;
    for (int d = 0; d < M; d++) {
      lo[d] = y[d] < lo[d] ? y[d] : lo[d];
      hi[d] = y[d] > hi[d] ? y[d] : hi[d];
    }
  }
}

static void build_node(knn_tree_t *t, double *z, pm_gidx_t nd)
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
    select_core(t->perm, z, NULL, M, best, N->lo, N->hi, m, 1); /* the rows move: sequential access */
    t->nnodes += 2;
    t->nodes[l]        = (node_t){N->lo, m, -1, -1, 0.0, 0};
    t->nodes[r]        = (node_t){m, N->hi, -1, -1, 0.0, 0};
    t->nodes[nd].left  = l;
    t->nodes[nd].right = r;
    t->nodes[nd].sd    = best;
    t->nodes[nd].sv    = z[m * M + best];
    build_node(t, z, l);
    build_node(t, z, r);
  }
}

/* Frame coordinates of the block's rows (n x mp; the build moves them into tree order) and the
 * largest projection error. */
static PetscErrorCode project_block(knn_tree_t *t, const knn_block_t *b, double **z)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(b->n * t->mp + 1, z));
  PetscCall(knn_frame_project_rows(&t->F, b->x, b->n, *z, &t->emax));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Packed tree: this header, then the arrays one after another, each at a multiple of 64 bytes:
 * the input-coordinate box of the points (2 dim), the frame's mu (dim) and R (mp dim) when
 * rotated, gid (n), the leaves pt (n M), px (n dim) when rotated, the nodes and their boxes (room
 * for ncap nodes: 2 ceil(n / leaf) - 1, the most the splits can make). A tree is built straight
 * into this layout, so it is sent as it is. */
typedef struct {
  int64_t n, start, nnodes, ncap, maxleaf;
  int32_t dim, leaf, mp, fm, rotated, pad;
  double  emax, grow, cE, c1, c2;
} tree_head_t;

typedef struct {
  size_t off[8], sz[8], bytes;
} tree_layout_t;

static void tree_layout(const tree_head_t *h, tree_layout_t *L)
{
  size_t *sz = L->sz, o = (sizeof(tree_head_t) + 63) / 64 * 64;
  int     M = h->rotated ? h->fm : h->dim, r = h->rotated ? 1 : 0;

  sz[0] = 2 * (size_t)h->dim * sizeof(double);            /* input box */
  sz[1] = r * (size_t)h->dim * sizeof(double);            /* mu */
  sz[2] = r * (size_t)h->mp * h->dim * sizeof(double);    /* R */
  sz[3] = (size_t)h->n * sizeof(pm_gidx_t);               /* gid */
  sz[4] = (size_t)h->n * M * sizeof(double);              /* pt */
  sz[5] = r * (size_t)h->n * h->dim * sizeof(double);     /* px */
  sz[6] = (size_t)h->ncap * sizeof(node_t);               /* nodes */
  sz[7] = (size_t)h->ncap * 2 * h->mp * sizeof(double);   /* box */
  for (int a = 0; a < 8; a++) {
    L->off[a] = o;
    o += (sz[a] + 63) / 64 * 64;
  }
  L->bytes = o;
}

static void tree_head(const knn_tree_t *t, tree_head_t *h)
{
  *h = (tree_head_t){t->n, t->start, t->nnodes, t->cap, t->maxleaf, t->dim, t->leaf, t->mp, t->F.m, t->F.R ? 1 : 0, 0, t->emax, t->F.grow, t->F.cE, t->F.c1, t->F.c2};
}

/* The buffer of a new tree (frame known): the arrays point into it; every padding is zeroed (the
 * buffer is sent whole). */
static PetscErrorCode tree_alloc(knn_tree_t *t)
{
  tree_head_t   h;
  tree_layout_t L;

  PetscFunctionBeginUser;
  tree_head(t, &h);
  tree_layout(&h, &L);
  PetscCall(pm_malloc_placed(L.bytes, (void **)&t->pack)); /* written whole, and sent whole */
  memset(t->pack, 0, L.off[0]);
  for (int a = 0; a < 8; a++) memset(t->pack + L.off[a] + L.sz[a], 0, (a < 7 ? L.off[a + 1] : L.bytes) - L.off[a] - L.sz[a]);
  t->gid   = (pm_gidx_t *)(t->pack + L.off[3]);
  t->pt    = (double *)(t->pack + L.off[4]);
  t->px    = t->F.R ? (double *)(t->pack + L.off[5]) : NULL;
  t->nodes = (node_t *)(t->pack + L.off[6]);
  t->box   = (double *)(t->pack + L.off[7]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Leaf storage: transposed frame coordinates (z in tree order) and, when rotated, the input rows
 * in tree order. */
static void store_leaves(knn_tree_t *t, const knn_block_t *b, const double *z)
{
  int M = t->F.R ? t->F.m : t->dim, S = t->F.R ? t->mp : t->dim, D = t->dim;

  if (t->F.R)
    for (pm_gidx_t p = 0; p < b->n; p++)
      for (int d = 0; d < D; d++) t->px[p * D + d] = b->x[t->perm[p] * D + d];
  for (pm_gidx_t nd = 0; nd < t->nnodes; nd++) {
    node_t   *N = &t->nodes[nd];
    pm_gidx_t np = N->hi - N->lo;
    if (N->left >= 0) continue;
    if (np > t->maxleaf) t->maxleaf = np;
    for (pm_gidx_t p = N->lo; p < N->hi; p++)
      for (int d = 0; d < M; d++) t->pt[N->lo * M + d * np + (p - N->lo)] = z[p * S + d];
  }
}

PetscErrorCode knn_tree_create_frame(const knn_block_t *b, int leaf, PetscBool rotate, knn_tree_t **tree)
{
  knn_tree_t *t;
  double     *z = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&t));
  t->dim   = b->dim;
  t->leaf  = leaf < 2 ? 2 : leaf;
  t->avx2  = knn_simd() >= 2;
  t->n     = b->n;
  t->start = b->start;
  t->cap   = b->n > 0 ? 2 * ((b->n + t->leaf - 1) / t->leaf) - 1 : 1; /* a binary tree over ceil(n / leaf) leaves */
  if (rotate)
    PetscCall(knn_frame_local(b, &t->F));
  else
    knn_frame_identity(b->dim, &t->F);
  t->mp = t->F.mp;
  PetscCall(project_block(t, b, &z));
  PetscCall(tree_alloc(t));
  PetscCall(PetscMalloc1(b->n + 1, &t->perm));
  for (pm_gidx_t p = 0; p < b->n; p++) t->perm[p] = p;
  t->nodes[0] = (node_t){0, b->n, -1, -1, 0.0, 0};
  t->nnodes   = 1;
  if (b->n > 0) build_node(t, z, 0);
  for (pm_gidx_t p = 0; p < b->n; p++) t->gid[p] = b->gidx ? b->gidx[t->perm[p]] : b->start + t->perm[p];
  store_leaves(t, b, z);
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
  if (!(*tree)->view) {
    knn_frame_free(&(*tree)->F);
    PetscCall(PetscFree((*tree)->perm));
    PetscCall(PetscFree((*tree)->pack));
  }
  PetscCall(PetscFree(*tree));
  PetscFunctionReturn(PETSC_SUCCESS);
}

const char *knn_tree_packed(knn_tree_t *t, const double *xbox, size_t *bytes)
{
  tree_head_t   h;
  tree_layout_t L;

  tree_head(t, &h);
  tree_layout(&h, &L);
  memcpy(t->pack, &h, sizeof h);
  memcpy(t->pack + L.off[0], xbox, L.sz[0]);
  if (t->F.R) {
    memcpy(t->pack + L.off[1], t->F.mu, L.sz[1]);
    memcpy(t->pack + L.off[2], t->F.R, L.sz[2]);
  }
  *bytes = L.bytes;
  return t->pack;
}

PetscErrorCode knn_tree_view(const char *buf, knn_tree_t **tree, const double **xbox, pm_gidx_t *n)
{
  tree_head_t   h;
  tree_layout_t L;
  knn_tree_t   *t;

  PetscFunctionBeginUser;
  memcpy(&h, buf, sizeof h);
  tree_layout(&h, &L);
  PetscCall(PetscNew(&t));
  t->dim     = h.dim;
  t->leaf    = h.leaf;
  t->avx2    = knn_simd() >= 2;
  t->mp      = h.mp;
  t->n       = h.n;
  t->start   = h.start;
  t->nnodes  = h.nnodes;
  t->cap     = h.ncap;
  t->maxleaf = h.maxleaf;
  t->emax    = h.emax;
  t->view    = PETSC_TRUE;
  knn_frame_identity(h.dim, &t->F);
  if (h.rotated) {
    t->F  = (knn_frame_t){h.dim, h.fm, h.mp, (double *)(buf + L.off[1]), (double *)(buf + L.off[2]), h.grow, h.cE, h.c1, h.c2};
    t->px = (double *)(buf + L.off[5]);
  }
  t->gid   = (pm_gidx_t *)(buf + L.off[3]);
  t->pt    = (double *)(buf + L.off[4]);
  t->nodes = (node_t *)(buf + L.off[6]);
  t->box   = (double *)(buf + L.off[7]);
  *xbox    = (const double *)(buf + L.off[0]);
  *n       = h.n;
  *tree    = t;
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

typedef struct {
  const knn_block_t *q;
  pm_gidx_t         *rows; /* local rows of the group (those that can reach the tree at all) */
  int                ng;
  double            *zq, *aq;   /* frame coordinates (ng x mp) and error bounds of the rows */
  double            *bq, *tq;   /* per row: the bound its threshold was computed for, the threshold */
  double            *glo, *ghi; /* group box (frame coordinates) */
  double            *cq;        /* centre of the group box */
  double            *d2, *w;    /* distances to one leaf; projection scratch */
  double             amax, tg;  /* largest row error bound; group threshold (largest row threshold) */
  knn_lists_t       *L;
  knn_buf_t         *B;
  int64_t            count;
} group_t;

/* Threshold of row r for its current bound (recomputed only when the bound changed). */
static inline double row_thresh(const knn_tree_t *t, group_t *G, int r)
{
  double b = G->L->bound2[G->rows[r]];
  if (b != G->bq[r]) {
    G->bq[r] = b;
    G->tq[r] = knn_frame_thresh(&t->F, b, G->aq[r]);
  }
  return G->tq[r];
}

/* leaf_mask's bits for the points [p0, *pend) of [p0, p1), four at a time. */
__attribute__((target("avx2"))) static uint64_t leaf_mask_avx2(const double *xt, int np, int M, const double *z, double lim, int p0, int p1, int *pend)
{
  int      p = p0;
  uint64_t m = 0;
  __m256d  l = _mm256_set1_pd(lim);

  for (; p + 4 <= p1; p += 4) {
    __m256d s = _mm256_setzero_pd();
    for (int d = 0; d < M; d++) {
      __m256d e = _mm256_sub_pd(_mm256_set1_pd(z[d]), _mm256_loadu_pd(xt + (size_t)d * np + p));
      s         = _mm256_add_pd(s, _mm256_mul_pd(e, e));
    }
    m |= (uint64_t)_mm256_movemask_pd(_mm256_cmp_pd(s, l, _CMP_LE_OQ)) << (p - p0);
  }
  *pend = p;
  return m;
}

/* Bit p of the result: point p0 + p of the transposed leaf xt (np points, M rows) has
 * sum_d (z_d - x_d)^2 <= lim, for p < min(64, np - p0). Frame distances only (a filter). The AVX2
 * version takes groups of 4 points, the loop here the rest (all of them without AVX2). */
static uint64_t leaf_mask(const knn_tree_t *t, const double *xt, int np, int M, const double *z, double lim, int p0)
{
  int      p1 = p0 + 64 < np ? p0 + 64 : np, p = p0;
  uint64_t m  = t->avx2 ? leaf_mask_avx2(xt, np, M, z, lim, p0, p1, &p) : 0;

  for (; p < p1; p++) {
    double s = 0.0;
    for (int d = 0; d < M; d++) s += (z[d] - xt[(size_t)d * np + p]) * (z[d] - xt[(size_t)d * np + p]);
    m |= (uint64_t)(s <= lim) << (p - p0);
  }
  return m;
}

/* Exact squared distances of x to rows a, b, c, e (D columns): four sums side by side, each over
 * the coordinates in order with the operations of knn_dist2 (the same bits). */
__attribute__((target("avx2"))) static void exact4_avx2(const double *x, const double *a, const double *b, const double *c, const double *e, int D, double *out)
{
  __m256d s = _mm256_setzero_pd();
  for (int d = 0; d < D; d++) {
    __m256d t = _mm256_sub_pd(_mm256_set1_pd(x[d]), _mm256_set_pd(e[d], c[d], b[d], a[d]));
    s         = _mm256_add_pd(s, _mm256_mul_pd(t, t));
  }
  _mm256_storeu_pd(out, s);
}

/* Offer the points of mask m (bit p: leaf point p0 + p) to row r, measured exactly first. */
static void offer_exact(const knn_tree_t *t, const node_t *N, group_t *G, int r, uint64_t m, int p0)
{
  int           D = t->dim, idx[64], n = 0;
  pm_gidx_t     i = G->rows[r];
  const double *x = G->q->x + i * D, *y = t->px + N->lo * D;
  double        d4[4];

  while (m) {
    idx[n++] = p0 + __builtin_ctzll(m);
    m &= m - 1;
  }
  for (int j = 0; j < n; j += 4) {
    int nj = n - j < 4 ? n - j : 4;
    if (nj == 4 && t->avx2)
      exact4_avx2(x, y + idx[j] * D, y + idx[j + 1] * D, y + idx[j + 2] * D, y + idx[j + 3] * D, D, d4);
    else
      for (int c = 0; c < nj; c++) d4[c] = knn_dist2(x, y + idx[j + c] * D, D);
    for (int c = 0; c < nj; c++) knn_offer(G->L, G->B, r, i, d4[c], t->gid[N->lo + idx[j + c]]);
  }
}

/* Identity frame: d2 holds the exact distances; offer those <= the row's bound. */
static void offer_d2(const knn_tree_t *t, const node_t *N, group_t *G, int r)
{
  int       np = (int)(N->hi - N->lo);
  pm_gidx_t i  = G->rows[r];

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
}

static void visit_leaf(const knn_tree_t *t, const node_t *N, group_t *G)
{
  int           M = t->F.R ? t->F.m : t->dim, np = (int)(N->hi - N->lo), k = G->L->k;
  const double *xt = t->pt + N->lo * M;
  double        bmax = 0.0;

  for (int r = 0; r < G->ng; r++) {
    const double *z = G->zq + r * t->mp;
    pm_gidx_t     i = G->rows[r];
    if (G->ng == 1 || box_box_lb2(t, N - t->nodes, z, z) <= row_thresh(t, G, r)) {
      if (t->F.R)
        for (int p0 = 0; p0 < np; p0 += 64) offer_exact(t, N, G, r, leaf_mask(t, xt, np, M, z, row_thresh(t, G, r), p0), p0);
      else {
        leaf_dist2(xt, np, M, z, G->d2);
        offer_d2(t, N, G, r);
      }
      /* the first k candidates of a row set its bound at once */
      if (G->L->fill[i] < k && G->L->fill[i] + G->B->cnt[r] >= k) knn_flush(G->L, G->B, r, i);
      G->count += np;
    }
    bmax = G->L->bound2[i] > bmax ? G->L->bound2[i] : bmax;
  }
  G->tg = knn_frame_thresh(&t->F, bmax, G->amax);
}

/* Children in the order of the group's centre against the split (near side first); each is
 * entered when its box is within the group threshold, checked just before (the threshold shrinks
 * while the near side is searched). */
static void query_node(const knn_tree_t *t, pm_gidx_t nd, group_t *G)
{
  const node_t *N = &t->nodes[nd];
  pm_gidx_t     a, b;

  if (N->left < 0) {
    visit_leaf(t, N, G);
    return;
  }
  a = G->cq[N->sd] < N->sv ? N->left : N->right;
  b = a == N->left ? N->right : N->left;
  if (box_box_lb2(t, a, G->glo, G->ghi) <= G->tg) query_node(t, a, G);
  if (box_box_lb2(t, b, G->glo, G->ghi) <= G->tg) query_node(t, b, G);
}

/* Frame coordinates and error bounds of the group's rows (local rows `rows`, n of them); keeps
 * only the rows whose threshold reaches the tree's root box (the test visit_leaf makes at a leaf),
 * so a group of which only a few rows lie near a remote cell searches with their box alone. Then
 * the group box and threshold. */
static void group_setup(const knn_tree_t *t, group_t *G, const pm_gidx_t *rows, int n)
{
  int M = t->mp;

  G->ng = 0;
  for (int r = 0; r < n; r++) {
    double *z = G->zq + G->ng * M, a = knn_frame_project(&t->F, G->q->x + rows[r] * G->q->dim, z, G->w) + t->emax;
    if (box_box_lb2(t, 0, z, z) > knn_frame_thresh(&t->F, G->L->bound2[rows[r]], a)) continue;
    G->rows[G->ng] = rows[r];
    G->aq[G->ng]   = a;
    G->bq[G->ng]   = -1.0; /* no threshold yet */
    G->ng++;
  }
  for (int d = 0; d < M; d++) {
    G->glo[d] = PETSC_INFINITY;
    G->ghi[d] = -PETSC_INFINITY;
  }
  G->amax = 0.0;
  for (int r = 0; r < G->ng; r++) {
    const double *z = G->zq + r * M;
    G->amax         = G->aq[r] > G->amax ? G->aq[r] : G->amax;
    for (int d = 0; d < M; d++) {
      G->glo[d] = z[d] < G->glo[d] ? z[d] : G->glo[d];
      G->ghi[d] = z[d] > G->ghi[d] ? z[d] : G->ghi[d];
    }
  }
  for (int d = 0; d < M; d++) G->cq[d] = 0.5 * (G->glo[d] + G->ghi[d]);
  {
    double m = 0.0;
    for (int r = 0; r < G->ng; r++) m = G->L->bound2[G->rows[r]] > m ? G->L->bound2[G->rows[r]] : m;
    G->tg = knn_frame_thresh(&t->F, m, G->amax);
  }
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
  PetscCall(PetscMalloc1((size_t)gs * (M + 3) + 3 * M + t->maxleaf + q->dim + 1, &work));
  G.q   = q;
  G.L   = L;
  G.B   = B;
  G.zq  = work;
  G.aq  = G.zq + (size_t)gs * M;
  G.glo = G.aq + gs;
  G.ghi = G.glo + M;
  G.cq  = G.ghi + M;
  G.bq  = G.cq + M;
  G.tq  = G.bq + gs;
  G.d2  = G.tq + gs;
  G.w   = G.d2 + t->maxleaf;
  PetscCall(PetscMalloc1(gs, &G.rows));
  for (pm_gidx_t r0 = 0; r0 < nq; r0 += gs) {
    group_setup(t, &G, order + r0, (int)(nq - r0 < gs ? nq - r0 : gs));
    if (G.ng && box_box_lb2(t, 0, G.glo, G.ghi) <= G.tg) query_node(t, 0, &G);
    for (int r = 0; r < G.ng; r++) knn_flush(L, B, r, G.rows[r]);
  }
  PetscCall(PetscFree(G.rows));
  PetscCall(PetscFree(work));
  PetscCall(PetscFree(seq));
  *count += G.count;
  PetscFunctionReturn(PETSC_SUCCESS);
}

int knn_tree_frame_dims(const knn_tree_t *t)
{
  return t->F.R ? t->F.m : 0;
}
