/* Bounded per-row selection: buffered candidates merged into the row's list by one quickselect on
 * (distance, global index), the total order every result of the kNN stage follows. */
#include "graph/graph_impl.h"
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
  #include <emmintrin.h>
#endif

PetscErrorCode knn_lists_init(knn_lists_t *L, pm_gidx_t n, pm_gidx_t row_start, int k, pm_gidx_t *ind, double *dist)
{
  PetscFunctionBeginUser;
  L->n         = n;
  L->row_start = row_start;
  L->k         = k;
  L->ncol      = k + 1;
  L->ind       = ind;
  L->dist      = dist;
  L->self      = NULL;
  PetscCall(PetscCalloc1(n + 1, &L->fill));
  PetscCall(PetscMalloc1(n + 1, &L->bound2));
  for (pm_gidx_t i = 0; i < n; i++) L->bound2[i] = PETSC_INFINITY;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_lists_free(knn_lists_t *L)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(L->fill));
  PetscCall(PetscFree(L->bound2));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_buf_create(int rows, int cap, int k, knn_buf_t *B)
{
  PetscFunctionBeginUser;
  B->rows = rows;
  B->cap  = cap;
  PetscCall(PetscCalloc1(rows, &B->cnt));
  PetscCall(PetscMalloc2((size_t)rows * cap, &B->d2, (size_t)rows * cap, &B->g));
  PetscCall(PetscMalloc3(k + cap, &B->td, k + cap, &B->tg, k + cap, &B->bk));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_buf_destroy(knn_buf_t *B)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(B->cnt));
  PetscCall(PetscFree2(B->d2, B->g));
  PetscCall(PetscFree3(B->td, B->tg, B->bk));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* (da, ga) before (db, gb) in the neighbour order */
static inline int before(double da, pm_gidx_t ga, double db, pm_gidx_t gb)
{
  return da < db || (da == db && ga < gb);
}

static inline void swap(double *d, pm_gidx_t *g, int a, int b)
{
  double    td = d[a];
  pm_gidx_t tg = g[a];
  d[a]         = d[b];
  g[a]         = g[b];
  d[b]         = td;
  g[b]         = tg;
}

/* Partition d/g[lo..hi] around the median of three; returns the pivot's final position.
 * Branch-free loop (every element is swapped, the split point advances by the comparison): the
 * comparisons are unpredictable, so this beats a branchy partition by a wide margin. */
static int partition(double *d, pm_gidx_t *g, int lo, int hi)
{
  int       mid = lo + (hi - lo) / 2, s = lo;
  double    pd;
  pm_gidx_t pg;

  if (before(d[mid], g[mid], d[lo], g[lo])) swap(d, g, mid, lo);
  if (before(d[hi], g[hi], d[lo], g[lo])) swap(d, g, hi, lo);
  if (before(d[mid], g[mid], d[hi], g[hi])) swap(d, g, mid, hi); /* pivot (median) now at hi */
  pd = d[hi];
  pg = g[hi];
  for (int j = lo; j < hi; j++) {
    double    dj = d[j];
    pm_gidx_t gj = g[j];
    int       c  = (dj < pd) | ((dj == pd) & (gj < pg));
    d[j]         = d[s];
    g[j]         = g[s];
    d[s]         = dj;
    g[s]         = gj;
    s += c;
  }
  swap(d, g, s, hi);
  return s;
}

/* Put the m smallest entries of d/g[0..n) first (m < n). */
static void select_smallest(double *d, pm_gidx_t *g, int n, int m)
{
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    int p = partition(d, g, lo, hi);
    if (p == m) return;
    if (p < m)
      lo = p + 1;
    else
      hi = p - 1;
  }
}

static void sort_pairs(double *d, pm_gidx_t *g, int n)
{
  while (n > 16) {
    int p = partition(d, g, 0, n - 1);
    sort_pairs(d, g, p); /* recurse on the left, loop on the right */
    d += p + 1;
    g += p + 1;
    n -= p + 1;
  }
  for (int a = 1; a < n; a++)
    for (int b = a; b > 0 && before(d[b], g[b], d[b - 1], g[b - 1]); b--) swap(d, g, b, b - 1);
}

#define KNN_NBUCKET 256
_Static_assert(KNN_NBUCKET <= 256, "a bucket number must fit the byte of knn_buf_t.bk");

/* Eight running minima and maxima (four vectors of two): one chain of dependent min/max over n
 * values was a quarter of select_into. */
void knn_value_range(const double *d, int n, double *lo, double *hi)
{
  int c = 0;
  *lo = *hi = d[0];
#if defined(__SSE2__)
  if (n >= 8) {
    __m128d l[4], h[4];
    for (int u = 0; u < 4; u++) l[u] = h[u] = _mm_loadu_pd(d + 2 * u);
    for (c = 8; c + 8 <= n; c += 8)
      for (int u = 0; u < 4; u++) {
        __m128d v = _mm_loadu_pd(d + c + 2 * u);
        l[u]      = _mm_min_pd(l[u], v);
        h[u]      = _mm_max_pd(h[u], v);
      }
    l[0] = _mm_min_pd(_mm_min_pd(l[0], l[1]), _mm_min_pd(l[2], l[3]));
    h[0] = _mm_max_pd(_mm_max_pd(h[0], h[1]), _mm_max_pd(h[2], h[3]));
    *lo  = _mm_cvtsd_f64(_mm_min_sd(l[0], _mm_unpackhi_pd(l[0], l[0])));
    *hi  = _mm_cvtsd_f64(_mm_max_sd(h[0], _mm_unpackhi_pd(h[0], h[0])));
  }
#endif
  for (; c < n; c++) {
    *lo = d[c] < *lo ? d[c] : *lo;
    *hi = d[c] > *hi ? d[c] : *hi;
  }
}

/* Entries d/g[0..n) with buckets bk[0..n): those below bucket kb appended at D/G + *p, those in
 * it at td/tg + *q. Each entry is read before anything is written, so d may be D itself with *p
 * starting at 0 (an entry then lands at most at its own position). */
static inline void split_entries(const double *d, const pm_gidx_t *g, const unsigned char *bk, int n, int kb, double *D, pm_gidx_t *G, int *p, double *td, pm_gidx_t *tg, int *q)
{
  for (int c = 0; c < n; c++) {
    int       b = bk[c];
    double    x = d[c];
    pm_gidx_t y = g[c];
    D[*p]       = x;
    G[*p]       = y;
    *p += b < kb;
    td[*q] = x;
    tg[*q] = y;
    *q += b == kb;
  }
}

/* The m smallest (by distance, then index; 1 <= m < f + nb, nb >= 1) of the list D/G[0..f) and the
 * buffer bd/bg[0..nb), written to D/G[0..m) in no particular order; returns the largest of them.
 * The distances are binned by the monotone map b(x) = min(floor((x - lo) * s), NB - 1): a lower
 * bucket means a strictly smaller distance, so every entry below the bucket kb holding the m-th
 * is kept, and only the few entries of kb are ordered (by the quickselect on (distance, index)).
 * Two linear, branch-free passes instead of a quickselect that swaps every pair several times. In
 * place: the list is split first, so an entry kept is written to a slot already read. */
static double merge_select(double *D, pm_gidx_t *G, int f, const double *bd, const pm_gidx_t *bg, int nb, int m, double *td, pm_gidx_t *tg, unsigned char *bk)
{
  double lo, hi, lb, hb, s, mx;
  int    n = f + nb, cnt[2][KNN_NBUCKET] = {{0}}, kb = 0, below = 0, p = 0, q = 0, need, c;

  knn_value_range(bd, nb, &lo, &hi);
  if (f) {
    knn_value_range(D, f, &lb, &hb);
    lo = lb < lo ? lb : lo;
    hi = hb > hi ? hb : hi;
  }
  if (!(hi > lo)) { /* all distances equal: the index decides */
    memcpy(td, D, (size_t)f * sizeof(double));
    memcpy(tg, G, (size_t)f * sizeof(pm_gidx_t));
    memcpy(td + f, bd, (size_t)nb * sizeof(double));
    memcpy(tg + f, bg, (size_t)nb * sizeof(pm_gidx_t));
    select_smallest(td, tg, n, m - 1);
    memcpy(D, td, (size_t)m * sizeof(double));
    memcpy(G, tg, (size_t)m * sizeof(pm_gidx_t));
    return lo;
  }
  s = KNN_NBUCKET / (hi - lo);
  for (c = 0; c < f; c++) bk[c] = (unsigned char)knn_bucket_of(D[c], lo, s, KNN_NBUCKET);
  for (c = 0; c < nb; c++) bk[f + c] = (unsigned char)knn_bucket_of(bd[c], lo, s, KNN_NBUCKET);
  /* two tables: runs of one bucket (close distances) would otherwise chain every increment
     through memory */
  for (c = 0; c + 2 <= n; c += 2) {
    cnt[0][bk[c]]++;
    cnt[1][bk[c + 1]]++;
  }
  if (c < n) cnt[0][bk[c]]++;
  while (below + cnt[0][kb] + cnt[1][kb] < m) {
    below += cnt[0][kb] + cnt[1][kb];
    kb++;
  }
  split_entries(D, G, bk, f, kb, D, G, &p, td, tg, &q);
  split_entries(bd, bg, bk + f, nb, kb, D, G, &p, td, tg, &q);
  need = m - below; /* 1 <= need <= q */
  if (need < q) {
    select_smallest(td, tg, q, need - 1);
    mx = td[need - 1];
  } else {
    mx = td[0];
    for (c = 1; c < q; c++) mx = td[c] > mx ? td[c] : mx;
  }
  memcpy(D + below, td, (size_t)need * sizeof(double));
  memcpy(G + below, tg, (size_t)need * sizeof(pm_gidx_t));
  return mx;
}

/* sqrt of n values (correctly rounded, as sqrt(); SSE2 has no errno path to branch around) */
static void sqrt_n(const double *x, double *y, int n)
{
  int c = 0;
#if defined(__SSE2__)
  for (; c + 2 <= n; c += 2) _mm_storeu_pd(y + c, _mm_sqrt_pd(_mm_loadu_pd(x + c)));
#endif
  for (; c < n; c++) y[c] = sqrt(x[c]);
}

void knn_flush(knn_lists_t *L, knn_buf_t *B, int r, pm_gidx_t i)
{
  double    *D = L->dist + i * L->ncol + 1, *bd = B->d2 + (size_t)r * B->cap, mx;
  pm_gidx_t *G = L->ind + i * L->ncol + 1, *bg = B->g + (size_t)r * B->cap;
  int        f = L->fill[i], nb = B->cnt[r], k = L->k, n = f + nb;

  if (nb == 0) return;
  B->cnt[r] = 0;
  for (int c = 0; c < f; c += 8) { /* the list row is cold (a row group's lists outgrow the cache): fetch it while the buffer is worked on */
    __builtin_prefetch(D + c, 1);
    __builtin_prefetch(G + c, 1);
  }
  sqrt_n(bd, bd, nb); /* the buffer's squared distances become distances, in place */
  if (n <= k) { /* room for all */
    for (int c = 0; c < nb; c++) {
      D[f + c] = bd[c];
      G[f + c] = bg[c];
    }
    L->fill[i] = n;
    if (n < k) return;
    mx = 0.0;
    for (int c = 0; c < k; c++) mx = D[c] > mx ? D[c] : mx;
  } else {
    mx         = merge_select(D, G, f, bd, bg, nb, k, B->td, B->tg, B->bk);
    L->fill[i] = k;
  }
  L->bound2[i] = mx * mx * (1.0 + 1e-12) + 1e-300;
}

void knn_flush_two(knn_lists_t *L, knn_buf_t *B, int r, knn_buf_t *C, int rc, pm_gidx_t i)
{
  int nb = B->cnt[r], nc = C->cnt[rc];

  if (nb + nc <= B->cap) { /* one merge: C's entries join B's row */
    memcpy(B->d2 + (size_t)r * B->cap + nb, C->d2 + (size_t)rc * C->cap, (size_t)nc * sizeof(double));
    memcpy(B->g + (size_t)r * B->cap + nb, C->g + (size_t)rc * C->cap, (size_t)nc * sizeof(pm_gidx_t));
    B->cnt[r]  = nb + nc;
    C->cnt[rc] = 0;
  } else
    knn_flush(L, C, rc, i);
  knn_flush(L, B, r, i);
}

/* Sort d/g[0..n) by (distance, index) through the scratch td/tg (n each), cnt (n + 1) and bk (n):
 * a counting pass scatters the entries into n buckets by the monotone map of merge_select, a
 * crowded bucket (many equal distances) is sorted by sort_pairs, and one insertion pass over the
 * whole row orders the rest: the buckets are in order already, so it only moves entries within
 * the few small buckets. About four linear passes instead of a quicksort's log2(n). */
static void sort_row(double *d, pm_gidx_t *g, int n, double *td, pm_gidx_t *tg, int *cnt, int *bk)
{
  double lo, hi, s;

  knn_value_range(d, n, &lo, &hi);
  if (n < 32 || !(hi > lo)) {
    sort_pairs(d, g, n);
    return;
  }
  s = n / (hi - lo);
  for (int b = 0; b <= n; b++) cnt[b] = 0;
  for (int c = 0; c < n; c++) {
    bk[c] = knn_bucket_of(d[c], lo, s, n);
    cnt[bk[c] + 1]++;
  }
  for (int b = 0; b < n; b++) cnt[b + 1] += cnt[b]; /* cnt[b]: first slot of bucket b */
  for (int c = 0; c < n; c++) {
    int p = cnt[bk[c]]++; /* afterwards cnt[b] is the end of bucket b */
    td[p] = d[c];
    tg[p] = g[c];
  }
  for (int b = 0, b0 = 0; b < n; b0 = cnt[b++])
    if (cnt[b] - b0 > 16) sort_pairs(td + b0, tg + b0, cnt[b] - b0);
  d[0] = td[0];
  g[0] = tg[0];
  for (int c = 1; c < n; c++) { /* insertion, written straight back */
    double    x = td[c];
    pm_gidx_t y = tg[c];
    int       e = c;
    for (; e > 0 && before(x, y, d[e - 1], g[e - 1]); e--) {
      d[e] = d[e - 1];
      g[e] = g[e - 1];
    }
    d[e] = x;
    g[e] = y;
  }
}

PetscErrorCode knn_lists_finish_rows(knn_lists_t *L, pm_gidx_t lo, pm_gidx_t hi)
{
  double    *td;
  pm_gidx_t *tg;
  int       *cnt, *bk;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc4(L->k, &td, L->k, &tg, L->k + 1, &cnt, L->k, &bk));
  for (pm_gidx_t i = lo; i < hi; i++) {
    double    *D = L->dist + i * L->ncol;
    pm_gidx_t *G = L->ind + i * L->ncol;

    PM_ASSERT(L->fill[i] == L->k);
    if (i + 1 < hi) /* the rows stream from memory: fetch the next one's start */
      for (int c = 0; c < 4; c++) {
        __builtin_prefetch(D + L->ncol + 8 * c);
        __builtin_prefetch(G + L->ncol + 8 * c);
      }
    sort_row(D + 1, G + 1, L->k, td, tg, cnt, bk);
    D[0] = 0.0;
    G[0] = L->self ? L->self[i] : L->row_start + i;
  }
  PetscCall(PetscFree4(td, tg, cnt, bk));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_lists_finish(knn_lists_t *L)
{
  PetscFunctionBeginUser;
  PetscCall(knn_lists_finish_rows(L, 0, L->n));
  PetscFunctionReturn(PETSC_SUCCESS);
}
