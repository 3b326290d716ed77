/* Brute force in a spatial order. The candidates a row must measure depend on how soon its bound
 * comes close to its k-th distance: in input order (random for the rows of most data) about
 * k (1 + ln(N/k)) plus what the buffered bound lets through. Each rank's rows are therefore put in
 * kd order (tiles of consecutive rows are compact boxes), and every group of query rows visits
 * the column tiles nearest its centroid first. Any order gives the same exact graph; only the
 * number of candidates changes (uniform 20-D data, simulated: 1091 -> 806 per row at 100k). */
#include "graph/graph_impl.h"
#include <stdlib.h>

/* Split perm[lo, hi) on the widest coordinate at the multiple of T nearest the median (as the
 * kd-tree does, so every tile of T consecutive rows is one leaf), down to single tiles. */
static void kd_split(pm_gidx_t *perm, const double *x, int D, pm_gidx_t lo, pm_gidx_t hi, int T)
{
  while (hi - lo > T) {
    pm_gidx_t ntile = (hi - lo + T - 1) / T, m = lo + ntile / 2 * T;
    int       best  = 0;
    double    w     = -1.0;
    for (int d = 0; d < D; d++) {
      double a = PETSC_INFINITY, b = -PETSC_INFINITY;
      for (pm_gidx_t r = lo; r < hi; r++) {
        double v = x[perm[r] * D + d];
        a        = v < a ? v : a;
        b        = v > b ? v : b;
      }
      if (b - a > w) {
        w    = b - a;
        best = d;
      }
    }
    if (w <= 0.0) return; /* identical rows: any order */
    knn_select_nth(perm, x, D, best, lo, hi, m);
    kd_split(perm, x, D, lo, m, T); /* recurse on the left, loop on the right */
    lo = m;
  }
}

PetscErrorCode knn_kd_order(const knn_block_t *b, int T, double **xp, pm_gidx_t **gp)
{
  int        D = b->dim;
  pm_gidx_t *perm;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(b->n + 1, &perm));
  PetscCall(PetscMalloc1(b->n * D + 1, xp));
  for (pm_gidx_t r = 0; r < b->n; r++) perm[r] = r;
  kd_split(perm, b->x, D, 0, b->n, T);
  for (pm_gidx_t r = 0; r < b->n; r++) {
    PetscCall(PetscArraycpy(*xp + r * D, b->x + perm[r] * D, D));
    perm[r] = b->gidx ? b->gidx[perm[r]] : b->start + perm[r]; /* now the global index */
  }
  *gp = perm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void knn_tile_centroids(const knn_block_t *b, int T, double *cent)
{
  int D = b->dim;
  for (pm_gidx_t j0 = 0, t = 0; j0 < b->n; j0 += T, t++) {
    pm_gidx_t nj = b->n - j0 < T ? b->n - j0 : T;
    double   *c  = cent + t * D;
    for (int d = 0; d < D; d++) c[d] = 0.0;
    for (pm_gidx_t j = j0; j < j0 + nj; j++)
      for (int d = 0; d < D; d++) c[d] += b->x[j * D + d];
    for (int d = 0; d < D; d++) c[d] /= (double)nj;
  }
}

typedef struct {
  double key;
  int    tile;
} tile_key_t;

static int cmp_key(const void *a, const void *b)
{
  const tile_key_t *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return (x->tile > y->tile) - (x->tile < y->tile);
}

void knn_tile_order(const double *cent, int ntiles, int D, const double *x, int n, int *order, void *scratch)
{
  tile_key_t *k = scratch;
  double     *c = (double *)(k + ntiles); /* the group's centroid */

  for (int d = 0; d < D; d++) c[d] = 0.0;
  for (int r = 0; r < n; r++)
    for (int d = 0; d < D; d++) c[d] += x[(size_t)r * D + d];
  for (int d = 0; d < D; d++) c[d] /= (double)n;
  for (int t = 0; t < ntiles; t++) {
    double s = 0.0;
    for (int d = 0; d < D; d++) {
      double e = cent[(size_t)t * D + d] - c[d];
      s += e * e;
    }
    k[t] = (tile_key_t){s, t};
  }
  qsort(k, (size_t)ntiles, sizeof *k, cmp_key);
  for (int t = 0; t < ntiles; t++) order[t] = k[t].tile;
}

size_t knn_tile_order_scratch(int ntiles, int dim)
{
  return (size_t)ntiles * sizeof(tile_key_t) + (size_t)dim * sizeof(double);
}

PetscErrorCode knn_rows_unpermute(pm_gidx_t *ind, double *dist, int ncol, pm_gidx_t n, const pm_gidx_t *gp, pm_gidx_t start)
{
  char      *done;
  pm_gidx_t *ti;
  double    *td;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(n + 1, &done));
  PetscCall(PetscMalloc2(ncol, &ti, ncol, &td));
  for (pm_gidx_t i = 0; i < n; i++) { /* row i belongs at gp[i] - start: follow each cycle once */
    pm_gidx_t j;
    if (done[i] || gp[i] - start == i) continue;
    PetscCall(PetscArraycpy(ti, ind + i * ncol, ncol));
    PetscCall(PetscArraycpy(td, dist + i * ncol, ncol));
    j = i;
    for (;;) { /* the row now in slot j goes to slot gp[j] - start; the one there moves on */
      pm_gidx_t to = gp[j] - start;
      done[j]      = 1;
      if (to == i) {
        PetscCall(PetscArraycpy(ind + to * ncol, ti, ncol));
        PetscCall(PetscArraycpy(dist + to * ncol, td, ncol));
        break;
      }
      /* swap the carried row with slot `to`: carry what was there */
      for (int c = 0; c < ncol; c++) {
        pm_gidx_t a = ind[to * ncol + c];
        double    b = dist[to * ncol + c];
        ind[to * ncol + c]  = ti[c];
        dist[to * ncol + c] = td[c];
        ti[c]               = a;
        td[c]               = b;
      }
      /* the row carried now was in slot `to`, i.e. it is row `to` of the permuted order */
      j = to;
    }
  }
  PetscCall(PetscFree(done));
  PetscCall(PetscFree2(ti, td));
  PetscFunctionReturn(PETSC_SUCCESS);
}
