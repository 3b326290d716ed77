/* Linked cells over a domain's atoms (owned + ghosts) in fractional coordinates, and neighbour
 * lists sorted by (r, id) built from them: O(atoms) per frame. */
#include "descriptors/desc_impl.h"
#include <math.h>
#include <string.h>

#define PM_CELLS_PER_RC 3

typedef struct {
  double  r2, dx, dy, dz;
  int64_t id, j;
} cand_t;

static inline int cand_less(const cand_t *a, const cand_t *b)
{
  if (a->r2 != b->r2) return a->r2 < b->r2;
  if (a->id != b->id) return a->id < b->id;
  if (a->dx != b->dx) return a->dx < b->dx;
  if (a->dy != b->dy) return a->dy < b->dy;
  return a->dz < b->dz;
}

static int cand_cmp(const void *pa, const void *pb)
{
  const cand_t *a = pa, *b = pb;
  return cand_less(a, b) ? -1 : cand_less(b, a) ? 1
                                                : 0;
}

static void frac(const pm_domain_t *D, const double *r, double s[3])
{
  double x[3] = {r[0] - D->box.lo[0], r[1] - D->box.lo[1], r[2] - D->box.lo[2]};
  for (int d = 0; d < 3; d++) s[d] = x[0] * D->hinv[0][d] + x[1] * D->hinv[1][d] + x[2] * D->hinv[2][d];
}

static int64_t cell_coord(const pm_cells_t *C, int d, double s)
{
  double  t = floor((s - C->s0[d]) * C->inv_cw[d]);
  int64_t c = (int64_t)(t < 0 ? 0 : t);
  return c >= C->nc[d] ? C->nc[d] - 1 : c;
}

PetscErrorCode pm_cells_create(const pm_domain_t *D, double rc, pm_cells_t **cells)
{
  pm_cells_t *C;
  double      smin[3] = {INFINITY, INFINITY, INFINITY}, smax[3] = {-INFINITY, -INFINITY, -INFINITY}, s[3];
  int64_t     ncell, *fill;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&C));
  for (int64_t e = 0; e < D->n_all; e++) {
    frac(D, D->pos + 3 * e, s);
    for (int d = 0; d < 3; d++) {
      smin[d] = fmin(smin[d], s[d]);
      smax[d] = fmax(smax[d], s[d]);
    }
  }
  /* Cells about rc/3 wide (fractional rc / (3 width)): the search box around an atom is then
   * ~(7/3 rc)^3 instead of (3 rc)^3, and the 12 nearest are usually within the inner (5/3 rc)^3. */
  for (int d = 0; d < 3; d++) {
    double ext = D->n_all ? smax[d] - smin[d] : 0.0, del = rc / D->width[d] * (1.0 + 1e-10) / PM_CELLS_PER_RC;
    double n = ext > 0 ? floor(ext / del) : 1.0;
    C->nc[d] = n < 1 ? 1 : n > 1e6 ? 1000000
                                   : (int)n;
    C->s0[d] = D->n_all ? smin[d] : 0.0;
  }
  while ((double)C->nc[0] * C->nc[1] * C->nc[2] > 4.0 * (double)D->n_all + 64) {
    int d    = (C->nc[0] >= C->nc[1] && C->nc[0] >= C->nc[2]) ? 0 : (C->nc[1] >= C->nc[2]) ? 1
                                                                                           : 2;
    C->nc[d] = (C->nc[d] + 1) / 2;
  }
  C->r_inner = INFINITY;
  for (int d = 0; d < 3; d++) {
    double ext = D->n_all ? smax[d] - smin[d] : 0.0, del = rc / D->width[d] * (1.0 + 1e-10), cw = ext / C->nc[d];
    C->inv_cw[d] = ext > 0 ? C->nc[d] / ext : 0.0;
    C->kmax[d]   = ext > 0 ? (int)ceil(del / cw) : 0;
    if (C->kmax[d] >= C->nc[d]) C->kmax[d] = C->nc[d] - 1; /* the whole direction */
    if (C->nc[d] > 1 && C->kmax[d] - 1 < C->nc[d] - 1) C->r_inner = fmin(C->r_inner, (C->kmax[d] - 1) * cw * D->width[d] * (1.0 - 1e-9));
  }
  ncell = (int64_t)C->nc[0] * C->nc[1] * C->nc[2];
  PetscCall(PetscCalloc1(ncell + 1, &C->start));
  PetscCall(PetscMalloc2(D->n_all + 1, &C->atoms, D->n_all + 1, &C->cell));
  for (int64_t e = 0; e < D->n_all; e++) {
    frac(D, D->pos + 3 * e, s);
    C->cell[e] = (cell_coord(C, 0, s[0]) * C->nc[1] + cell_coord(C, 1, s[1])) * C->nc[2] + cell_coord(C, 2, s[2]);
    C->start[C->cell[e] + 1]++;
  }
  for (int64_t c = 0; c < ncell; c++) C->start[c + 1] += C->start[c];
  PetscCall(PetscMalloc1(ncell + 1, &fill));
  memcpy(fill, C->start, sizeof *fill * (size_t)(ncell + 1));
  for (int64_t e = 0; e < D->n_all; e++) C->atoms[fill[C->cell[e]]++] = e;
  PetscCall(PetscFree(fill));
  PetscCall(PetscMalloc1(3 * D->n_all + 1, &C->xyz));
  for (int64_t a = 0; a < D->n_all; a++) memcpy(C->xyz + 3 * a, D->pos + 3 * C->atoms[a], 3 * sizeof(double));
  *cells = C;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_cells_destroy(pm_cells_t **cells)
{
  PetscFunctionBeginUser;
  if (!*cells) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*cells)->start));
  PetscCall(PetscFree2((*cells)->atoms, (*cells)->cell));
  PetscCall(PetscFree((*cells)->xyz));
  PetscCall(PetscFree(*cells));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode grow_entries(pm_nlist_t *nl, int64_t need)
{
  int64_t *j;
  double  *d;
  int64_t  cap = nl->cap_e ? nl->cap_e : 1024;

  PetscFunctionBeginUser;
  if (need <= nl->cap_e) PetscFunctionReturn(PETSC_SUCCESS);
  while (cap < need) cap *= 2;
  PetscCall(PetscMalloc1(cap, &j));
  PetscCall(PetscMalloc1(4 * cap, &d));
  if (nl->cap_e) {
    memcpy(j, nl->j, sizeof *j * (size_t)nl->cap_e);
    memcpy(d, nl->d, sizeof *d * 4 * (size_t)nl->cap_e);
  }
  PetscCall(PetscFree(nl->j));
  PetscCall(PetscFree(nl->d));
  nl->j     = j;
  nl->d     = d;
  nl->cap_e = cap;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Candidates of owned atom i within rc; with max_nb > 0 only the max_nb smallest are kept
 * (bounded insertion), otherwise all, sorted. Returns the count. */
static PetscErrorCode gather_candidates(const pm_domain_t *D, const pm_cells_t *C, double rc2, int64_t i, int inner, int max_nb, cand_t **buf, int64_t *cap, int64_t *count)
{
  const double *pi = D->pos + 3 * i;
  int64_t       c = C->cell[i], cz = c % C->nc[2], cy = (c / C->nc[2]) % C->nc[1], cx = c / C->nc[2] / C->nc[1], n = 0;
  int64_t       k[3];

  PetscFunctionBeginUser;
  for (int d = 0; d < 3; d++) k[d] = PetscMax(C->kmax[d] - inner, 0);
  for (int64_t x = PetscMax(cx - k[0], 0); x <= PetscMin(cx + k[0], C->nc[0] - 1); x++) {
    for (int64_t y = PetscMax(cy - k[1], 0); y <= PetscMin(cy + k[1], C->nc[1] - 1); y++) {
      int64_t z0 = PetscMax(cz - k[2], 0), z1 = PetscMin(cz + k[2], C->nc[2] - 1);
      /* cells z0..z1 of one (x, y) column are contiguous in the sorted atom array */
      int64_t cc = (x * C->nc[1] + y) * C->nc[2];
      {
        for (int64_t a = C->start[cc + z0]; a < C->start[cc + z1 + 1]; a++) {
          const double *pj = C->xyz + 3 * a;
          int64_t       j;
          cand_t        t;
          t.dx = pj[0] - pi[0];
          t.dy = pj[1] - pi[1];
          t.dz = pj[2] - pi[2];
          t.r2 = t.dx * t.dx + t.dy * t.dy + t.dz * t.dz;
          if (!(t.r2 < rc2)) continue;
          j = C->atoms[a];
          if (j == i) continue;
          t.id = D->id[j];
          t.j  = j;
          if (max_nb > 0) {
            int64_t p;
            if (n == max_nb && !cand_less(&t, &(*buf)[n - 1])) continue;
            if (n < max_nb) n++;
            for (p = n - 1; p > 0 && cand_less(&t, &(*buf)[p - 1]); p--) (*buf)[p] = (*buf)[p - 1];
            (*buf)[p] = t;
          } else {
            if (n == *cap) {
              cand_t *nb;
              PetscCall(PetscMalloc1(2 * *cap, &nb));
              memcpy(nb, *buf, sizeof *nb * (size_t)n);
              PetscCall(PetscFree(*buf));
              *buf = nb;
              *cap *= 2;
            }
            (*buf)[n++] = t;
          }
        }
      }
    }
  }
  if (max_nb <= 0) {
    if (n < 24) {
      for (int64_t a = 1; a < n; a++) {
        cand_t  t = (*buf)[a];
        int64_t k;
        for (k = a; k > 0 && cand_less(&t, &(*buf)[k - 1]); k--) (*buf)[k] = (*buf)[k - 1];
        (*buf)[k] = t;
      }
    } else
      qsort(*buf, (size_t)n, sizeof **buf, cand_cmp);
  }
  *count = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_nlist_build(const pm_domain_t *D, const pm_cells_t *C, double rc, int64_t first, int64_t count, int max_nb, pm_nlist_t *nl)
{
  cand_t *buf;
  int64_t cap = max_nb > 0 ? max_nb : 256, e = 0;

  PetscFunctionBeginUser;
  PM_ASSERT(first >= 0 && first + count <= D->n_own);
  if (count + 1 > nl->cap_n) {
    PetscCall(PetscFree(nl->off));
    PetscCall(PetscMalloc1(count + 1, &nl->off));
    nl->cap_n = count + 1;
  }
  PetscCall(PetscMalloc1(cap, &buf));
  nl->n       = count;
  nl->first   = first;
  nl->rc      = rc;
  nl->species = D->species;
  nl->off[0]  = 0;
  for (int64_t i = 0; i < count; i++) {
    int64_t n = 0;
    /* nearest max_nb: try the inner cells first; enough atoms closer than r_inner settle it */
    if (max_nb > 0 && C->r_inner > 0) {
      PetscCall(gather_candidates(D, C, rc * rc, first + i, 1, max_nb, &buf, &cap, &n));
      if (n < max_nb || !(buf[n - 1].r2 < C->r_inner * C->r_inner)) PetscCall(gather_candidates(D, C, rc * rc, first + i, 0, max_nb, &buf, &cap, &n));
    } else
      PetscCall(gather_candidates(D, C, rc * rc, first + i, 0, max_nb, &buf, &cap, &n));
    PetscCall(grow_entries(nl, e + n));
    for (int64_t k = 0; k < n; k++, e++) {
      nl->j[e]         = buf[k].j;
      nl->d[4 * e]     = buf[k].dx;
      nl->d[4 * e + 1] = buf[k].dy;
      nl->d[4 * e + 2] = buf[k].dz;
      nl->d[4 * e + 3] = sqrt(buf[k].r2);
    }
    nl->off[i + 1] = e;
  }
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_nlist_free(pm_nlist_t *nl)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(nl->off));
  PetscCall(PetscFree(nl->j));
  PetscCall(PetscFree(nl->d));
  nl->cap_n = nl->cap_e = nl->n = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
