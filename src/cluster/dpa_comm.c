/* Data movement for the clustering kernels: ghost neighbour data of the local rows (one sorted
 * unique list of non-local indices, refreshed with one bulk fetch) and routing of small records to
 * chosen ranks (with an optional reply). */
#include "dpa.h"
#include <string.h>

int pm_dpa_owner(const pm_gidx_t *starts, int size, pm_gidx_t g)
{
  int lo = 0, hi = size - 1;

  while (lo < hi) { /* last rank r with starts[r] <= g */
    int mid = (lo + hi + 1) / 2;
    if (starts[mid] <= g)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* LSD radix sort of n keys (11-bit digits, only as many passes as the largest key needs). */
static PetscErrorCode radix_sort(pm_gidx_t n, uint64_t *key)
{
  uint64_t *tmp, maxk = 0;
  int       passes = 0;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < n; i++)
    if (key[i] > maxk) maxk = key[i];
  while (passes < 6 && (maxk >> (11 * passes))) passes++;
  PetscCall(PetscMalloc1(n + 1, &tmp));
  for (int p = 0; p < passes; p++) {
    pm_gidx_t cnt[2049] = {0};
    int       sh        = 11 * p;
    for (pm_gidx_t i = 0; i < n; i++) cnt[((key[i] >> sh) & 2047) + 1]++;
    for (int b = 0; b < 2048; b++) cnt[b + 1] += cnt[b];
    for (pm_gidx_t i = 0; i < n; i++) tmp[cnt[(key[i] >> sh) & 2047]++] = key[i];
    memcpy(key, tmp, (size_t)n * sizeof *key);
  }
  PetscCall(PetscFree(tmp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Bucket index over the ghost list: buckets of 2^shift consecutive indices. */
typedef struct {
  pm_gidx_t  gmin;
  int        shift;
  pm_gidx_t  nb;
  pm_gidx_t *bstart; /* nb+1 */
} bucket_t;

static inline int64_t ghost_find(const pm_gidx_t *ghost, const bucket_t *B, pm_gidx_t g)
{
  pm_gidx_t b;

  if (g < B->gmin) return -1;
  b = (g - B->gmin) >> B->shift;
  if (b >= B->nb) return -1;
  for (pm_gidx_t j = B->bstart[b]; j < B->bstart[b + 1]; j++)
    if (ghost[j] == g) return j;
  return -1;
}

static PetscErrorCode bucket_build(const pm_gidx_t *ghost, pm_gidx_t ng, bucket_t *B)
{
  pm_gidx_t range;

  PetscFunctionBeginUser;
  B->gmin  = ng ? ghost[0] : 0;
  range    = ng ? ghost[ng - 1] - ghost[0] + 1 : 1;
  B->shift = 0;
  while ((range >> B->shift) > 2 * ng + 1) B->shift++;
  B->nb = (range >> B->shift) + 1;
  PetscCall(PetscMalloc1(B->nb + 1, &B->bstart));
  {
    pm_gidx_t j = 0;
    for (pm_gidx_t b = 0; b <= B->nb; b++) {
      while (j < ng && ((ghost[j] - B->gmin) >> B->shift) < b) j++;
      B->bstart[b] = j;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_dpa_nbr_create(const pm_graph_t *graph, pm_dpa_nbr_t **nbp)
{
  pm_dpa_nbr_t *nb;
  pm_gidx_t     nl = graph->n_local, rs = graph->row_start, m = 0, ne = nl * graph->ncol;
  uint64_t     *keys;
  bucket_t      B;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&nb));
  nb->comm      = graph->comm;
  nb->n_local   = nl;
  nb->row_start = rs;
  nb->ncol      = graph->ncol;
  PetscCallMPI(MPI_Comm_rank(nb->comm, &nb->rank));
  PetscCallMPI(MPI_Comm_size(nb->comm, &nb->size));
  PetscCall(pm_layout_starts(nb->comm, nl, &nb->starts));
  for (pm_gidx_t e = 0; e < ne; e++)
    if (graph->ind[e] < rs || graph->ind[e] >= rs + nl) m++;
  PetscCall(PetscMalloc1(m + 1, &keys));
  m = 0;
  for (pm_gidx_t e = 0; e < ne; e++)
    if (graph->ind[e] < rs || graph->ind[e] >= rs + nl) keys[m++] = (uint64_t)graph->ind[e];
  PetscCall(radix_sort(m, keys));
  nb->nghost = 0;
  for (pm_gidx_t i = 0; i < m; i++)
    if (nb->nghost == 0 || keys[nb->nghost - 1] != keys[i]) keys[nb->nghost++] = keys[i];
  PetscCheck(nl + nb->nghost < INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "clustering: %" PRId64 " local plus neighbour points exceed 2^31 on one rank; use more ranks", nl + nb->nghost);
  PetscCall(PetscMalloc1(nb->nghost + 1, &nb->ghost));
  for (pm_gidx_t j = 0; j < nb->nghost; j++) nb->ghost[j] = (pm_gidx_t)keys[j];
  PetscCall(PetscFree(keys));
  PetscCall(bucket_build(nb->ghost, nb->nghost, &B));
  PetscCall(PetscMalloc1(ne + 1, &nb->slot));
  for (pm_gidx_t e = 0; e < ne; e++) {
    pm_gidx_t g = graph->ind[e];
    if (g >= rs && g < rs + nl)
      nb->slot[e] = (int32_t)(g - rs);
    else
      nb->slot[e] = (int32_t)(nl + ghost_find(nb->ghost, &B, g));
  }
  PetscCall(PetscFree(B.bstart));
  *nbp = nb;
  PetscFunctionReturn(PETSC_SUCCESS);
}

int64_t pm_dpa_nbr_lookup(const pm_dpa_nbr_t *nb, pm_gidx_t g)
{
  pm_gidx_t lo = 0, hi = nb->nghost;

  if (g >= nb->row_start && g < nb->row_start + nb->n_local) return g - nb->row_start;
  while (lo < hi) {
    pm_gidx_t mid = lo + (hi - lo) / 2;
    if (nb->ghost[mid] < g)
      lo = mid + 1;
    else
      hi = mid;
  }
  return (lo < nb->nghost && nb->ghost[lo] == g) ? nb->n_local + lo : -1;
}

PetscErrorCode pm_dpa_nbr_refresh(pm_dpa_nbr_t *nb, size_t elem_size, void *data)
{
  PetscFunctionBeginUser;
  PetscCall(pm_fetch_rows_layout(nb->comm, nb->starts, data, elem_size, 1, nb->nghost, nb->ghost, (char *)data + (size_t)nb->n_local * elem_size));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_dpa_nbr_destroy(pm_dpa_nbr_t **nb)
{
  PetscFunctionBeginUser;
  if (!*nb) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*nb)->starts));
  PetscCall(PetscFree((*nb)->ghost));
  PetscCall(PetscFree((*nb)->slot));
  PetscCall(PetscFree(*nb));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode to_int(pm_gidx_t v, int *out)
{
  PetscFunctionBeginUser;
  PetscCheck(v <= INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "clustering: message of %" PRId64 " items exceeds the MPI count limit; use more ranks", v);
  *out = (int)v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_dpa_route(MPI_Comm comm, pm_gidx_t n, int w, const int *dest, const int64_t *rec, int64_t **recv, pm_gidx_t *nrecv, pm_dpa_route_t **planp)
{
  pm_dpa_route_t *P;
  int64_t        *sbuf;
  pm_gidx_t      *pos, tot = 0;
  MPI_Datatype    rt;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&P));
  P->comm = comm;
  P->n    = n;
  PetscCallMPI(MPI_Comm_size(comm, &P->size));
  PetscCall(PetscCalloc4(P->size, &P->scnt, P->size + 1, &P->sdsp, P->size, &P->rcnt, P->size + 1, &P->rdsp));
  PetscCall(PetscMalloc1(P->size + 1, &pos));
  {
    pm_gidx_t *c;
    PetscCall(PetscCalloc1(P->size + 1, &c));
    for (pm_gidx_t r = 0; r < n; r++) c[dest[r] + 1]++;
    for (int p = 0; p < P->size; p++) {
      PetscCall(to_int(c[p + 1], &P->scnt[p]));
      c[p + 1] += c[p];
      PetscCall(to_int(c[p + 1], &P->sdsp[p + 1]));
      pos[p] = c[p];
    }
    PetscCall(PetscFree(c));
  }
  PetscCall(PetscMalloc1(n + 1, &P->perm));
  PetscCall(PetscMalloc1(n * w + 1, &sbuf));
  for (pm_gidx_t r = 0; r < n; r++) {
    pm_gidx_t s = pos[dest[r]]++;
    P->perm[s]  = r;
    memcpy(sbuf + s * w, rec + r * w, (size_t)w * sizeof *rec);
  }
  PetscCall(PetscFree(pos));
  PetscCallMPI(MPI_Alltoall(P->scnt, 1, MPI_INT, P->rcnt, 1, MPI_INT, comm));
  for (int p = 0; p < P->size; p++) {
    tot += P->rcnt[p];
    PetscCall(to_int(tot, &P->rdsp[p + 1]));
  }
  P->nrecv = tot;
  PetscCall(PetscMalloc1(tot * w + 1, recv));
  PetscCallMPI(MPI_Type_contiguous(w, MPI_INT64_T, &rt));
  PetscCallMPI(MPI_Type_commit(&rt));
  PetscCallMPI(MPI_Alltoallv(sbuf, P->scnt, P->sdsp, rt, *recv, P->rcnt, P->rdsp, rt, comm));
  PetscCallMPI(MPI_Type_free(&rt));
  PetscCall(PetscFree(sbuf));
  *nrecv = tot;
  if (planp)
    *planp = P;
  else
    PetscCall(pm_dpa_route_free(&P));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_dpa_route_reply(pm_dpa_route_t *P, int wr, const int64_t *reply, int64_t *out)
{
  int64_t     *rbuf;
  MPI_Datatype rt;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(P->n * wr + 1, &rbuf));
  PetscCallMPI(MPI_Type_contiguous(wr, MPI_INT64_T, &rt));
  PetscCallMPI(MPI_Type_commit(&rt));
  PetscCallMPI(MPI_Alltoallv(reply, P->rcnt, P->rdsp, rt, rbuf, P->scnt, P->sdsp, rt, P->comm));
  PetscCallMPI(MPI_Type_free(&rt));
  for (pm_gidx_t s = 0; s < P->n; s++) memcpy(out + P->perm[s] * wr, rbuf + s * wr, (size_t)wr * sizeof *out);
  PetscCall(PetscFree(rbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_dpa_route_free(pm_dpa_route_t **P)
{
  PetscFunctionBeginUser;
  if (!*P) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree4((*P)->scnt, (*P)->sdsp, (*P)->rcnt, (*P)->rdsp));
  PetscCall(PetscFree((*P)->perm));
  PetscCall(PetscFree(*P));
  PetscFunctionReturn(PETSC_SUCCESS);
}
