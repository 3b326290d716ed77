/* DPA step 5: merging of clusters whose peaks are not distinct at significance Z, on the small
 * replicated cluster graph (every rank runs the same deterministic loop). Pairs without a border
 * never qualify (rho_c >= 1 + Z eps), so only the sparse saddle list matters: a max-heap of the
 * qualifying saddles ordered by (saddle desc, i asc, j asc) replaces the spec's full K x K scan and
 * picks the same pair at every step. */
#include "dpa_impl.h"

typedef struct {
  double  B; /* rho_c of the saddle point */
  int64_t a, b, e, ver;
} heap_ent_t;

typedef struct {
  int64_t   a, b, alive, ver;
  double    B, Berr;
  pm_gidx_t p;
} medge_t;

typedef struct {
  heap_ent_t *h;
  int64_t     n, cap;
} heap_t;

static int ent_before(const heap_ent_t *x, const heap_ent_t *y)
{
  if (x->B != y->B) return x->B > y->B;
  if (x->a != y->a) return x->a < y->a;
  return x->b < y->b;
}

static PetscErrorCode heap_push(heap_t *H, heap_ent_t v)
{
  int64_t i;

  PetscFunctionBeginUser;
  if (H->n == H->cap) {
    heap_ent_t *nh;
    H->cap = 2 * H->cap + 16;
    PetscCall(PetscMalloc1(H->cap, &nh));
    if (H->n) PetscCall(PetscArraycpy(nh, H->h, H->n));
    PetscCall(PetscFree(H->h));
    H->h = nh;
  }
  i = H->n++;
  while (i > 0 && ent_before(&v, &H->h[(i - 1) / 2])) {
    H->h[i] = H->h[(i - 1) / 2];
    i       = (i - 1) / 2;
  }
  H->h[i] = v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static heap_ent_t heap_pop(heap_t *H)
{
  heap_ent_t top = H->h[0], last = H->h[--H->n];
  int64_t    i = 0;

  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= H->n) break;
    if (c + 1 < H->n && ent_before(&H->h[c + 1], &H->h[c])) c++;
    if (!ent_before(&H->h[c], &last)) break;
    H->h[i] = H->h[c];
    i       = c;
  }
  if (H->n) H->h[i] = last;
  return top;
}

typedef struct {
  const dpa_work_t *w;
  medge_t          *E;
  int64_t           nE;
  int64_t          *inc_e, *inc_next, n_inc, cap_inc; /* incidence lists: cluster -> edges */
  int64_t          *head;
  heap_t            H;
} merge_t;

static int qualifies(const merge_t *M, const medge_t *e)
{
  const dpa_work_t *w  = M->w;
  double            Z  = w->in->Z;
  double            a1 = w->cen_rc[e->a] - e->B, a2 = w->cen_rc[e->b] - e->B;
  double            e1 = Z * (w->cen_err[e->a] + e->Berr), e2 = Z * (w->cen_err[e->b] + e->Berr);
  return a1 < e1 || a2 < e2;
}

static PetscErrorCode push_if_qualifies(merge_t *M, int64_t e)
{
  PetscFunctionBeginUser;
  if (qualifies(M, &M->E[e])) {
    heap_ent_t v = {M->E[e].B, M->E[e].a, M->E[e].b, e, M->E[e].ver};
    PetscCall(heap_push(&M->H, v));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode add_incidence(merge_t *M, int64_t c, int64_t e)
{
  PetscFunctionBeginUser;
  if (M->n_inc == M->cap_inc) {
    int64_t *ne, *nn;
    M->cap_inc = 2 * M->cap_inc + 16;
    PetscCall(PetscMalloc2(M->cap_inc, &ne, M->cap_inc, &nn));
    if (M->n_inc) {
      PetscCall(PetscArraycpy(ne, M->inc_e, M->n_inc));
      PetscCall(PetscArraycpy(nn, M->inc_next, M->n_inc));
    }
    PetscCall(PetscFree2(M->inc_e, M->inc_next));
    M->inc_e    = ne;
    M->inc_next = nn;
  }
  M->inc_e[M->n_inc]    = e;
  M->inc_next[M->n_inc] = M->head[c];
  M->head[c]            = M->n_inc++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static inline int64_t other_end(const medge_t *e, int64_t c)
{
  return e->a == c ? e->b : e->a;
}
static inline int touches(const medge_t *e, int64_t c)
{
  return e->alive && (e->a == c || e->b == c);
}

/* Survivor s absorbs r: for every neighbour q of r keep the higher saddle of (s,q) and (r,q). */
static PetscErrorCode absorb(merge_t *M, int64_t s, int64_t r, int64_t *mark)
{
  PetscFunctionBeginUser;
  for (int64_t k = M->head[s]; k >= 0; k = M->inc_next[k])
    if (touches(&M->E[M->inc_e[k]], s)) mark[other_end(&M->E[M->inc_e[k]], s)] = M->inc_e[k];
  for (int64_t k = M->head[r]; k >= 0; k = M->inc_next[k]) {
    int64_t  er = M->inc_e[k], q;
    medge_t *R  = &M->E[er];
    if (!touches(R, r)) continue;
    q = other_end(R, r);
    if (mark[q] >= 0) {
      medge_t *S = &M->E[mark[q]];
      if (S->B < R->B) {
        S->B    = R->B;
        S->Berr = R->Berr;
        S->p    = R->p;
        S->ver++;
        PetscCall(push_if_qualifies(M, mark[q]));
      }
      R->alive = 0;
    } else { /* no saddle (s,q) yet: the (r,q) saddle becomes (s,q) */
      R->a = PetscMin(s, q);
      R->b = PetscMax(s, q);
      R->ver++;
      PetscCall(add_incidence(M, s, er));
      mark[q] = er;
      PetscCall(push_if_qualifies(M, er));
    }
  }
  for (int64_t k = M->head[s]; k >= 0; k = M->inc_next[k]) mark[other_end(&M->E[M->inc_e[k]], s)] = -1;
  M->head[r] = -1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode merge_init(merge_t *M, const dpa_work_t *w, int64_t **mark)
{
  PetscFunctionBeginUser;
  M->w  = w;
  M->nE = w->n_edges;
  PetscCall(PetscMalloc1(M->nE + 1, &M->E));
  PetscCall(PetscMalloc1(w->K_pre + 1, &M->head));
  PetscCall(PetscMalloc1(w->K_pre + 1, mark));
  for (int64_t c = 0; c < w->K_pre; c++) M->head[c] = (*mark)[c] = -1;
  for (int64_t e = 0; e < M->nE; e++) {
    const dpa_edge_t *x = &w->edges[e];
    M->E[e]             = (medge_t){x->a, x->b, 1, 0, x->rc, x->err, x->p};
    PetscCall(add_incidence(M, x->a, e));
    PetscCall(add_incidence(M, x->b, e));
    PetscCall(push_if_qualifies(M, e));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Run the merges; absorbed_by[c] = survivor that absorbed c (or -1); history into res. */
static PetscErrorCode merge_loop(merge_t *M, int64_t *absorbed_by, int64_t *mark, pm_dpa_result_t *res)
{
  const dpa_work_t *w = M->w;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc4(w->K_pre + 1, &res->merge_absorbed, w->K_pre + 1, &res->merge_survivor, w->K_pre + 1, &res->merge_saddle, w->K_pre + 1, &res->merge_margin));
  res->n_merges = 0;
  while (M->H.n) {
    heap_ent_t top = heap_pop(&M->H);
    medge_t   *e   = &M->E[top.e];
    int64_t    i, j, s, r;
    double     c1, c2;
    if (!e->alive || e->ver != top.ver) continue;
    i                                  = e->a;
    j                                  = e->b;
    c1                                 = (w->cen_rc[i] - e->B) / (w->cen_err[i] + e->Berr);
    c2                                 = (w->cen_rc[j] - e->B) / (w->cen_err[j] + e->Berr);
    s                                  = c1 < c2 ? j : i;
    r                                  = c1 < c2 ? i : j;
    res->merge_absorbed[res->n_merges] = w->cen[r];
    res->merge_survivor[res->n_merges] = w->cen[s];
    res->merge_saddle[res->n_merges]   = e->B + w->m - 1.0;
    res->merge_margin[res->n_merges]   = c1 < c2 ? c1 : c2;
    res->n_merges++;
    e->alive       = 0;
    absorbed_by[r] = s;
    PetscCall(absorb(M, s, r, mark));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode dpa_merge(dpa_work_t *w, pm_dpa_result_t *res)
{
  merge_t  M = {0};
  int64_t *absorbed_by, *final_of_pre, *mark, K = 0;
  double  *halo_cut;

  PetscFunctionBeginUser;
  PetscCall(merge_init(&M, w, &mark));
  PetscCall(PetscMalloc2(w->K_pre + 1, &absorbed_by, w->K_pre + 1, &final_of_pre));
  for (int64_t c = 0; c < w->K_pre; c++) absorbed_by[c] = -1;
  PetscCall(merge_loop(&M, absorbed_by, mark, res));
  for (int64_t c = 0; c < w->K_pre; c++)
    if (absorbed_by[c] < 0) final_of_pre[c] = K++;
  for (int64_t c = 0; c < w->K_pre; c++) {
    int64_t s = c;
    while (absorbed_by[s] >= 0) s = absorbed_by[s];
    final_of_pre[c] = final_of_pre[s];
  }
  res->K = K;
  PetscCall(PetscMalloc3(K * K + 1, &res->saddle, K * K + 1, &res->saddle_err, K * K + 1, &res->border));
  PetscCall(PetscMalloc1(K + 1, &halo_cut));
  for (int64_t x = 0; x < K; x++) {
    halo_cut[x] = -1.0; /* the spec's row maximum: diagonal -1, no border 0 */
    for (int64_t y = 0; y < K; y++) {
      res->saddle[x * K + y]     = (x == y ? -1.0 : 0.0) + w->m - 1.0;
      res->saddle_err[x * K + y] = 0.0;
      res->border[x * K + y]     = -1;
      if (x != y) halo_cut[x] = 0.0;
    }
  }
  for (int64_t e = 0; e < M.nE; e++) {
    const medge_t *E = &M.E[e];
    int64_t        x, y;
    if (!E->alive) continue;
    x = final_of_pre[E->a];
    y = final_of_pre[E->b];
    PM_ASSERT(x != y && absorbed_by[E->a] < 0 && absorbed_by[E->b] < 0);
    res->saddle[x * K + y] = res->saddle[y * K + x] = E->B + w->m - 1.0;
    res->saddle_err[x * K + y] = res->saddle_err[y * K + x] = E->Berr;
    res->border[x * K + y] = res->border[y * K + x] = E->p;
    if (E->B > halo_cut[x]) halo_cut[x] = E->B;
    if (E->B > halo_cut[y]) halo_cut[y] = E->B;
  }
  PetscCall(dpa_finish(w, absorbed_by, final_of_pre, halo_cut, res));
  PetscCall(PetscFree(halo_cut));
  PetscCall(PetscFree2(absorbed_by, final_of_pre));
  PetscCall(PetscFree(mark));
  PetscCall(PetscFree(M.E));
  PetscCall(PetscFree(M.head));
  PetscCall(PetscFree2(M.inc_e, M.inc_next));
  PetscCall(PetscFree(M.H.h));
  PetscFunctionReturn(PETSC_SUCCESS);
}
