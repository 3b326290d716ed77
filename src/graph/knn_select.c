/* Bounded per-row selection: buffered candidates merged into the row's list by one quickselect on
 * (distance, global index), the total order every result of the kNN stage follows. */
#include "graph/graph_impl.h"
#include <math.h>

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
  PetscCall(PetscMalloc2(k + cap, &B->sd, k + cap, &B->sg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_buf_destroy(knn_buf_t *B)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(B->cnt));
  PetscCall(PetscFree2(B->d2, B->g));
  PetscCall(PetscFree2(B->sd, B->sg));
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

void knn_flush(knn_lists_t *L, knn_buf_t *B, int r, pm_gidx_t i)
{
  double    *D = L->dist + i * L->ncol + 1, *bd = B->d2 + (size_t)r * B->cap;
  pm_gidx_t *G = L->ind + i * L->ncol + 1, *bg = B->g + (size_t)r * B->cap;
  int        f = L->fill[i], nb = B->cnt[r], k = L->k, n = f + nb;

  if (nb == 0) return;
  B->cnt[r] = 0;
  if (n <= k) { /* room for all */
    for (int c = 0; c < nb; c++) {
      D[f + c] = sqrt(bd[c]);
      G[f + c] = bg[c];
    }
    L->fill[i] = n;
    if (n < k) return;
  } else {
    double    *sd = B->sd;
    pm_gidx_t *sg = B->sg;
    for (int c = 0; c < f; c++) {
      sd[c] = D[c];
      sg[c] = G[c];
    }
    for (int c = 0; c < nb; c++) {
      sd[f + c] = sqrt(bd[c]);
      sg[f + c] = bg[c];
    }
    select_smallest(sd, sg, n, k - 1); /* the k-th smallest at k-1, smaller ones before it */
    for (int c = 0; c < k; c++) {
      D[c] = sd[c];
      G[c] = sg[c];
    }
    L->fill[i] = k;
  }
  {
    double mx = 0.0;
    for (int c = 0; c < k; c++) mx = D[c] > mx ? D[c] : mx;
    L->bound2[i] = mx * mx * (1.0 + 1e-12) + 1e-300;
  }
}

void knn_lists_finish(knn_lists_t *L)
{
  for (pm_gidx_t i = 0; i < L->n; i++) {
    double    *D = L->dist + i * L->ncol;
    pm_gidx_t *G = L->ind + i * L->ncol;

    PM_ASSERT(L->fill[i] == L->k);
    sort_pairs(D + 1, G + 1, L->k);
    D[0] = 0.0;
    G[0] = L->self ? L->self[i] : L->row_start + i;
  }
}
