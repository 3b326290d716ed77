/* Private kNN builder state and kernels (src/graph only). */
#pragma once
#include <phasemap/graph.h>
#include <math.h>

#define PM_KNN_K_DEFAULT    100
#define PM_KNN_TILE_DEFAULT 128
#define PM_KNN_LEAF_DEFAULT 16
#define PM_KNN_HALF_MIN_ROWS 32768
#define KNN_TREE_BUF        64   /* candidate buffer of a tree query: small, the bound prunes */
#define KNN_ROW_GROUP       1024 /* brute force: local rows searched together (see knn_brute_group) */
#define KNN_SYM_CAP         64   /* brute force, symmetric: candidate buffer of each local row (knn_rows.c) */

struct pm_knn {
  MPI_Comm        comm; /* duplicated: ring messages match nobody else's */
  int             k;
  PetscBool       k_explicit; /* set by pm_knn_set_k or -knn_k: never clipped */
  pm_knn_method_t method;
  pm_dup_mode_t   dup;
  int             tile; /* rows and columns of one distance tile */
  int             leaf; /* points per kd-tree leaf */
  PetscBool       prebound;      /* brute force: provisional bounds (knn_prebound.c) */
  PetscBool       filter32;      /* brute force: the filter in single precision where it can (knn_tile32.c) */
  PetscBool       symmetric;     /* brute force: the own block searched once for both sides (knn_rows.c) */
  pm_gidx_t       half_min_rows; /* brute force, P > 1: the half ring only for blocks of at least this many rows (knn_ring.c) */
  int             prebound_rank; /* their sample rank j (0: from k, m and N) */
  pm_gidx_t       n_researched;  /* rows the last brute-force search searched again (all ranks) */
  PetscLogEvent   ev_build, ev_tile, ev_tree, ev_ring, ev_final, ev_probe, ev_cells, ev_return, ev_prebound;
};

/* A block of points in the input coordinates: global index of row r is gidx[r], or start + r
 * when gidx is NULL. */
typedef struct {
  pm_gidx_t        start, n;
  int              dim;
  const double    *x; /* n x dim */
  const pm_gidx_t *gidx;
} knn_block_t;

/* Per-row bounded candidate lists, kept in the graph arrays themselves (no memory beyond the
 * graph): columns 1..k of row i hold the best fill[i] neighbours seen so far (unordered), and
 * bound2[i] is the squared distance a new point must not exceed to matter (+inf while the list is
 * not full; slightly inflated so points tied with the k-th on the rounded distance are kept).
 * New candidates go to a small buffer first; a flush merges buffer and list with one selection,
 * so a candidate costs O(1), not the O(log k) of a heap. */
typedef struct {
  pm_gidx_t        n, row_start;
  int              k, ncol;
  pm_gidx_t       *ind;
  double          *dist;
  int             *fill;
  double          *bound2;
  const pm_gidx_t *self; /* global index of local row i, or NULL: row_start + i */
} knn_lists_t;

/* Candidate buffers for `rows` rows (row r of the buffer serves one local row at a time). */
typedef struct {
  int        rows, cap;
  int       *cnt;
  double    *d2; /* rows x cap exact squared distances */
  pm_gidx_t *g;  /* rows x cap global indices */
  double    *td; /* scratch for one merge: the entries of the bucket holding the k-th (k + cap) */
  pm_gidx_t     *tg;
  unsigned char *bk; /* scratch: the bucket of each entry of a merge (k + cap) */
} knn_buf_t;

/* Exact squared distance by a plain loop over the coordinates (the one function that decides
 * every order: brute force, tree and the reference use it, so they agree bit for bit). */
static inline double knn_dist2(const double *a, const double *b, int dim)
{
  double s = 0.0;
  for (int d = 0; d < dim; d++) {
    double t = a[d] - b[d];
    s += t * t;
  }
  return s;
}

/* knn_select.c */
PetscErrorCode knn_lists_init(knn_lists_t *L, pm_gidx_t n, pm_gidx_t row_start, int k, pm_gidx_t *ind, double *dist);
PetscErrorCode knn_lists_free(knn_lists_t *L);
PetscErrorCode knn_buf_create(int rows, int cap, int k, knn_buf_t *B);
PetscErrorCode knn_buf_destroy(knn_buf_t *B);
/* Merge buffer row r into the list of local row i; updates L->bound2[i]. */
void knn_flush(knn_lists_t *L, knn_buf_t *B, int r, pm_gidx_t i);
/* Merge buffer row r of B and row rc of C into the list of local row i (one merge when they fit B's row). */
void knn_flush_two(knn_lists_t *L, knn_buf_t *B, int r, knn_buf_t *C, int rc, pm_gidx_t i);
/* Offer global point g at exact squared distance d2 to local row i through buffer row r. */
static inline void knn_offer(knn_lists_t *L, knn_buf_t *B, int r, pm_gidx_t i, double d2, pm_gidx_t g)
{
  int c;
  if (d2 > L->bound2[i] || g == (L->self ? L->self[i] : L->row_start + i)) return;
  c                             = B->cnt[r]++;
  B->d2[(size_t)r * B->cap + c] = d2;
  B->g[(size_t)r * B->cap + c]  = g;
  if (c + 1 == B->cap) knn_flush(L, B, r, i);
}
/* Sort every row by (distance, index) and put the point itself in column 0; _rows: rows [lo, hi). */
PetscErrorCode knn_lists_finish(knn_lists_t *L);
PetscErrorCode knn_lists_finish_rows(knn_lists_t *L, pm_gidx_t lo, pm_gidx_t hi);

/* Smallest and largest of d[0..n), n >= 1 (no NaN). */
void knn_value_range(const double *d, int n, double *lo, double *hi);
/* The monotone bucket map min(floor((x - lo) s), nb - 1): a lower bucket means a strictly smaller
 * value (the selections of knn_select.c and knn_prebound.c). */
static inline int knn_bucket_of(double x, double lo, double s, int nb)
{
  int b = (int)((x - lo) * s);
  return b < nb - 1 ? b : nb - 1;
}

/* knn.c: widest vector instructions the kernels may use (3 AVX-512, 2 AVX2, 1 SSE2). */
int knn_simd(void);

/* knn_tile.c: brute force. The dgemm tiles use coordinates centred on mu, augmented so that one
 * product gives the filter value: query rows qa = [q - mu, 1] (D + 1 wide, qn = |q - mu|^2) and
 * block rows ba = [-2 (y - mu), |y - mu|^2 (1 - 2 tol)] (knn_brute_augment), both packed per tile. Candidates are then
 * measured exactly on the input coordinates. */
/* Doubles of n rows packed for the tiles (per tile of T rows one (D + 1) x T coordinate-major
 * block). */
size_t knn_brute_pack_size(pm_gidx_t n, int dim, int tile);
void   knn_brute_pack_queries(const knn_block_t *q, const double *mu, int tile, double *qa, double *qn);
void   knn_brute_augment(const knn_block_t *b, const double *mu, int tile, double *ba);
/* Rows per brute-force group: the tile times max(1, KNN_ROW_GROUP / tile). */
int knn_brute_group(const pm_knn_t *knn);
typedef struct knn_plan knn_plan_t; /* knn_order.c */
/* knn_tile32.c: the filter in single precision (AVX-512), on float copies of the packed tiles. */
typedef struct {
  const float  *qa, *ba; /* the packed query rows and block rows, scaled by s (knn_f32_pack) */
  const double *bmax;    /* per block tile: the largest |y - mu|^2 */
  double        s2, tau; /* s^2, and the margin factor knn_f32_tau */
} knn_f32_t;
size_t knn_f32_pack_size(pm_gidx_t n, int dim, int tile);
double knn_f32_tau(int dim);
/* The power of two s with s maxabs in [0.5, 1) (1 for 0). */
double knn_f32_scale(double maxabs);
/* Float copy of packed tiles p (n rows): the D coordinate rows times s, the augmented row times
 * s_last; bmax (or NULL): each tile's largest |y - mu|^2 (block tiles). */
void knn_f32_pack(const double *p, pm_gidx_t n, int D, int T, double s, double s_last, float *out, double *bmax);
/* t rounded up to float without a branch: the nearest float to x = t + |t| 2^-22 + 2^-149 is at
 * least t (its rounding error is below |x| 2^-24 for normal floats and 2^-150 below them, and
 * beyond the float range it is +inf). */
static inline float knn_f32_up(double t)
{
  return (float)(t + fabs(t) * 0x1.0p-22 + 0x1.0p-149);
}
/* A row's float threshold (knn_tile32.c's margin), rounded up. */
static inline float knn_f32_threshold(double bound2, double qn, double bmax, double s2, double tau, int D)
{
  return knn_f32_up(s2 * (bound2 - qn) + tau * s2 * (qn + bmax) + (2.0 * D + 8.0) * 0x1.0p-126);
}
/* As the double fused kernel: the pairs (row, column) of the ns x nj tile with product <= t[row]
 * (T a multiple of 32, t padded to a multiple of 32; 16 entries of slack in pr, pc). */
int knn_f32_filter(const float *qa, const float *ba, int T, int A, int ns, int nj, const float *t, int *pr, int *pc);
/* Both sides at once (a block against itself, knn_rows.c; AVX-512, knn_f32_sym_usable): the sums
 * start at qn[row] + the augmented term (qn: the rows' s^2 |x - mu|^2 in float, padded as t), so
 * acc ~ s^2 |x - y|^2; a pair passes when acc <= t[row] or acc <= tc[column] (tc with room to a
 * multiple of 8), both from knn_f32_threshold_sym. */
int knn_f32_filter_sym(const float *qa, const float *ba, int T, int A, int ns, int nj, const float *t, const float *tc, const float *qn, int *pr, int *pc);
int knn_f32_sym_usable(int T);
/* The margin factor of the column side: tau plus the rounding of acc + qn (knn_tile32.c). */
static inline double knn_f32_tau_sym(double tau)
{
  return tau + 8.0 * 0x1.0p-24;
}
/* A float threshold of the symmetric kernel for a row (or column) with bound2 and |x - mu|^2 qn,
 * against a tile of the other side whose largest |y - mu|^2 is qmax. */
static inline float knn_f32_threshold_sym(double bound2, double qn, double qmax, double s2, double tau_sym, int D)
{
  return knn_f32_up(s2 * bound2 + tau_sym * s2 * (qn + qmax) + (2.0 * D + 12.0) * 0x1.0p-126);
}
/* Whether the float filter runs for tiles of T (AVX-512: T a multiple of 32; AVX2 + FMA: of 16). */
int knn_f32_usable(int T);
/* knn_tile.c: the row offsets of the set bits of each 8-bit mask (AVX2 kernels); init once. */
extern unsigned char knn_lut8[256][8];
void                 knn_lut8_init(void);
/* The pairs (row, column) of the packed query tile qa (ns rows) against the packed block tile ba
 * (nj columns) whose product is <= t[row] (t with room to a multiple of 16; C: T x T scratch; 16
 * entries of slack in pr, pc): the fused kernel, or dgemm and a filter pass. */
int knn_tile_filter(const double *qa, const double *ba, int T, int A, int ns, int nj, double *t, double *C, int *pr, int *pc);
/* out[p] = knn_dist2(qx + qr[p] D, bx + bc[p] D), bit for bit. */
void knn_exact_pairs(const double *qx, const double *bx, int D, const int *qr, const int *bc, int np, double *out);
/* The candidates of another rank's block rows found here (knn_rows.c), for their owner: row j of
 * the block (its owner's local row), squared distance, partner's global index; only those within
 * the bound the owner sent with the block. */
typedef struct {
  const double  *bound;
  int32_t       *row;
  double        *d2;
  pm_gidx_t     *g;
  size_t         n, cap;
  PetscErrorCode err; /* a failed growth (no more are added), agreed on by all ranks after the step */
} knn_cols_t;
PetscErrorCode knn_cols_grow(knn_cols_t *R);
static inline void knn_cols_add(knn_cols_t *R, pm_gidx_t j, double d2, pm_gidx_t g)
{
  if (d2 > R->bound[j] || R->err) return;
  if (R->n == R->cap && (R->err = knn_cols_grow(R))) return;
  R->row[R->n] = (int32_t)j;
  R->d2[R->n]  = d2;
  R->g[R->n++] = g;
}
/* The symmetric search of a group (knn_rows.c). Own block (R NULL; b is q): Bc holds the
 * candidates the earlier groups found for all of q's rows; on: this group searches the column
 * tiles from tfirst = i0 / tile on for both sides, skips those in [tone, tfirst) (the symmetric
 * groups before searched them) and searches those below tone one-sidedly. Another rank's block
 * (R): its column tiles [tlo, thi) for both sides, the block rows' candidates to R; bqa/bqf/bqn
 * its rows packed as queries and their |y - mu|^2, qba/fq q's rows packed as block rows. */
typedef struct {
  knn_buf_t       *Bc;
  PetscBool        on;
  pm_gidx_t        tone, tfirst;
  knn_cols_t      *R;
  const double    *bqa, *bqn, *qba;
  const float     *bqf;
  const knn_f32_t *fq;
  pm_gidx_t        tlo, thi;
} knn_sym_t;
/* knn_rows.c: local rows [i0, i0 + ni) (ni <= group, i0 a multiple of the tile) against all of
 * block b, its column tiles as planned (NULL: all, in order); flushes their buffers at the end.
 * Global index of block row j: b->gidx[j], or b->start + j. sm (NULL: one-sided): the symmetric
 * search (knn_sym_t; own block: called for the groups in order). */
PetscErrorCode knn_brute_rows(pm_knn_t *knn, const knn_block_t *q, const double *qa, const double *qn, pm_gidx_t i0, int ni, const knn_block_t *b, const double *ba, const knn_f32_t *f, knn_plan_t *plan, knn_lists_t *L, knn_buf_t *B, const knn_sym_t *sm, double *work);
/* Work doubles knn_brute_rows needs. */
size_t knn_brute_work_size(const pm_knn_t *knn);
/* Relative rounding margin of a tile for D columns. */
double knn_tile_tol(int dim);

/* knn_prebound.c: provisional bounds for brute force. t[0..q->n): for each row of q, an estimate
 * of its squared k-th neighbour distance, too large with high probability (+inf for all when off);
 * qa, qn, mu: q's packed tile rows (knn_brute_pack_queries); s: the float scale (knn_f32_scale of
 * the largest |x - mu| over all ranks). A row whose search under such a bound ends with fewer than
 * k neighbours, or a k-th distance above it, must be searched again. Collective. */
PetscErrorCode knn_prebound(pm_knn_t *knn, const knn_block_t *q, const double *qa, const double *qn, const double *mu, double s, pm_gidx_t N, int k, double *t);
/* The sample rank j the bounds use for N points and k neighbours (0: none). */
int knn_prebound_rank(const pm_knn_t *knn, pm_gidx_t N, int k);

/* knn_order.c: brute force in a spatial order (any order gives the same graph). */
/* The rows of b in kd order (tiles of T consecutive rows are leaves): gp[i] is the global index
 * of the i-th (allocated here). */
PetscErrorCode knn_kd_order(const knn_block_t *b, int T, pm_gidx_t **gp);
/* Rows of x (D doubles each) in place from the input order to the kd order gp, or back. */
PetscErrorCode knn_rows_permute(double *x, int D, pm_gidx_t n, const pm_gidx_t *gp, pm_gidx_t start, PetscBool back);
/* Centroids (ceil(n / T) x dim) and boxes (lows then highs, 2 dim each) of the tiles of T rows of b. */
void knn_tile_centroids(const knn_block_t *b, int T, double *cent, double *box);
/* order[0..ntiles): the tiles by the distance of their centroids from the centroid of the n rows x
 * (dim D), nearest first (ties by tile number); gbox: the rows' box; scratch:
 * knn_tile_order_scratch bytes. */
void   knn_tile_order(const double *cent, int ntiles, int D, const double *x, int n, int *order, void *scratch, double *gbox);
/* The box of the n rows x (D columns): lows then highs (2 D). */
void knn_rows_box(const double *x, pm_gidx_t n, int D, double *box);
/* Squared distance between two boxes (lows then highs), rounded. */
double knn_box_gap2(const double *a, const double *b, int D);
/* Brute force over a block in a planned order: the tiles in order[], each skipped when its box
 * (tbox + 2 D t) lies farther from the query group's box than every bound of the group. */
struct knn_plan {
  const int    *order;
  const double *tbox, *gbox;
  const double *qbox;    /* the boxes of the query row tiles (tile r of the queries: qbox + 2 D r), or NULL */
  int64_t       skipped; /* tiles skipped for the whole group (added to) */
  int64_t       pairs;   /* (row tile, column tile) pairs skipped beyond those (added to) */
};
size_t knn_tile_order_scratch(int ntiles, int dim);
/* Move the rows of ind/dist (ncol each) from kd order to input order: row i goes to gp[i] - start. */
PetscErrorCode knn_rows_unpermute(pm_gidx_t *ind, double *dist, int ncol, pm_gidx_t n, const pm_gidx_t *gp, pm_gidx_t start);

/* knn_tree.c: kd-tree over one block, queried by every local row with its current bound. */
typedef struct knn_tree knn_tree_t;
PetscErrorCode          knn_tree_create(const knn_block_t *b, int leaf, knn_tree_t **t);
PetscErrorCode          knn_tree_destroy(knn_tree_t **t);
/* A tree is built in one buffer that another rank can search without rebuilding it:
 * knn_tree_packed completes its header, stores xbox (2 dim doubles carried along: the points'
 * input-coordinate box, lows then highs) and returns the buffer (owned by t; bytes: a multiple of
 * 64). knn_tree_view makes a tree whose arrays point into such a buffer (it must outlive the view;
 * knn_tree_destroy frees only the view); n: its points. A view has no query order
 * (knn_tree_order). */
const char    *knn_tree_packed(knn_tree_t *t, const double *xbox, size_t *bytes);
PetscErrorCode knn_tree_view(const char *buf, knn_tree_t **t, const double **xbox, pm_gidx_t *n);
/* Query local rows order[0..nq) of q (order NULL: rows 0..nq-1) in groups of B->rows consecutive
 * rows (one traversal per group: pass spatially sorted rows); adds the distances computed to *count. */
PetscErrorCode knn_tree_query(const knn_tree_t *t, const knn_block_t *q, const pm_gidx_t *order, pm_gidx_t nq, knn_lists_t *L, knn_buf_t *B, int64_t *count);
/* The tree's point order (local row numbers of b): queries in this order share cache. Borrowed. */
const pm_gidx_t *knn_tree_order(const knn_tree_t *t);
/* Reorder perm[lo, hi) (indices of rows of x, D columns) so that position m holds the element of
 * rank m - lo along coordinate d (quickselect; used by the kd-tree and the spatial cuts). */
void knn_select_nth(pm_gidx_t *perm, const double *x, int D, int d, pm_gidx_t lo, pm_gidx_t hi, pm_gidx_t m);

/* knn_ring.c: run the ring over all ranks' blocks with the given method. */
PetscErrorCode knn_ring_search(pm_knn_t *knn, const knn_block_t *mine, pm_knn_method_t method, knn_lists_t *L);

/* knn_part.c: spatial layout for the tree method on several ranks. The rows are moved to P
 * compact cells (recursive bisection at sample quantiles), so a rank's queries only open the few
 * remote blocks near its cell; the finished rows go back to their owners. Collective. */
typedef struct {
  pm_gidx_t  n;      /* rows in this rank's cell */
  double    *x;      /* n x dim */
  pm_gidx_t *gidx;   /* their global indices, increasing */
  pm_gidx_t *seg;    /* P + 1: cell rows [seg[q], seg[q + 1]) belong to rank q's input block */
  int       *dest;   /* the cell (rank) of each of this rank's input rows */
  double     share;  /* the fraction of all rows the cuts meant for this cell (1 / P unless the
                        probe's costs moved a cut) */
  int        cut_dir; /* direction of the first cut: input coordinate d < dim, or principal axis
                         dim + j of the sample; -1 for a single cell */
} knn_cell_t;
/* A strided sample of the input rows on rank 0 (global rows r N / m, r < m: the same rows for any
 * rank count); other ranks hold none (x NULL), or a copy while the method probe runs on all ranks.
 * The method probe and the cell cuts share it. */
typedef struct {
  pm_gidx_t m;
  double   *x;      /* m x dim on rank 0 (and, for the probe, on every rank) */
  double    radius; /* rank 0, once probed (knn_sample_probe): the estimated k-th neighbour distance; < 0 before */
  pm_gidx_t nq;     /* rank 0, once probed: the probe's queries, */
  pm_gidx_t *qrow;  /* their rows in x */
  int64_t  *qcost;  /* and the distances each computed (the cost of a query there) */
} knn_sample_t;
/* No sample (yet): what knn_sample_free leaves. */
#define KNN_SAMPLE_NONE ((knn_sample_t){0, NULL, -1.0, 0, NULL, NULL})
/* Collective; m = min(N, want); on every rank when all, else on rank 0. */
PetscErrorCode knn_sample_fetch(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t N, pm_gidx_t want, PetscBool all, knn_sample_t *s);
PetscErrorCode knn_sample_free(knn_sample_t *s);
/* Collective on comm, whose ranks all hold the sample (rank 0 alone: PETSC_COMM_SELF): the k-NN
 * query of a few strided sample rows in a kd-tree over (at most 16384 strided rows of) the sample,
 * of N points in all, the queries dealt out over the ranks. f (every rank): the fraction of a
 * brute-force scan the tree needed; s->radius (rank 0 of comm): the median distance of a query to
 * its k'-th other sample row, k' = ceil(k m / N), which estimates the distance to the k-th
 * neighbour among all N points. Once f reaches stop_f the probe stops: f is then only a lower
 * bound, and there is no radius. f and the radius do not depend on the rank count. */
PetscErrorCode knn_sample_probe(MPI_Comm comm, knn_sample_t *s, int dim, int leaf, pm_gidx_t N, int k, double stop_f, double *f);
/* s: a sample already fetched (used when it has the size the cuts need), or NULL; k: neighbours. */
PetscErrorCode knn_cell_create(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t n_global, int k, knn_sample_t *s, knn_cell_t *cell);
/* Finishes the cell rows' lists h (knn_lists_finish) and puts the rows in their owners' rows
 * ind_out/dist_out (of mine); frees h->ind and h->dist once they are sent. */
PetscErrorCode knn_cell_return(pm_knn_t *knn, const knn_cell_t *cell, knn_lists_t *h, const knn_block_t *mine, pm_gidx_t *ind_out, double *dist_out);
PetscErrorCode knn_cell_destroy(knn_cell_t *cell);

/* knn_probe.c: the -knn_method auto rule. Collective. */
/* s: the probe's sample, for reuse by the cell cuts (s->x NULL when no probe ran). */
PetscErrorCode knn_choose_method(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t n_global, int k, pm_knn_method_t *method, knn_sample_t *s);

/* knn_dup.c: duplicates count, error message, or removal (new X in block layout). Collective. */
PetscErrorCode knn_duplicates_count(pm_knn_t *knn, const pm_graph_t *g, pm_gidx_t *count);
PetscErrorCode knn_duplicates_drop(pm_knn_t *knn, const pm_graph_t *g, pm_rows_t **X, pm_gidx_t **kept);

/* knn_ref.c: serial O(N^2) oracle on rows held entirely by this process (tests). Not collective.
 * x is n x dim; ind/dist are n x (k+1), same conventions as pm_graph_t. */
PetscErrorCode knn_ref_graph(pm_gidx_t n, int dim, const double *x, int k, pm_gidx_t *ind, double *dist);
