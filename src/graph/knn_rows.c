/* Brute force for one group of local rows against a row block: the block's column tiles in the
 * planned order, each used by every row tile of the group while it is in cache; per pair of
 * tiles the filter (in float where its margin allows, else in double), the exact distances of the
 * pairs that pass, and the offers to the rows' lists.
 *
 * Against the own block (the ring's first step) the distance matrix is symmetric, so each pair of
 * tiles is searched once for both sides: a group of rows visits only the column tiles from its
 * own first tile on, and a pair that passes either the row's or the column's bound is measured
 * once and offered to both. The columns' candidates wait in a buffer over all local rows (Bc)
 * until their own group comes: the earlier groups have then offered them all their pairs. (The
 * ring runs the first group one-sidedly and turns the symmetric search on after it only where
 * few tile pairs are out of reach, knn_ring.c.) The
 * float kernel tests both bounds on the same products (knn_tile32.c); elsewhere (double filter,
 * AVX2) the two sides run as two one-sided passes. Either way every pair within a row's bound
 * reaches the row, so the graph is the one-sided search's, bit for bit (knn_dist2 is symmetric:
 * a - b is exactly -(b - a)). */
#include "graph/graph_impl.h"
#include <float.h>

/* every exact distance between two boxes is >= their rounded gap2 (1 - 2 (D + 4) eps): the rounding
   of knn_dist2's sum and of the gaps; the margin doubles that */
#define KNN_GAP_MARGIN(D) (4.0 * ((D) + 4) * DBL_EPSILON)

int knn_brute_group(const pm_knn_t *knn)
{
  int T = knn->tile;
  return T * (T < KNN_ROW_GROUP ? KNN_ROW_GROUP / T : 1);
}

/* One tile of rows, as queries (their packed rows, norms and bounds) and as block rows. */
typedef struct {
  const double    *x;                  /* input rows */
  const double    *pq, *pb;            /* packed as queries [x - mu, 1] and as block rows (knn_tile.c) */
  const float     *fq, *fb;            /* their float copies (NULL: no float filter) */
  const double    *qn, *bound;         /* |x - mu|^2 and the current bounds of the rows */
  double           qmax, bmin, bmax;   /* largest |x - mu|^2, smallest and largest bound */
  double           fbmax;              /* as block tile: its largest |x - mu|^2 (knn_f32_pack) */
  const pm_gidx_t *gidx;               /* global index of row r: gidx[r], or start + r */
  pm_gidx_t        start, row;         /* row: local list row of the first row */
  int              n;
} tile_t;

/* Scratch and context of the tile passes. */
typedef struct {
  int              D, T, A;
  double           tol;
  const knn_f32_t *f;
  knn_lists_t     *L;
  double          *C, *d2; /* T x T each: the dgemm tile, the pair distances (and double thresholds) */
  int             *pr, *pc;
  float           *tf, *tc, *qf; /* float thresholds of the rows and of the columns, rows' s^2 |x - mu|^2 */
  double           flops;
} pass_t;

static inline pm_gidx_t gid(const tile_t *t, int r)
{
  return t->gidx ? t->gidx[r] : t->start + r;
}

/* Where one side's candidates go: the local rows' lists through buffer B (buffer row brow + i for
 * tile row i; brow < 0: the row's own, B spanning all local rows), or, for the rows of another
 * rank's block, its collector R. */
typedef struct {
  knn_buf_t  *B;
  int         brow;
  knn_cols_t *R;
} sink_t;

static inline void put(pass_t *p, const sink_t *k, const tile_t *t, int i, double d2, pm_gidx_t g)
{
  if (k->R) knn_cols_add(k->R, t->row + i, d2, g);
  else knn_offer(p->L, k->B, k->brow < 0 ? (int)(t->row + i) : k->brow + i, t->row + i, d2, g);
}

PetscErrorCode knn_cols_grow(knn_cols_t *R)
{
  size_t cap = R->cap ? 2 * R->cap : 4096;

  PetscFunctionBeginUser;
  PetscCall(PetscRealloc(cap * sizeof *R->row, &R->row));
  PetscCall(PetscRealloc(cap * sizeof *R->d2, &R->d2));
  PetscCall(PetscRealloc(cap * sizeof *R->g, &R->g));
  R->cap = cap;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The bounds of the tile's rows now (they only fall while it is searched: tests made with these
 * stay safe). */
static void tile_bounds(tile_t *t)
{
  t->bmax = 0.0;
  t->bmin = PETSC_INFINITY;
  for (int r = 0; r < t->n; r++) {
    t->bmax = t->bound[r] > t->bmax ? t->bound[r] : t->bmax;
    t->bmin = t->bound[r] < t->bmin ? t->bound[r] : t->bmin;
  }
}

/* The float filter for rows against block tile c, unless its margin tau (qmax + bmax) would let
 * through more than a sliver beyond the rows' bounds (data far from mu against the neighbour
 * distances): then the double kernel, whose margin is 2^29 times narrower. */
static int single_ok(double tau, double qmax, double bmax, double bmin)
{
  return tau * (qmax + bmax) <= 1e-3 * bmin;
}

/* The rows of r against the columns of c, for the rows only: their candidates to sink k. */
static void one_side(pass_t *p, const tile_t *r, const tile_t *c, const sink_t *k)
{
  const knn_f32_t *f = p->f;
  int              np, D = p->D;

  if (f && single_ok(f->tau, r->qmax, c->fbmax, r->bmin)) {
    for (int i = 0; i < r->n; i++) p->tf[i] = knn_f32_threshold(r->bound[i], r->qn[i], c->fbmax, f->s2, f->tau, D);
    for (int i = r->n; i % 32; i++) p->tf[i] = 0.0f; /* whole strips (masked off) */
    np = knn_f32_filter(r->fq, c->fb, p->T, p->A, r->n, c->n, p->tf, p->pr, p->pc);
  } else {
    for (int i = 0; i < r->n; i++) p->d2[i] = r->bound[i] - r->qn[i] * (1.0 - p->tol); /* thresholds */
    np = knn_tile_filter(r->pq, c->pb, p->T, p->A, r->n, c->n, p->d2, p->C, p->pr, p->pc);
  }
  p->flops += 2.0 * r->n * c->n * p->A;
  if (!np) return;
  knn_exact_pairs(r->x, c->x, D, p->pr, p->pc, np, p->d2);
  for (int e = 0; e < np; e++) put(p, k, r, p->pr[e], p->d2[e], gid(c, p->pc[e]));
}

/* The rows of r against the columns of c for both sides: the rows' candidates to sink kr, the
 * columns' to kc. */
static void both_sides(pass_t *p, const tile_t *r, const tile_t *c, const sink_t *kr, const sink_t *kc)
{
  const knn_f32_t *f = p->f;
  int              np, D = p->D;
  double           taus = f ? knn_f32_tau_sym(f->tau) : 0.0; /* both sides' margin factor */

  if (!f || !knn_f32_sym_usable(p->T) || !single_ok(taus, r->qmax, c->fbmax, r->bmin) || !single_ok(taus, r->qmax, c->fbmax, c->bmin)) {
    one_side(p, r, c, kr);
    one_side(p, c, r, kc);
    return;
  }
  for (int i = 0; i < r->n; i++) {
    p->tf[i] = knn_f32_threshold_sym(r->bound[i], r->qn[i], c->fbmax, f->s2, taus, D);
    p->qf[i] = (float)(f->s2 * r->qn[i]);
  }
  for (int i = r->n; i % 32; i++) p->tf[i] = p->qf[i] = 0.0f;
  for (int j = 0; j < c->n; j++) p->tc[j] = knn_f32_threshold_sym(c->bound[j], c->qn[j], r->qmax, f->s2, taus, D);
  for (int j = c->n; j % 32; j++) p->tc[j] = 0.0f;
  np = knn_f32_filter_sym(r->fq, c->fb, p->T, p->A, r->n, c->n, p->tf, p->tc, p->qf, p->pr, p->pc);
  p->flops += 2.0 * r->n * c->n * (p->A + 1);
  if (!np) return;
  knn_exact_pairs(r->x, c->x, D, p->pr, p->pc, np, p->d2);
  for (int e = 0; e < np; e++) {
    int i = p->pr[e], j = p->pc[e];
    put(p, kr, r, i, p->d2[e], gid(c, j));
    put(p, kc, c, j, p->d2[e], gid(r, i));
  }
}

/* Tile t (rows t T ..) of block b: pq/fq/qn its rows packed as queries and their norms (NULL
 * unless b is the query block), pb and f's copy as block rows (NULL: not needed), bound the
 * bounds of b's rows (NULL unless b is the query block). */
static tile_t block_tile(const knn_block_t *b, pm_gidx_t t, int T, const double *pq, const double *qn, const float *fq, const double *pb, const knn_f32_t *f, const double *bound)
{
  int       D = b->dim, A = D + 1;
  pm_gidx_t j0 = t * T;
  tile_t    c  = {0};

  c.n     = (int)(b->n - j0 < T ? b->n - j0 : T);
  c.x     = b->x + j0 * D;
  c.pq    = pq ? pq + (size_t)t * A * T : NULL;
  c.pb    = pb ? pb + (size_t)t * A * T : NULL;
  c.fq    = fq ? fq + (size_t)t * A * T : NULL;
  c.fb    = f ? f->ba + (size_t)t * A * T : NULL;
  c.fbmax = f ? f->bmax[t] : 0.0;
  c.qn    = qn ? qn + j0 : NULL;
  c.bound = bound ? bound + j0 : NULL;
  c.gidx  = b->gidx ? b->gidx + j0 : NULL;
  c.start = b->start + j0;
  c.row   = j0;
  if (qn)
    for (int r = 0; r < c.n; r++) c.qmax = c.qn[r] > c.qmax ? c.qn[r] : c.qmax;
  return c;
}

PetscErrorCode knn_brute_rows(pm_knn_t *knn, const knn_block_t *q, const double *qa, const double *qn, pm_gidx_t i0, int ni, const knn_block_t *b, const double *ba, const knn_f32_t *f, knn_plan_t *plan, knn_lists_t *L, knn_buf_t *B, const knn_sym_t *sm, double *work)
{
  knn_buf_t  *Bc     = sm && !sm->R ? sm->Bc : NULL;
  PetscBool   sym    = sm && !sm->R && sm->on, remote = sm && sm->R ? PETSC_TRUE : PETSC_FALSE;
  pm_gidx_t   tone   = Bc ? sm->tone : 0, tfirst = Bc ? sm->tfirst : 0;
  sink_t      kc     = {Bc, -1, remote ? sm->R : NULL};
  int       D = q->dim, T = knn->tile;
  int       nrt = (ni + T - 1) / T, g0 = (int)(i0 / T); /* row tiles of the group; its first tile */
  tile_t    rt[KNN_ROW_GROUP / 8];
  pass_t    p;
  pm_gidx_t nt = (b->n + T - 1) / T;

  PetscFunctionBeginUser;
  PM_ASSERT(B->rows >= ni && ni <= knn_brute_group(knn) && i0 % T == 0 && nrt <= KNN_ROW_GROUP / 8);
  PM_ASSERT(!Bc || (b->x == q->x && b->n == q->n && Bc->rows >= q->n));
  PM_ASSERT(!remote || (sm->bqa && sm->bqn && sm->qba && b->x != q->x));
  PM_ASSERT((!sym || (Bc && tfirst == g0)) && (!tfirst || Bc) && tone <= tfirst);
  PetscCall(PetscLogEventBegin(knn->ev_tile, 0, 0, 0, 0));
  p     = (pass_t){D, T, D + 1, knn_tile_tol(D), f, L, work, work + (size_t)T * T, NULL, NULL, NULL, NULL, NULL, 0.0};
  p.pr  = (int *)(p.d2 + (size_t)T * T);
  p.pc  = p.pr + (size_t)T * T + 16;
  p.tf  = (float *)p.C; /* the float passes leave C unused */
  p.tc  = p.tf + T + 32;
  p.qf  = p.tc + T + 32;
  for (int s = 0; s < nrt; s++) {
    /* as block rows (the column side's passes): the block's own packing, or q's (remote) */
    rt[s] = block_tile(q, g0 + s, T, qa, qn, f ? f->qa : NULL, sym ? ba : remote ? sm->qba : NULL, sym ? f : remote && f ? sm->fq : NULL, L->bound2);
    PM_ASSERT(rt[s].n == PetscMin(ni - s * T, T));
  }
  /* a column tile is used by every row tile of the group while it is in cache: the block (its
     packed copy and its input rows) streams from memory once per group, not once per row tile */
  for (pm_gidx_t t = 0; t < nt; t++) {
    pm_gidx_t tt   = plan ? plan->order[t] : t;
    double    gmax = 0.0, cmax = 0.0;
    tile_t    ct;
    int       both = remote || (sym && tt >= tfirst); /* this tile for both sides (own block: below tone one-sided) */
    if (tt >= tone && tt < tfirst) continue; /* the earlier groups searched this pair of tiles for both sides */
    if (remote && (tt < sm->tlo || tt >= sm->thi)) continue; /* the other rank searches these */
    if (remote)
      ct = block_tile(b, tt, T, sm->bqa, sm->bqn, f ? sm->bqf : NULL, ba, f, sm->R->bound);
    else
      ct = block_tile(b, tt, T, both ? qa : NULL, both ? qn : NULL, both && f ? f->qa : NULL, ba, f, both ? L->bound2 : NULL);
    for (int s = 0; s < nrt; s++) {
      tile_bounds(&rt[s]);
      gmax = rt[s].bmax > gmax ? rt[s].bmax : gmax;
    }
    if (both) {
      tile_bounds(&ct);
      cmax = ct.bmax;
    }
    if (plan) { /* the tile cannot hold a neighbour of any row of the group (nor, symmetric, the reverse): skip it */
      double lb2 = knn_box_gap2(plan->gbox, plan->tbox + 2 * tt * D, D);
      if (lb2 * (1.0 - KNN_GAP_MARGIN(D)) > PetscMax(gmax, cmax)) {
        plan->skipped++;
        continue;
      }
    }
    /* the candidates are measured on these input rows: have them in cache by then */
    for (size_t off = 0; off < (size_t)ct.n * D * sizeof(double); off += 64) __builtin_prefetch((const char *)ct.x + off);
    for (int s = 0; s < nrt; s++) {
      int    two = remote || (both && g0 + s < tt); /* both sides; the own diagonal tile is its own transpose */
      sink_t kr  = {B, s * T, NULL};
      if (!remote && both && g0 + s > tt) continue; /* searched as the pair (tt, g0 + s) */
      if (plan && plan->qbox) { /* the same test for one row tile: a group may straddle clusters */
        double lb2 = knn_box_gap2(plan->qbox + 2 * (g0 + s) * D, plan->tbox + 2 * tt * D, D);
        if (lb2 * (1.0 - KNN_GAP_MARGIN(D)) > PetscMax(rt[s].bmax, two ? cmax : 0.0)) {
          plan->pairs++;
          continue;
        }
      }
      if (two)
        both_sides(&p, &rt[s], &ct, &kr, &kc);
      else
        one_side(&p, &rt[s], &ct, &kr);
    }
  }
  /* the rows are complete: the earlier groups' candidates for them (Bc) join the last merge (merging
     them when the group starts, for tighter bounds, cost more merges than it saved) */
  for (int ii = 0; ii < ni; ii++)
    if (Bc)
      knn_flush_two(L, B, ii, Bc, (int)(i0 + ii), i0 + ii);
    else
      knn_flush(L, B, ii, i0 + ii);
  PetscCall(PetscLogFlops(p.flops));
  PetscCall(PetscLogEventEnd(knn->ev_tile, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
