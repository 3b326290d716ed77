/* Spatial layout for the tree method on P > 1 ranks. With the input's block rows every block
 * spans the whole space, so every query would search every remote tree (no gain from more ranks).
 * Here rank 0 cuts a strided sample of the rows into P cells by recursive bisection (split at the
 * quantile that gives each side its share of ranks, or of the work where the method probe's
 * queries show that the two sides' rows cost clearly different amounts, cut_share; the direction
 * of each cut, among the widest coordinates and the sample's principal axes, is the one with the
 * fewest sample rows within the estimated k-th neighbour distance of the cut, so few queries have
 * neighbours on both sides), the cut values are moved to the exact quantiles of all rows
 * (cuts_balance), every rank sends its rows to the cell they fall in, the ring runs on the cells
 * (with packed trees, knn_ring.c), and the finished graph rows return to the owners of the input
 * rows. Only the layout of the work changes: the graph is the same. */
#include "graph/knn_frame.h"
#include <cblas.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CELL_SAMPLE_MIN 16384
#define CELL_SAMPLE_PER 256  /* sample rows per rank at least */
#define CUT_AXES        8    /* widest input coordinates of a node offered as cut directions */
#define CUT_PCS         8    /* leading principal axes of the sample offered as cut directions */
#define CUT_SCORE       4096 /* sample rows of a node (strided) that score a direction */
#define CUT_COST_MIN    64   /* probe queries a node needs to balance its cut by their costs */
#define CUT_COST_Z      2.0  /* ... and the standard errors by which its sides' mean costs must differ */
#define CUT_COST_STEP   0.5  /* the part of the way from the ranks' share to the probe's share taken */
#define RETURN_BYTES    (32 << 20) /* graph rows a rank sends per round: about this many bytes */
#define RETURN_CHUNK    64         /* own rows sorted, then copied, between tests of the transfers */

typedef struct {
  int    *dir, *left, *right, *rank, *nr; /* node arrays (2P - 1 nodes); dir: see cut_value, -1 for a
                                            leaf; ranks [rank, rank + nr) lie below the node */
  double *val;
  double *share; /* per node: the fraction of its rows that goes left, or < 0 for the ranks' share */
  double *pc; /* npc x D leading principal axes of the sample (unit rows) */
  int     n, D, npc;
} cut_tree_t;

/* The share of node i's rows on the low side of its cut: the moved one (cut_share), else the
 * ranks' share h / nr (cuts_balance counts that one in integers). */
static double node_share(const cut_tree_t *T, int i)
{
  return T->share[i] < 0.0 ? (double)(T->nr[i] / 2) / T->nr[i] : T->share[i];
}

/* Coordinate of y along direction c: the input coordinate c < D, or principal axis c - D. */
static double cut_value(const cut_tree_t *T, const double *y, int c)
{
  const double *u;
  double        s = 0.0;

  if (c < T->D) return y[c];
  u = T->pc + (size_t)(c - T->D) * T->D;
  for (int d = 0; d < T->D; d++) s += u[d] * y[d];
  return s;
}

/* Rank 0's view of the sample while cutting: x (m x D) and its principal-axis coordinates y
 * (m x npc, one dgemm: they may differ from cut_value's in the last bits, which only moves a
 * sample row lying on a cut to the other side; the rows' sides always come from cut_value, and
 * cuts_balance sets the cut values from the rows). */
typedef struct {
  const double *x, *y;
  double        radius;    /* estimated distance to the k-th neighbour */
  double       *v;         /* scratch: CUT_SCORE values */
  const int    *qof;       /* per sample row: its probe query, or -1 (NULL: no probe costs) */
  const int64_t *qcost;    /* per probe query: the distances it computed */
  double       *qv, *qc;   /* scratch: a node's queries' values and costs */
  int          *cand;      /* scratch: candidate directions */
  double       *wid, *wlo; /* scratch: D widths, D lows */
} cut_data_t;

static double sample_value(const cut_tree_t *T, const cut_data_t *S, pm_gidx_t r, int c)
{
  return c < T->D ? S->x[r * T->D + c] : S->y[r * T->npc + c - T->D];
}

/* The q-th smallest of v[0..n) (reordered; no NaN): quickselect on the values themselves, with a
 * median-of-three pivot. */
static double nth_value(double *v, pm_gidx_t n, pm_gidx_t q)
{
  pm_gidx_t lo = 0, hi = n - 1;

  while (hi > lo) {
    double    a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi], p, t;
    pm_gidx_t i = lo, j = hi;
    p = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    while (i <= j) { /* Hoare partition: [lo, j] <= p <= [i, hi] */
      while (v[i] < p) i++;
      while (v[j] > p) j--;
      if (i <= j) {
        t      = v[i];
        v[i++] = v[j];
        v[j--] = t;
      }
    }
    if (q <= j) hi = j;
    else if (q >= i) lo = i;
    else return v[q]; /* between the parts: equal to the pivot */
  }
  return v[q];
}

/* Sample rows of [lo, hi) (at most CUT_SCORE, strided) within the radius of the cut along c that
 * puts the fraction h / nr of them on the low side: the queries whose neighbours straddle the cut
 * (they search the trees of both sides), as seen by the sample. */
static pm_gidx_t cut_score(const cut_tree_t *T, cut_data_t *S, const pm_gidx_t *idx, pm_gidx_t lo, pm_gidx_t hi, int h, int nr, int c)
{
  pm_gidx_t n = hi - lo, ns = PetscMin(n, (pm_gidx_t)CUT_SCORE), q = ns * h / nr, cnt = 0;
  double    cv;

  for (pm_gidx_t j = 0; j < ns; j++) S->v[j] = sample_value(T, S, idx[lo + j * n / ns], c);
  cv = nth_value(S->v, ns, q);
  for (pm_gidx_t j = 0; j < ns; j++) cnt += PetscAbsReal(S->v[j] - cv) <= S->radius;
  return cnt;
}

/* Direction of the cut of node [lo, hi): of the CUT_AXES widest input coordinates (widest first)
 * and the principal axes, the one with the fewest sample rows near the cut (the first of equals:
 * the widest coordinate when nothing is known about the radius). */
static int cut_direction(const cut_tree_t *T, cut_data_t *S, const pm_gidx_t *idx, pm_gidx_t lo, pm_gidx_t hi, int h, int nr)
{
  int       D = T->D, na = PetscMin(D, CUT_AXES), nc = 0, best = 0;
  pm_gidx_t bs = -1;

  for (int d = 0; d < D; d++) {
    S->wlo[d] = PETSC_INFINITY;
    S->wid[d] = -PETSC_INFINITY;
  }
  for (pm_gidx_t r = lo; r < hi; r++) { /* row by row: each sample row is read once */
    const double *y = S->x + idx[r] * D;
    for (int d = 0; d < D; d++) {
      S->wlo[d] = y[d] < S->wlo[d] ? y[d] : S->wlo[d];
      S->wid[d] = y[d] > S->wid[d] ? y[d] : S->wid[d];
    }
  }
  for (int d = 0; d < D; d++) S->wid[d] -= S->wlo[d];
  for (int j = 0; j < na; j++) { /* the na widest, widest first (the lowest index among equals) */
    int w = -1;
    for (int d = 0; d < D; d++) {
      PetscBool taken = PETSC_FALSE;
      for (int i = 0; i < nc; i++) taken = taken || S->cand[i] == d;
      if (!taken && (w < 0 || S->wid[d] > S->wid[w])) w = d;
    }
    S->cand[nc++] = w;
  }
  for (int j = 0; j < T->npc; j++) S->cand[nc++] = D + j;
  if (!(S->radius > 0.0)) return S->cand[0];
  for (int i = 0; i < nc; i++) {
    pm_gidx_t sc = cut_score(T, S, idx, lo, hi, h, nr, S->cand[i]);
    if (bs < 0 || sc < bs) {
      bs   = sc;
      best = S->cand[i];
    }
  }
  return best;
}

/* The share of node [lo, hi)'s rows that should go to the h of its nr ranks on the low side of a
 * cut along c, so that both sides get their share of the work rather than of the rows: a query's
 * cost varies with the data's local shape (lowdim 20k, 2 equal cells: 10.8 and 12.2 M distances,
 * the ranks 15 ms apart), and the probe's queries (a uniform sample of the rows) measured it.
 * Only where the node holds at least CUT_COST_MIN of them, and only where the two sides' mean
 * costs at the rank share differ by more than CUT_COST_Z standard errors (else the count share,
 * returned as < 0: lowdim 100k, whose cells cost the same, stays there). The share where the
 * queries' cumulative cost along c reaches h / nr of their total overshoots: the probe's queries
 * search one tree of the sample, the cells' rows also the trees of the cells next to them, a cost
 * both sides share (lowdim 20k: 0.543 gave 11.7 and 10.8 M). So the cut moves CUT_COST_STEP of the
 * way there (0.522: 11.7 and 11.2 M), and never beyond [h / nr / 2, (1 + h / nr) / 2]. */
static double cut_share(const cut_tree_t *T, cut_data_t *S, const pm_gidx_t *idx, pm_gidx_t lo, pm_gidx_t hi, int h, int nr, int c)
{
  int    n = 0, nl;
  double base = (double)h / nr, sum[2] = {0, 0}, sq[2] = {0, 0}, mean[2], var2 = 0.0, tot, cum = 0.0, share;

  if (!S->qof) return -1.0;
  for (pm_gidx_t r = lo; r < hi; r++) {
    int j = S->qof[idx[r]];
    if (j < 0) continue;
    S->qv[n]   = sample_value(T, S, idx[r], c);
    S->qc[n++] = (double)S->qcost[j];
  }
  if (n < CUT_COST_MIN) return -1.0;
  for (int a = 1; a < n; a++) { /* insertion sort by value (a few hundred queries) */
    double v = S->qv[a], w = S->qc[a];
    int    e = a;
    for (; e > 0 && S->qv[e - 1] > v; e--) {
      S->qv[e] = S->qv[e - 1];
      S->qc[e] = S->qc[e - 1];
    }
    S->qv[e] = v;
    S->qc[e] = w;
  }
  nl = (int)(n * base + 0.5);
  if (nl < 2 || n - nl < 2) return -1.0;
  for (int a = 0; a < n; a++) {
    sum[a >= nl] += S->qc[a];
    sq[a >= nl] += S->qc[a] * S->qc[a];
  }
  for (int side = 0; side < 2; side++) {
    int m = side ? n - nl : nl;
    mean[side] = sum[side] / m;
    var2 += PetscMax(0.0, sq[side] / m - mean[side] * mean[side]) / (m - 1);
  }
  if (!(PetscAbsReal(mean[0] - mean[1]) > CUT_COST_Z * PetscSqrtReal(var2))) return -1.0;
  tot   = sum[0] + sum[1];
  share = 1.0;
  for (int a = 0; a < n; a++) { /* each query stands for 1 / n of the rows */
    if (cum + S->qc[a] >= base * tot) {
      share = (a + (S->qc[a] > 0.0 ? (base * tot - cum) / S->qc[a] : 0.0)) / n;
      break;
    }
    cum += S->qc[a];
  }
  share = base + CUT_COST_STEP * (share - base);
  return PetscMin(PetscMax(share, 0.5 * base), 0.5 * (1.0 + base));
}

/* Node for ranks [r0, r1) over sample rows idx[lo, hi); returns its id. */
static int cut(cut_tree_t *T, cut_data_t *S, pm_gidx_t *idx, pm_gidx_t lo, pm_gidx_t hi, int r0, int r1)
{
  int id = T->n++;

  T->dir[id]  = -1;
  T->rank[id] = r0;
  T->nr[id]   = r1 - r0;
  if (r1 - r0 > 1 && hi - lo >= 2) {
    int       h = (r1 - r0) / 2, c = cut_direction(T, S, idx, lo, hi, h, r1 - r0);
    double    sh = cut_share(T, S, idx, lo, hi, h, r1 - r0, c);
    pm_gidx_t m  = sh < 0.0 ? lo + (hi - lo) * h / (r1 - r0) : lo + (pm_gidx_t)((hi - lo) * sh);
    T->share[id] = sh;
    m            = PetscMin(PetscMax(m, lo + 1), hi - 1);
    if (c < T->D)
      knn_select_nth(idx, S->x, T->D, c, lo, hi, m);
    else
      knn_select_nth(idx, S->y, T->npc, c - T->D, lo, hi, m);
    T->dir[id]   = c;
    T->val[id]   = sample_value(T, S, idx[m], c); /* rows with a value < val go left */
    T->left[id]  = cut(T, S, idx, lo, m, r0, r0 + h);
    T->right[id] = cut(T, S, idx, m, hi, r0 + h, r1);
  } /* else too few samples: everything to the first rank of the range */
  return id;
}

/* The cut values from the sample put each side of a cut its share of the sample, but only about
 * its share of the rows (a sample of 256 rows per rank is off by ~6 % per cell). Here every cut
 * value is moved to the exact quantile of all rows, level by level: the rows of each node at the
 * level are counted in B bins between their lowest and highest value along the cut (one
 * allreduce for all nodes of the level), the bin holding the wanted quantile becomes the new
 * range, and after enough rounds (B^rounds >= 2^24) the cut is the low end of that range. Then
 * every row steps to its child. On return dest[r] is the rank of row r's cell. Collective. */
static PetscErrorCode cuts_balance(MPI_Comm comm, cut_tree_t *T, const knn_block_t *mine, int *dest)
{
  pm_gidx_t n = mine->n, *cnt, *below, *hist;
  int      *nd, *lev, *lix, nl = 0, D = mine->dim;
  double   *v, *lo, *hi;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(n + 1, &nd, n + 1, &v, T->n, &lix));
  PetscCall(PetscMalloc4(T->n, &lev, T->n, &cnt, T->n, &below, 2 * T->n, &lo));
  hi = lo + T->n;
  for (pm_gidx_t r = 0; r < n; r++) nd[r] = 0;
  for (int i = 0; i < T->n; i++) lix[i] = -1;
  if (T->dir[0] >= 0) lev[nl++] = 0;
  while (nl > 0) {
    int B = PetscMax(16, PetscMin(1024, 65536 / nl)), rounds = 0;
    for (int b = B; b > 1; b /= 2) rounds++; /* log2 B */
    rounds = (24 + rounds - 1) / rounds;
    for (int j = 0; j < nl; j++) {
      lix[lev[j]] = j;
      cnt[j]      = 0;
      below[j]    = 0;
      lo[j]       = PETSC_MAX_REAL;
      hi[j]       = -PETSC_MAX_REAL;
    }
    for (pm_gidx_t r = 0; r < n; r++) {
      int j = lix[nd[r]];
      if (j < 0) continue;
      v[r] = cut_value(T, mine->x + r * D, T->dir[nd[r]]);
      cnt[j]++;
      lo[j] = PetscMin(lo[j], v[r]);
      hi[j] = PetscMax(hi[j], v[r]);
    }
    for (int j = 0; j < nl; j++) hi[j] = -hi[j]; /* one MIN reduction for both ends */
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, cnt, nl, MPI_INT64_T, MPI_SUM, comm));
    for (int j = 0; j < nl; j++) lo[nl + j] = hi[j];
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, lo, 2 * nl, MPI_DOUBLE, MPI_MIN, comm));
    for (int j = 0; j < nl; j++) hi[j] = lo[nl + j] > -PETSC_MAX_REAL ? nextafter(-lo[nl + j], PETSC_MAX_REAL) : -PETSC_MAX_REAL; /* ranges [lo, hi) */
    PetscCall(PetscMalloc1((size_t)nl * B, &hist)); /* zeroed every round */
    for (int k = 0; k < rounds; k++) {
      for (size_t e = 0; e < (size_t)nl * B; e++) hist[e] = 0;
      for (pm_gidx_t r = 0; r < n; r++) {
        int j = lix[nd[r]], b;
        if (j < 0 || !(v[r] >= lo[j] && v[r] < hi[j])) continue;
        b = (int)((v[r] - lo[j]) / (hi[j] - lo[j]) * B);
        hist[(size_t)j * B + PetscMax(0, PetscMin(B - 1, b))]++;
      }
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, hist, nl * B, MPI_INT64_T, MPI_SUM, comm));
      for (int j = 0; j < nl; j++) {
        int       nd0 = lev[j];
        pm_gidx_t want = (T->share[nd0] < 0.0 ? cnt[j] * (T->nr[nd0] / 2) / T->nr[nd0] : (pm_gidx_t)(cnt[j] * T->share[nd0])) - below[j], c = 0; /* rows wanted below the cut, beyond those already below the range */
        double    w = (hi[j] - lo[j]) / B, l = lo[j];
        if (!(cnt[j] > 0 && hi[j] > lo[j])) continue;
        for (int b = 0; b < B; b++) {
          pm_gidx_t h = hist[(size_t)j * B + b];
          if (c + h > want || b == B - 1) { /* the wanted row lies in bin b */
            lo[j] = b == 0 ? l : l + b * w;
            if (b < B - 1) hi[j] = l + (b + 1) * w;
            below[j] += c;
            break;
          }
          c += h;
        }
      }
    }
    PetscCall(PetscFree(hist));
    for (int j = 0; j < nl; j++)
      if (cnt[j] > 0) T->val[lev[j]] = lo[j];
    for (pm_gidx_t r = 0; r < n; r++) {
      int i = nd[r];
      if (lix[i] >= 0) nd[r] = v[r] < T->val[i] ? T->left[i] : T->right[i];
    }
    { /* the next level: the children that are cuts themselves */
      int m = 0;
      for (int j = 0; j < nl; j++) {
        int i = lev[j], ch[2] = {T->left[i], T->right[i]};
        lix[i] = -1;
        for (int c = 0; c < 2; c++)
          if (T->dir[ch[c]] >= 0) lev[nl + m++] = ch[c];
      }
      for (int j = 0; j < m; j++) lev[j] = lev[nl + j];
      nl = m;
    }
  }
  for (pm_gidx_t r = 0; r < n; r++) dest[r] = T->rank[nd[r]];
  PetscCall(PetscFree3(nd, v, lix));
  PetscCall(PetscFree4(lev, cnt, below, lo));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0 cuts the sample (with the principal axes of the sample as extra directions and the
 * probe's radius, computed here when no probe ran) and broadcasts the cut tree. */
static PetscErrorCode cuts_build(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t N, int k, knn_sample_t *given, cut_tree_t *T)
{
  int           rank, size, D = mine->dim;
  pm_gidx_t     m;
  knn_sample_t  own = KNN_SAMPLE_NONE, *s = given;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(knn->comm, &rank));
  PetscCallMPI(MPI_Comm_size(knn->comm, &size));
  m = PetscMin(N, PetscMax((pm_gidx_t)CELL_SAMPLE_MIN, (pm_gidx_t)CELL_SAMPLE_PER * size));
  if (!s || s->m != m) { /* the probe's sample is too small (many ranks) or there was none */
    PetscCall(knn_sample_fetch(knn, mine, N, m, PETSC_FALSE, &own));
    s = &own;
  }
  T->D   = D;
  T->npc = m >= 2 * D ? PetscMin(D, CUT_PCS) : 0;
  PetscCall(PetscCalloc6(2 * size, &T->dir, 2 * size, &T->left, 2 * size, &T->right, 2 * size, &T->rank, 2 * size, &T->nr, 2 * size, &T->val));
  PetscCall(PetscMalloc1(2 * size, &T->share));
  for (int i = 0; i < 2 * size; i++) T->share[i] = -1.0;
  PetscCall(PetscMalloc1(T->npc * D + 1, &T->pc));
  if (rank == 0) {
    cut_data_t S = {s->x, NULL, -1.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    pm_gidx_t *perm;
    double    *y, fr;
    int       *qof = NULL;
    if (s->radius < 0.0) PetscCall(knn_sample_probe(PETSC_COMM_SELF, s, D, knn->leaf, N, k, PETSC_INFINITY, &fr));
    S.radius = s->radius;
    if (s->nq > 0) { /* the probe's queries and their costs */
      PetscCall(PetscMalloc3(m, &qof, s->nq, &S.qv, s->nq, &S.qc));
      for (pm_gidx_t r = 0; r < m; r++) qof[r] = -1;
      for (pm_gidx_t j = 0; j < s->nq; j++) qof[s->qrow[j]] = (int)j;
      S.qof   = qof;
      S.qcost = s->qcost;
    }
    if (T->npc) {
      knn_block_t b = {0, m, D, s->x, NULL};
      PetscCall(knn_principal_axes(&b, CUT_SCORE, T->npc, T->pc));
    }
    PetscCall(PetscMalloc1(m * T->npc + 1, &y));
    if (T->npc) cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, T->npc, D, 1.0, s->x, D, T->pc, D, 0.0, y, T->npc);
    S.y = y;
    PetscCall(PetscMalloc5(m, &perm, CUT_SCORE, &S.v, CUT_AXES + CUT_PCS, &S.cand, D, &S.wid, D, &S.wlo));
    for (pm_gidx_t r = 0; r < m; r++) perm[r] = r; /* the sample permutation */
    (void)cut(T, &S, perm, 0, m, 0, size);
    PetscCall(PetscFree5(perm, S.v, S.cand, S.wid, S.wlo));
    if (qof) PetscCall(PetscFree3(qof, S.qv, S.qc));
    PetscCall(PetscFree(y));
  }
  PetscCallMPI(MPI_Bcast(&T->n, 1, MPI_INT, 0, knn->comm));
  PetscCallMPI(MPI_Bcast(T->dir, T->n, MPI_INT, 0, knn->comm));
  PetscCallMPI(MPI_Bcast(T->left, T->n, MPI_INT, 0, knn->comm));
  PetscCallMPI(MPI_Bcast(T->right, T->n, MPI_INT, 0, knn->comm));
  PetscCallMPI(MPI_Bcast(T->rank, T->n, MPI_INT, 0, knn->comm));
  PetscCallMPI(MPI_Bcast(T->nr, T->n, MPI_INT, 0, knn->comm));
  PetscCallMPI(MPI_Bcast(T->val, T->n, MPI_DOUBLE, 0, knn->comm));
  PetscCallMPI(MPI_Bcast(T->share, T->n, MPI_DOUBLE, 0, knn->comm));
  if (T->npc) PetscCallMPI(MPI_Bcast(T->pc, T->npc * D, MPI_DOUBLE, 0, knn->comm));
  PetscCall(knn_sample_free(&own));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The largest v over the ranks, checked against the MPI int count range (collective, so every
 * rank stops alike). */
static PetscErrorCode max_in_int_range(MPI_Comm comm, pm_gidx_t v, pm_gidx_t *vmax)
{
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(&v, vmax, 1, MPI_INT64_T, MPI_MAX, comm));
  PetscCheck(*vmax <= INT32_MAX, comm, PETSC_ERR_SUP, "kNN tree layout: %" PRId64 " rows in one message exceed the MPI count limit; use more ranks", *vmax);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Displacements from counts; returns the total. Collective (max_in_int_range). */
static PetscErrorCode displs(MPI_Comm comm, int size, const int *cnt, int *dsp, pm_gidx_t *total)
{
  pm_gidx_t t = 0, tmax;

  PetscFunctionBeginUser;
  *total = 0;
  for (int p = 0; p < size; p++) t += cnt[p];
  PetscCall(max_in_int_range(comm, t, &tmax));
  t = 0;
  for (int p = 0; p < size; p++) {
    dsp[p] = (int)t;
    t += cnt[p];
  }
  dsp[size] = (int)t;
  *total    = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Send row r of b, packed as [global index, coordinates] (rb bytes) straight into the send
 * buffer, to rank dest[r]; the received rows arrive in source rank order. */
static PetscErrorCode send_rows(MPI_Comm comm, int size, const knn_block_t *b, const int *dest, size_t rb, char **out, pm_gidx_t *nout)
{
  int         *scnt, *sdsp, *rcnt, *rdsp, *pos;
  pm_gidx_t    ns;
  char        *sbuf;
  MPI_Datatype rt;

  PetscFunctionBeginUser;
  *nout = 0;
  PetscCall(PetscCalloc5(size, &scnt, size + 1, &sdsp, size, &rcnt, size + 1, &rdsp, size + 1, &pos));
  {
    pm_gidx_t nmax;
    PetscCall(max_in_int_range(comm, b->n, &nmax)); /* the int counts below cannot overflow */
  }
  for (pm_gidx_t r = 0; r < b->n; r++) scnt[dest[r]]++;
  PetscCallMPI(MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, comm));
  PetscCall(displs(comm, size, scnt, sdsp, &ns));
  PetscCall(displs(comm, size, rcnt, rdsp, nout));
  PetscCall(PetscMalloc1(ns * rb + 1, &sbuf));
  for (int p = 0; p < size; p++) pos[p] = sdsp[p];
  for (pm_gidx_t r = 0; r < b->n; r++) {
    char     *dst = sbuf + (size_t)pos[dest[r]]++ * rb;
    pm_gidx_t g   = b->start + r;
    memcpy(dst, &g, sizeof g);
    memcpy(dst + sizeof g, b->x + r * b->dim, (size_t)b->dim * sizeof(double));
  }
  PetscCall(PetscMalloc1(*nout * rb + 1, out));
  PetscCallMPI(MPI_Type_contiguous((int)rb, MPI_BYTE, &rt));
  PetscCallMPI(MPI_Type_commit(&rt));
  PetscCallMPI(MPI_Alltoallv(sbuf, scnt, sdsp, rt, *out, rcnt, rdsp, rt, comm));
  PetscCallMPI(MPI_Type_free(&rt));
  PetscCall(PetscFree(sbuf));
  PetscCall(PetscFree5(scnt, sdsp, rcnt, rdsp, pos));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_cell_create(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t n_global, int k, knn_sample_t *s, knn_cell_t *cell)
{
  cut_tree_t T = {0};
  int        size, rank, D = mine->dim;
  size_t     rb = sizeof(pm_gidx_t) + (size_t)D * sizeof(double);
  char      *recv;
  pm_gidx_t  nr;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(knn->comm, &rank));
  PetscCallMPI(MPI_Comm_size(knn->comm, &size));
  PetscCall(cuts_build(knn, mine, n_global, k, s, &T));
  PetscCall(PetscMalloc1(mine->n + 1, &cell->dest)); /* kept: the return receives by it */
  PetscCall(cuts_balance(knn->comm, &T, mine, cell->dest));
  PetscCall(send_rows(knn->comm, size, mine, cell->dest, rb, &recv, &nr));
  cell->n = nr;
  PetscCall(PetscMalloc1(nr * D + 1, &cell->x));
  PetscCall(PetscMalloc1(nr + 1, &cell->gidx));
  for (pm_gidx_t r = 0; r < nr; r++) {
    memcpy(&cell->gidx[r], recv + r * rb, sizeof(pm_gidx_t));
    memcpy(cell->x + r * D, recv + r * rb + sizeof(pm_gidx_t), (size_t)D * sizeof(double));
  }
  PetscCall(PetscFree(recv));
  cell->cut_dir = T.dir[0];
  cell->share   = 1.0;
  for (int i = 0; T.dir[i] >= 0;) { /* down the cut tree to this rank's leaf */
    PetscBool low = rank < T.rank[i] + T.nr[i] / 2 ? PETSC_TRUE : PETSC_FALSE;
    cell->share *= low ? node_share(&T, i) : 1.0 - node_share(&T, i);
    i = low ? T.left[i] : T.right[i];
  }
  if (T.dir[0] >= 0) PetscCall(PetscInfo(NULL, "kNN cells: first cut along %s %d, %.4f of the rows on its low side (%s)\n", T.dir[0] < D ? "coordinate" : "principal axis", T.dir[0] < D ? T.dir[0] : T.dir[0] - D, node_share(&T, 0), T.share[0] < 0.0 ? "the ranks' share" : "balanced by the probe's costs"));
  PetscCall(PetscFree6(T.dir, T.left, T.right, T.rank, T.nr, T.val));
  PetscCall(PetscFree(T.share));
  PetscCall(PetscFree(T.pc));
  { /* rows arrive in source rank order, each source in row order: sorted by global index, so the
       rows of each owner form one segment */
    pm_gidx_t *starts;
    PetscCall(pm_layout_starts(knn->comm, mine->n, &starts));
    PetscCall(PetscMalloc1(size + 1, &cell->seg));
    for (pm_gidx_t r = 1; r < nr; r++) PM_ASSERT(cell->gidx[r - 1] < cell->gidx[r]);
    for (pm_gidx_t q = 0, r = 0; q <= size; q++) { /* seg[q]: cell rows with global index < starts[q] */
      while (r < nr && cell->gidx[r] < starts[q]) r++;
      cell->seg[q] = r;
    }
    PetscCall(PetscFree(starts));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Give the pages lying entirely inside bytes [from, to) of array base back to the OS (rows
 * [seg, hi) of one owner's segment are sent; from = lo of this round). The array is still freed
 * normally afterwards: only whole interior pages of a consumed range are dropped, and nothing reads
 * them again. */
static void release_rows(char *base, size_t rb, pm_gidx_t seg, pm_gidx_t lo, pm_gidx_t hi)
{
#if defined(MADV_DONTNEED)
  uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), b0 = (uintptr_t)base + (uintptr_t)seg * rb;
  uintptr_t p0 = ((uintptr_t)base + (uintptr_t)lo * rb) / pg * pg, p1 = ((uintptr_t)base + (uintptr_t)hi * rb) / pg * pg;
  if (p0 < b0) p0 = (b0 + pg - 1) / pg * pg;
  if (p1 > p0) (void)madvise((void *)p0, p1 - p0, MADV_DONTNEED);
#endif
}

/* Round k of nr: entries [lo, hi) of a run of len entries starting at at. */
static void slice(pm_gidx_t at, pm_gidx_t len, pm_gidx_t k, pm_gidx_t nr, pm_gidx_t *lo, pm_gidx_t *hi)
{
  *lo = at + len * k / nr;
  *hi = at + len * (k + 1) / nr;
}

/* The rows of each owner q form one segment seg[q] .. seg[q+1] of the cell rows. Round k finishes
 * (sorts) and sends the k-th of nr equal slices of every other segment, then finishes the own
 * segment's slice and copies it, row chunk by row chunk while each row is still in cache and
 * the messages fly: each rank sends and receives about n / nr rows per round, and the sent part
 * of the cell graph goes back to the OS as it goes, so the stage never holds much more than one
 * copy of the graph. (That also makes the output's first touches cheap: its new pages come from
 * the pages just given back. Copying all own rows at once, or sorting them straight into the
 * output, took 2.0-2.6 s instead of 0.2 s for the 250k own rows of lowdim 1M on 2 ranks, and
 * held both graphs.) A slice is contiguous in the cell arrays and is sent from them as it is; it
 * arrives straight in its rows of the output through an indexed type: the owner knows the cell
 * of each of its rows (cell->dest) and that they come in increasing order, so the rows from q are
 * the owner's rows with dest q, in order, sliced the same way (no receive buffers, no second
 * copy). The rows are sorted here, slice by slice just before they are sent or copied, rather
 * than all before the return: each row is then read from memory once, not twice (lowdim on 2
 * ranks, alternating runs: 100k 0.92 -> 0.82 s, 1M 15.5 -> 14.8 s; 20k unchanged). */
PetscErrorCode knn_cell_return(pm_knn_t *knn, const knn_cell_t *cell, knn_lists_t *h, const knn_block_t *mine, pm_gidx_t *ind_out, double *dist_out)
{
  int          rank, size, nreq, *rows, *idx, ncol = h->ncol;
  pm_gidx_t   *seg = cell->seg, *rpos, nmax, nr, per, got;
  size_t       ri = (size_t)ncol * sizeof(pm_gidx_t), rd = (size_t)ncol * sizeof(double);
  MPI_Datatype it, dt;
  MPI_Request *req;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(knn->comm, &rank));
  PetscCallMPI(MPI_Comm_size(knn->comm, &size));
  PetscCall(max_in_int_range(knn->comm, PetscMax(cell->n, mine->n), &nmax)); /* row offsets and displacements are ints */
  per = PetscMax((pm_gidx_t)1024, (pm_gidx_t)(RETURN_BYTES / (ri + rd)));
  nr  = PetscMax((pm_gidx_t)1, (nmax + per - 1) / per);
  /* the owner's rows by their cell (counting sort: increasing within each cell) */
  PetscCall(PetscCalloc1(size + 1, &rpos));
  PetscCall(PetscMalloc3(mine->n + 1, &rows, mine->n + 1, &idx, 4 * (size_t)size, &req));
  for (pm_gidx_t l = 0; l < mine->n; l++) rpos[cell->dest[l] + 1]++;
  for (int q = 0; q < size; q++) rpos[q + 1] += rpos[q];
  for (pm_gidx_t l = 0; l < mine->n; l++) rows[rpos[cell->dest[l]]++] = (int)l;
  for (int q = size; q > 0; q--) rpos[q] = rpos[q - 1]; /* rpos[q] was q's end: back to the starts */
  rpos[0] = 0;
  got     = seg[rank + 1] - seg[rank];
  PM_ASSERT(rpos[rank + 1] - rpos[rank] == got); /* the own rows */
  PetscCallMPI(MPI_Type_contiguous(ncol, MPI_INT64_T, &it));
  PetscCallMPI(MPI_Type_commit(&it));
  PetscCallMPI(MPI_Type_contiguous(ncol, MPI_DOUBLE, &dt));
  PetscCallMPI(MPI_Type_commit(&dt));
  for (pm_gidx_t k = 0; k < nr; k++) {
    MPI_Datatype rt[2];
    pm_gidx_t    lo, hi;
    nreq = 0;
    for (int q = 0; q < size; q++) { /* receives: slice k of the rows whose cell is q's */
      if (q == rank) continue;
      slice(rpos[q], rpos[q + 1] - rpos[q], k, nr, &lo, &hi);
      if (hi == lo) continue;
      for (pm_gidx_t e = lo; e < hi; e++) idx[e - lo] = rows[e];
      PetscCallMPI(MPI_Type_create_indexed_block((int)(hi - lo), 1, idx, it, &rt[0]));
      PetscCallMPI(MPI_Type_create_indexed_block((int)(hi - lo), 1, idx, dt, &rt[1]));
      PetscCallMPI(MPI_Type_commit(&rt[0]));
      PetscCallMPI(MPI_Type_commit(&rt[1]));
      PetscCallMPI(MPI_Irecv(ind_out, 1, rt[0], q, 7, knn->comm, &req[nreq++]));
      PetscCallMPI(MPI_Irecv(dist_out, 1, rt[1], q, 8, knn->comm, &req[nreq++]));
      PetscCallMPI(MPI_Type_free(&rt[0])); /* freed once the receives are done */
      PetscCallMPI(MPI_Type_free(&rt[1]));
      got += hi - lo;
    }
    for (int s = 1; s < size; s++) { /* sends: slice k of q's segment, sorted first (from the right neighbour on, so the ranks do not all send to rank 0 first) */
      int q = (rank + s) % size;
      slice(seg[q], seg[q + 1] - seg[q], k, nr, &lo, &hi);
      if (hi == lo) continue;
      PetscCall(knn_lists_finish_rows(h, lo, hi));
      PetscCallMPI(MPI_Isend(h->ind + lo * ncol, (int)(hi - lo), it, q, 7, knn->comm, &req[nreq++]));
      PetscCallMPI(MPI_Isend(h->dist + lo * ncol, (int)(hi - lo), dt, q, 8, knn->comm, &req[nreq++]));
    }
    slice(seg[rank], seg[rank + 1] - seg[rank], k, nr, &lo, &hi);
    for (pm_gidx_t r0 = lo; r0 < hi; r0 += RETURN_CHUNK) { /* meanwhile the own slice: sorted and copied a chunk at a time */
      pm_gidx_t r1 = PetscMin(r0 + RETURN_CHUNK, hi);
      int       flag;
      PetscCall(knn_lists_finish_rows(h, r0, r1));
      for (pm_gidx_t r = r0; r < r1; r++) {
        pm_gidx_t l = cell->gidx[r] - mine->start;
        memcpy(ind_out + l * ncol, h->ind + r * ncol, ri);
        memcpy(dist_out + l * ncol, h->dist + r * ncol, rd);
      }
      if (nreq) PetscCallMPI(MPI_Testall(nreq, req, &flag, MPI_STATUSES_IGNORE)); /* progress the transfers */
    }
    PetscCallMPI(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
    for (int q = 0; q < size; q++) {
      slice(seg[q], seg[q + 1] - seg[q], k, nr, &lo, &hi);
      release_rows((char *)h->ind, ri, seg[q], lo, hi);
      release_rows((char *)h->dist, rd, seg[q], lo, hi);
    }
  }
  PM_ASSERT(got == mine->n);
  PetscCallMPI(MPI_Type_free(&it));
  PetscCallMPI(MPI_Type_free(&dt));
  PetscCall(PetscFree(h->ind));
  PetscCall(PetscFree(h->dist));
  PetscCall(PetscFree3(rows, idx, req));
  PetscCall(PetscFree(rpos));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_cell_destroy(knn_cell_t *cell)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(cell->x));
  PetscCall(PetscFree(cell->gidx));
  PetscCall(PetscFree(cell->seg));
  PetscCall(PetscFree(cell->dest));
  PetscFunctionReturn(PETSC_SUCCESS);
}
