/* DPA step 4: border points and saddles between preliminary clusters. Each rank tests its own points
 * (the "closest point of its cluster to p2" check is asked of p2's owner), keeps the best border per
 * cluster pair, and the pairs are reduced on a rank chosen by the pair, then replicated. */
#include "dpa_impl.h"
#include <stdlib.h>

/* First neighbour of rank 1..k* of each local non-centre point with another label -> query to the
 * owner of that neighbour p2. Query record: (p2, p1, label of p1). */
static PetscErrorCode border_queries(dpa_work_t *w, pm_gidx_t *nq, int **dest, int64_t **rec)
{
  const pm_gidx_t *ind = w->in->graph->ind;
  int              nc  = w->ncol;
  pm_gidx_t        n   = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(w->n_local + 1, dest, 3 * w->n_local + 1, rec));
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    if (w->clab[i] >= 0) continue;
    for (int r = 1; r <= w->in->kstar[i]; r++) {
      int32_t s = w->nb->slot[i * nc + r];
      if (w->label[s] != w->label[i]) {
        pm_gidx_t p2      = ind[i * nc + r];
        (*dest)[n]        = pm_dpa_owner(w->nb->starts, w->size, p2);
        (*rec)[3 * n]     = p2;
        (*rec)[3 * n + 1] = w->row_start + i;
        (*rec)[3 * n + 2] = w->label[i];
        n++;
        break;
      }
    }
  }
  *nq = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Owner of p2: p1 is accepted if it comes in p2's row before any other point of p1's cluster. */
static void answer_queries(const dpa_work_t *w, pm_gidx_t nrecv, const int64_t *q, int64_t *ans)
{
  const pm_gidx_t *ind = w->in->graph->ind;
  int              nc  = w->ncol;

  for (pm_gidx_t k = 0; k < nrecv; k++) {
    pm_gidx_t l = q[3 * k] - w->row_start, p1 = q[3 * k + 1];
    int64_t   c = q[3 * k + 2];
    PM_ASSERT(l >= 0 && l < w->n_local);
    ans[k] = 1;
    for (int r = 1; r < nc; r++) {
      if (ind[l * nc + r] == p1) break;
      if (w->label[w->nb->slot[l * nc + r]] == c) {
        ans[k] = 0;
        break;
      }
    }
  }
}

static int cmp_edge(const void *x, const void *y)
{
  const dpa_edge_t *a = x, *b = y;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  if (a->b != b->b) return a->b < b->b ? -1 : 1;
  return dpa_edge_better(a, b) ? -1 : (dpa_edge_better(b, a) ? 1 : 0);
}

/* Sort by pair, best first, and keep the best of each pair. */
static pm_gidx_t best_per_pair(pm_gidx_t n, dpa_edge_t *e)
{
  pm_gidx_t m = 0;

  qsort(e, (size_t)n, sizeof *e, cmp_edge);
  for (pm_gidx_t i = 0; i < n; i++)
    if (m == 0 || e[m - 1].a != e[i].a || e[m - 1].b != e[i].b) e[m++] = e[i];
  return m;
}

/* Reduce the local best borders over all ranks: route each pair to one rank, reduce, allgather. */
static PetscErrorCode reduce_pairs(dpa_work_t *w, pm_gidx_t n, dpa_edge_t *e)
{
  int         *dest, *cnt, *dsp, nmine;
  int64_t     *recv;
  pm_gidx_t    nrecv;
  const int    W = (int)(sizeof(dpa_edge_t) / sizeof(int64_t));
  MPI_Datatype et;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(n + 1, &dest));
  for (pm_gidx_t i = 0; i < n; i++) dest[i] = (int)((uint64_t)(e[i].a * 1000003 + e[i].b) % (uint64_t)w->size);
  PetscCall(pm_dpa_route(w->comm, n, W, dest, (const int64_t *)e, &recv, &nrecv, NULL));
  PetscCall(PetscFree(dest));
  nmine = (int)best_per_pair(nrecv, (dpa_edge_t *)recv);
  PetscCall(PetscMalloc2(w->size, &cnt, w->size + 1, &dsp));
  PetscCallMPI(MPI_Allgather(&nmine, 1, MPI_INT, cnt, 1, MPI_INT, w->comm));
  dsp[0] = 0;
  for (int p = 0; p < w->size; p++) dsp[p + 1] = dsp[p] + cnt[p];
  w->n_edges = dsp[w->size];
  PetscCall(PetscMalloc1(w->n_edges + 1, &w->edges));
  PetscCallMPI(MPI_Type_contiguous(W, MPI_INT64_T, &et));
  PetscCallMPI(MPI_Type_commit(&et));
  PetscCallMPI(MPI_Allgatherv(recv, nmine, et, w->edges, cnt, dsp, et, w->comm));
  PetscCallMPI(MPI_Type_free(&et));
  qsort(w->edges, (size_t)w->n_edges, sizeof *w->edges, cmp_edge);
  PetscCall(PetscFree2(cnt, dsp));
  PetscCall(PetscFree(recv));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode dpa_find_saddles(dpa_work_t *w)
{
  pm_gidx_t       nq, nrecv, ne = 0;
  int            *dest;
  int64_t        *rec, *recv, *ans, *verdict;
  pm_dpa_route_t *plan;
  dpa_edge_t     *e;

  PetscFunctionBeginUser;
  PetscCall(border_queries(w, &nq, &dest, &rec));
  PetscCall(pm_dpa_route(w->comm, nq, 3, dest, rec, &recv, &nrecv, &plan));
  PetscCall(PetscMalloc2(nrecv + 1, &ans, nq + 1, &verdict));
  answer_queries(w, nrecv, recv, ans);
  PetscCall(pm_dpa_route_reply(plan, 1, ans, verdict));
  PetscCall(pm_dpa_route_free(&plan));
  PetscCall(PetscMalloc1(nq + 1, &e));
  for (pm_gidx_t k = 0; k < nq; k++) {
    pm_gidx_t p1 = rec[3 * k + 1], i = p1 - w->row_start;
    int64_t   c  = rec[3 * k + 2], c2;
    int64_t   s2 = pm_dpa_nbr_lookup(w->nb, rec[3 * k]);
    if (!verdict[k] || !(w->g[i] > 0.0)) continue; /* the spec's saddle starts at 0 and needs g > it */
    c2         = w->label[s2];
    e[ne].a    = PetscMin(c, c2);
    e[ne].b    = PetscMax(c, c2);
    e[ne].g    = w->g[i];
    e[ne].side = (c == e[ne].a) ? 0 : 1;
    e[ne].p    = p1;
    e[ne].rc   = w->rc[i];
    e[ne].err  = w->in->err[i];
    ne++;
  }
  ne = best_per_pair(ne, e);
  PetscCall(reduce_pairs(w, ne, e));
  PetscCall(PetscFree(e));
  PetscCall(PetscFree2(ans, verdict));
  PetscCall(PetscFree(recv));
  PetscCall(PetscFree2(dest, rec));
  PetscFunctionReturn(PETSC_SUCCESS);
}
