/* BMTI directed neighbour graph: outgoing edges of local points, the halo of their targets, the
 * reverse edges (one all-to-all to the targets' owners) and per-edge value exchanges along them. */
#include "density/bmti_impl.h"
#include <stdlib.h>
#include <string.h>

static void insertion_sort(pm_gidx_t *v, pm_gidx_t n)
{
  for (pm_gidx_t i = 1; i < n; i++) {
    pm_gidx_t x = v[i], j = i;
    while (j > 0 && v[j - 1] > x) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}

/* In-place quicksort of int64 keys (median of three, insertion sort below 24 elements, recursion on
 * the smaller part): qsort's comparator call dominated the BMTI graph steps. */
void bmti_sort_gidx(pm_gidx_t *v, pm_gidx_t n)
{
  while (n > 24) {
    pm_gidx_t a = v[0], b = v[n / 2], c = v[n - 1], p, i = 0, j = n - 1;
    p = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    while (i <= j) {
      while (v[i] < p) i++;
      while (v[j] > p) j--;
      if (i <= j) {
        pm_gidx_t t = v[i];
        v[i++]      = v[j];
        v[j--]      = t;
      }
    }
    if (j + 1 < n - i) {
      bmti_sort_gidx(v, j + 1);
      v += i;
      n -= i;
    } else {
      bmti_sort_gidx(v + i, n - i);
      n = j + 1;
    }
  }
  insertion_sort(v, n);
}

/* Index of key in the sorted array v (key must be present). */
pm_gidx_t bmti_find(const pm_gidx_t *v, pm_gidx_t n, pm_gidx_t key)
{
  pm_gidx_t lo = 0, hi = n - 1;
  while (lo < hi) {
    pm_gidx_t mid = lo + (hi - lo) / 2;
    if (v[mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

int bmti_owner(const bmti_work_t *w, pm_gidx_t g)
{
  int lo = 0, hi = w->size - 1;
  while (lo < hi) { /* last rank whose start is <= g */
    int mid = (lo + hi + 1) / 2;
    if (w->starts[mid] <= g)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

PetscErrorCode bmti_work_setup(bmti_work_t *w, MPI_Comm comm, const pm_rows_t *X, const pm_graph_t *g, double id, const int64_t *kstar)
{
  char      why[PM_REASON_MAX] = "";
  PetscBool ok                 = PETSC_TRUE;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(w, sizeof *w));
  w->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &w->rank));
  PetscCallMPI(MPI_Comm_size(comm, &w->size));
  PetscCheck(X->n_global == g->n_global, comm, PETSC_ERR_ARG_SIZ, "BMTI: coordinates have %" PRId64 " rows but the graph %" PRId64, X->n_global, g->n_global);
  PetscCheck(id > 0 && PetscIsNormalReal(id), comm, PETSC_ERR_USER_INPUT, "BMTI: intrinsic dimension %g must be positive; check -density_id", id);
  if (X->row_start != g->row_start || X->n_local != g->n_local) {
    ok = PETSC_FALSE;
    PetscCall(PetscSNPrintf(why, sizeof why, "BMTI: coordinates and graph have different row layouts"));
  }
  PetscCall(pm_agree(comm, ok, why));
  w->N         = g->n_global;
  w->row_start = g->row_start;
  w->n_local   = g->n_local;
  w->D         = X->dim;
  w->ncol      = g->ncol;
  w->id        = id;
  w->g         = g;
  w->x         = X->x;
  w->kstar     = kstar;
  PetscCall(pm_layout_starts(comm, w->n_local, &w->starts));
  for (pm_gidx_t i = 0; i < w->n_local && ok; i++) {
    if (kstar[i] < 2 || kstar[i] > g->k) {
      ok = PETSC_FALSE;
      PetscCall(PetscSNPrintf(why, sizeof why, "BMTI: k* of point %" PRId64 " is %" PRId64 ", outside [2, %d] (-knn_k); the graph needs more neighbours", w->row_start + i, (pm_gidx_t)kstar[i], g->k));
    }
  }
  PetscCall(pm_agree(comm, ok, why));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode bmti_work_destroy(bmti_work_t *w)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(w->starts));
  PetscCall(bmti_work_release_edges(w));
  PetscCall(PetscFree4(w->cptr, w->cols, w->cval, w->rhs0));
  PetscCall(PetscFree(w->wsum));
  PetscCall(PetscFree3(w->label, w->comp, w->col_label));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Frees the per-edge data once the rows are merged (bmti_structure): only the row structure, the
 * components and the layout are needed afterwards. Not collective. */
PetscErrorCode bmti_work_release_edges(bmti_work_t *w)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree3(w->eptr, w->etgt, w->eh));
  PetscCall(PetscFree(w->halo));
  PetscCall(PetscFree(w->hx));
  PetscCall(PetscFree(w->hg));
  PetscCall(PetscFree(w->hk));
  PetscCall(PetscFree4(w->scnt, w->sdsp, w->rcnt, w->rdsp));
  PetscCall(PetscFree(w->slot));
  PetscCall(PetscFree4(w->in_src, w->in_tgt, w->iptr, w->iord));
  PetscCall(PetscFree2(w->usrc, w->in_u));
  PetscCall(PetscFree(w->grad));
  PetscCall(PetscFree3(w->v_src, w->v_tgt, w->v_in));
  PetscCall(PetscFree4(w->dF, w->w, w->dF_in, w->w_in));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Edges i -> ind[i][r], r = 1..k*_i - 1 (spec 1.7), and the sorted halo of their targets. */
PetscErrorCode bmti_graph_edges(bmti_work_t *w)
{
  const pm_graph_t *g = w->g;
  pm_gidx_t         n = 0;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < w->n_local; i++) n += w->kstar[i] - 1;
  w->n_out = n;
  PetscCall(PetscMalloc3(w->n_local + 1, &w->eptr, n + 1, &w->etgt, n + 1, &w->eh));
  w->eptr[0] = 0;
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    pm_gidx_t e = w->eptr[i];
    for (int r = 1; r < w->kstar[i]; r++) w->etgt[e++] = g->ind[i * g->ncol + r];
    w->eptr[i + 1] = e;
  }
  PetscCall(PetscMalloc1(n + 1, &w->halo));
  memcpy(w->halo, w->etgt, (size_t)n * sizeof *w->halo);
  bmti_sort_gidx(w->halo, n);
  w->n_halo = 0;
  for (pm_gidx_t e = 0; e < n; e++)
    if (w->n_halo == 0 || w->halo[w->n_halo - 1] != w->halo[e]) w->halo[w->n_halo++] = w->halo[e];
  for (pm_gidx_t e = 0; e < n; e++) w->eh[e] = bmti_find(w->halo, w->n_halo, w->etgt[e]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Send every outgoing edge (i, j) to the owner of j once; the owner keeps them as incoming edges,
 * grouped by local target in increasing source index (receive order is by source rank, then by
 * source index, so a stable counting sort keeps that order for any number of ranks). */
PetscErrorCode bmti_graph_reverse(bmti_work_t *w)
{
  pm_gidx_t *sbuf, *rbuf, *fill, nin = 0;
  int       *pos;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc4(w->size, &w->scnt, w->size + 1, &w->sdsp, w->size, &w->rcnt, w->size + 1, &w->rdsp));
  PetscCall(PetscMalloc1(w->n_out + 1, &w->slot));
  for (pm_gidx_t e = 0; e < w->n_out; e++) w->scnt[bmti_owner(w, w->etgt[e])]++;
  PetscCallMPI(MPI_Alltoall(w->scnt, 1, MPI_INT, w->rcnt, 1, MPI_INT, w->comm));
  for (int p = 0; p < w->size; p++) {
    w->sdsp[p + 1] = w->sdsp[p] + w->scnt[p];
    nin += w->rcnt[p];
    PetscCheck(nin <= INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "BMTI: more than 2^31 incoming edges on one rank; use more ranks");
    w->rdsp[p + 1] = (int)nin;
  }
  w->n_in = nin;
  PetscCall(PetscCalloc1(w->size, &pos));
  PetscCall(PetscMalloc2(2 * w->n_out + 1, &sbuf, 2 * nin + 1, &rbuf));
  for (pm_gidx_t i = 0; i < w->n_local; i++)
    for (pm_gidx_t e = w->eptr[i]; e < w->eptr[i + 1]; e++) {
      int p                    = bmti_owner(w, w->etgt[e]);
      w->slot[e]               = w->sdsp[p] + pos[p]++;
      sbuf[2 * w->slot[e]]     = w->row_start + i;
      sbuf[2 * w->slot[e] + 1] = w->etgt[e];
    }
  {
    MPI_Datatype pair;
    PetscCallMPI(MPI_Type_contiguous(2, MPI_INT64_T, &pair));
    PetscCallMPI(MPI_Type_commit(&pair));
    PetscCallMPI(MPI_Alltoallv(sbuf, w->scnt, w->sdsp, pair, rbuf, w->rcnt, w->rdsp, pair, w->comm));
    PetscCallMPI(MPI_Type_free(&pair));
  }
  PetscCall(PetscMalloc4(nin + 1, &w->in_src, nin + 1, &w->in_tgt, w->n_local + 1, &w->iptr, nin + 1, &w->iord));
  PetscCall(PetscCalloc1(w->n_local + 1, &fill));
  PetscCall(PetscMalloc2(nin + 1, &w->usrc, nin + 1, &w->in_u));
  w->n_usrc = 0;
  for (pm_gidx_t r = 0; r < nin; r++) {
    PM_ASSERT(r == 0 || rbuf[2 * r] >= rbuf[2 * r - 2]); /* sources arrive in increasing order */
    if (w->n_usrc == 0 || w->usrc[w->n_usrc - 1] != rbuf[2 * r]) w->usrc[w->n_usrc++] = rbuf[2 * r];
    w->in_u[r]   = w->n_usrc - 1;
    w->in_src[r] = rbuf[2 * r];
    w->in_tgt[r] = rbuf[2 * r + 1] - w->row_start;
    PM_ASSERT(w->in_tgt[r] >= 0 && w->in_tgt[r] < w->n_local);
    fill[w->in_tgt[r] + 1]++;
  }
  w->iptr[0] = 0;
  for (pm_gidx_t j = 0; j < w->n_local; j++) w->iptr[j + 1] = w->iptr[j] + fill[j + 1];
  for (pm_gidx_t j = 0; j < w->n_local; j++) fill[j] = w->iptr[j];
  for (pm_gidx_t r = 0; r < nin; r++) w->iord[fill[w->in_tgt[r]]++] = r;
  PetscCall(PetscFree(fill));
  PetscCall(PetscFree(pos));
  PetscCall(PetscFree2(sbuf, rbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One double per outgoing edge to the owner of its target (in receive order). Collective. */
PetscErrorCode bmti_exchange_to_targets(bmti_work_t *w, const double *out_vals, double *in_vals)
{
  double *sbuf;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(w->n_out + 1, &sbuf));
  for (pm_gidx_t e = 0; e < w->n_out; e++) sbuf[w->slot[e]] = out_vals[e];
  PetscCallMPI(MPI_Alltoallv(sbuf, w->scnt, w->sdsp, MPI_DOUBLE, in_vals, w->rcnt, w->rdsp, MPI_DOUBLE, w->comm));
  PetscCall(PetscFree(sbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One double per incoming edge back to the owner of its source. Collective. */
PetscErrorCode bmti_exchange_to_sources(bmti_work_t *w, const double *in_vals, double *out_vals)
{
  double *rbuf;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(w->n_out + 1, &rbuf));
  PetscCallMPI(MPI_Alltoallv(in_vals, w->rcnt, w->rdsp, MPI_DOUBLE, rbuf, w->scnt, w->sdsp, MPI_DOUBLE, w->comm));
  for (pm_gidx_t e = 0; e < w->n_out; e++) out_vals[e] = rbuf[w->slot[e]];
  PetscCall(PetscFree(rbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static pm_gidx_t count_common(const pm_gidx_t *a, pm_gidx_t na, const pm_gidx_t *b, pm_gidx_t nb)
{
  pm_gidx_t c = 0, p = 0, q = 0;
  while (p < na && q < nb) {
    if (a[p] < b[q])
      p++;
    else if (a[p] > b[q])
      q++;
    else {
      c++;
      p++;
      q++;
    }
  }
  return c;
}

/* c_e = |ind[i][0..k*_i-1] intersect ind[j][0..k*_j-1]| for every outgoing edge (spec 3.5a). The
 * neighbour rows of the halo are fetched once; w->hk (halo k*) must be set. Collective. */
PetscErrorCode bmti_common_neighbours(bmti_work_t *w, int64_t *common)
{
  const pm_graph_t *g = w->g;
  pm_gidx_t        *hrows, *mine;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(w->n_halo * g->ncol + 1, &hrows));
  PetscCall(pm_fetch_rows(w->comm, w->N, w->row_start, w->n_local, g->ind, sizeof(pm_gidx_t), g->ncol, w->n_halo, w->halo, hrows));
  for (pm_gidx_t h = 0; h < w->n_halo; h++) bmti_sort_gidx(hrows + h * g->ncol, w->hk[h]);
  PetscCall(PetscMalloc1(g->ncol, &mine));
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    memcpy(mine, g->ind + i * g->ncol, (size_t)w->kstar[i] * sizeof *mine);
    bmti_sort_gidx(mine, w->kstar[i]);
    for (pm_gidx_t e = w->eptr[i]; e < w->eptr[i + 1]; e++) {
      pm_gidx_t h = w->eh[e];
      common[e]   = count_common(mine, w->kstar[i], hrows + h * g->ncol, w->hk[h]);
    }
  }
  PetscCall(PetscFree(mine));
  PetscCall(PetscFree(hrows));
  PetscFunctionReturn(PETSC_SUCCESS);
}
