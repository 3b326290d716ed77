/* Spatial decomposition of one frame: a process grid over the box in fractional coordinates
 * (triclinic-aware), atoms migrated to the owner of their domain, ghost atoms (other ranks' atoms
 * and periodic images within rc of the domain) exchanged, and a halo plan for per-atom data. */
#include "descriptors/desc_impl.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Migrated atom: ids, species, wrapped and original positions, then n_extra doubles. */
typedef struct {
  int64_t id, order;
  int32_t species, pad;
  double  pos[3], pos_in[3];
} mig_rec_t;

/* Ghost copy: ids, species and the position of the image. */
typedef struct {
  int64_t id, order;
  int32_t species, pad;
  double  pos[3];
} ghost_rec_t;

static void cross(const double a[3], const double b[3], double c[3])
{
  c[0] = a[1] * b[2] - a[2] * b[1];
  c[1] = a[2] * b[0] - a[0] * b[2];
  c[2] = a[0] * b[1] - a[1] * b[0];
}

static double box_geometry(const pm_box_t *box, double hinv[3][3], double width[3])
{
  double c[3][3], det;

  for (int d = 0; d < 3; d++) cross(box->h[(d + 1) % 3], box->h[(d + 2) % 3], c[d]);
  det = box->h[0][0] * c[0][0] + box->h[0][1] * c[0][1] + box->h[0][2] * c[0][2];
  if (!(fabs(det) > 0.0)) return det;
  /* (h^{-1})[i][d] = c[d][i] / det, since h[e] . c[d] = det delta_ed */
  for (int i = 0; i < 3; i++)
    for (int d = 0; d < 3; d++) hinv[i][d] = c[d][i] / det;
  for (int d = 0; d < 3; d++) width[d] = fabs(det) / sqrt(c[d][0] * c[d][0] + c[d][1] * c[d][1] + c[d][2] * c[d][2]);
  return det;
}

static void to_frac(const pm_domain_t *D, const double r[3], double s[3])
{
  double x[3] = {r[0] - D->box.lo[0], r[1] - D->box.lo[1], r[2] - D->box.lo[2]};
  for (int d = 0; d < 3; d++) s[d] = x[0] * D->hinv[0][d] + x[1] * D->hinv[1][d] + x[2] * D->hinv[2][d];
}

void pm_domain_grid(int size, const double w[3], const int periodic[3], int grid[3])
{
  double best = INFINITY;

  grid[0] = grid[1] = 1;
  grid[2]           = size;
  for (int px = 1; px <= size; px++) {
    if (size % px) continue;
    for (int py = 1; py <= size / px; py++) {
      int    pz;
      double a, b, c, cost;
      if ((size / px) % py) continue;
      pz   = size / px / py;
      a    = w[0] / px;
      b    = w[1] / py;
      c    = w[2] / pz;
      cost = a * b + b * c + a * c; /* surface of a subdomain ~ ghost volume */
      if (cost < best * (1.0 - 1e-12)) {
        best    = cost;
        grid[0] = px;
        grid[1] = py;
        grid[2] = pz;
      }
    }
  }
  (void)periodic;
}

static int owner_coord(double s, int p, int periodic)
{
  int c = (int)floor(s * p);
  (void)periodic;
  return c < 0 ? 0 : c >= p ? p - 1
                            : c;
}

static int grid_rank(const int g[3], const int c[3])
{
  return (c[0] * g[1] + c[1]) * g[2] + c[2];
}

/* Wrap an atom into the box along periodic directions: pos_w = pos - n h with n = floor(s). */
static void wrap_atom(const pm_domain_t *D, const double pos[3], double pos_w[3], double s[3])
{
  double n[3] = {0, 0, 0};

  to_frac(D, pos, s);
  for (int d = 0; d < 3; d++)
    if (D->box.periodic[d]) {
      n[d] = floor(s[d]);
      s[d] -= n[d];
      if (s[d] >= 1.0) s[d] = 0.0, n[d] += 1.0;
    }
  for (int k = 0; k < 3; k++) pos_w[k] = pos[k] - (n[0] * D->box.h[0][k] + n[1] * D->box.h[1][k] + n[2] * D->box.h[2][k]);
}

static PetscErrorCode exchange(MPI_Comm comm, size_t recbytes, const int *scnt, const void *sbuf, int **rcnt_out, int **rdsp_out, int64_t *nrecv, void **rbuf)
{
  int          size, *sdsp, *rcnt, *rdsp;
  int64_t      tot = 0;
  MPI_Datatype t;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc1(size + 1, &sdsp));
  PetscCall(PetscMalloc2(size, &rcnt, size + 1, &rdsp));
  PetscCallMPI(MPI_Alltoall((void *)scnt, 1, MPI_INT, rcnt, 1, MPI_INT, comm));
  sdsp[0] = rdsp[0] = 0;
  for (int r = 0; r < size; r++) {
    PetscCheck((int64_t)sdsp[r] + scnt[r] < INT32_MAX && (int64_t)rdsp[r] + rcnt[r] < INT32_MAX, comm, PETSC_ERR_SUP, "descriptors: more than 2^31 atoms per rank in one frame; use more ranks");
    sdsp[r + 1] = sdsp[r] + scnt[r];
    rdsp[r + 1] = rdsp[r] + rcnt[r];
  }
  tot = rdsp[size];
  PetscCall(PetscMalloc((size_t)tot * recbytes + 1, rbuf));
  PetscCallMPI(MPI_Type_contiguous((int)recbytes, MPI_BYTE, &t));
  PetscCallMPI(MPI_Type_commit(&t));
  PetscCallMPI(MPI_Alltoallv((void *)sbuf, (int *)scnt, sdsp, t, *rbuf, rcnt, rdsp, t, comm));
  PetscCallMPI(MPI_Type_free(&t));
  PetscCall(PetscFree(sdsp));
  *nrecv = tot;
  if (rcnt_out) {
    *rcnt_out = rcnt;
    *rdsp_out = rdsp;
  } else
    PetscCall(PetscFree2(rcnt, rdsp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int cmp_key(const void *a, const void *b)
{
  const int64_t *x = a, *y = b;
  if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Owned atoms in the order of ~rc/3 bins of the box (then by id): neighbouring atoms are processed
 * one after the other, so their neighbour searches hit the same cells in cache. The order of the
 * owned atoms does not change any result. */
static PetscErrorCode spatial_order(const pm_domain_t *D, const char *rbuf, size_t rb, int64_t n, int64_t *perm)
{
  int64_t *key, nb[3];

  PetscFunctionBeginUser;
  for (int d = 0; d < 3; d++) nb[d] = PetscMax(1, PetscMin((int64_t)1 << 20, (int64_t)(3.0 * D->width[d] / D->rc)));
  PetscCall(PetscMalloc1(2 * n + 1, &key));
  for (int64_t i = 0; i < n; i++) {
    mig_rec_t rec;
    double    s[3];
    int64_t   c[3];
    memcpy(&rec, rbuf + (size_t)i * rb, sizeof rec);
    to_frac(D, rec.pos, s);
    for (int d = 0; d < 3; d++) c[d] = PetscMin(nb[d] - 1, PetscMax(0, (int64_t)floor(s[d] * nb[d])));
    key[2 * i]     = (c[0] * nb[1] + c[1]) * nb[2] + c[2];
    key[2 * i + 1] = i;
  }
  qsort(key, (size_t)n, 2 * sizeof *key, cmp_key);
  for (int64_t i = 0; i < n; i++) perm[i] = key[2 * i + 1];
  PetscCall(PetscFree(key));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode migrate(pm_domain_t *D, const pm_atoms_t *A)
{
  int     size, *scnt, *dest, *pos_of;
  size_t  rb = sizeof(mig_rec_t) + sizeof(double) * (size_t)A->n_extra;
  char   *sbuf, *rbuf;
  int64_t nrecv, *perm;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(D->comm, &size));
  PetscCall(PetscCalloc3(size, &scnt, A->n_local + 1, &dest, size + 1, &pos_of));
  PetscCall(PetscMalloc((size_t)A->n_local * rb + 1, &sbuf));
  for (int64_t i = 0; i < A->n_local; i++) {
    double pw[3], s[3];
    int    c[3];
    wrap_atom(D, A->pos + 3 * i, pw, s);
    for (int d = 0; d < 3; d++) c[d] = owner_coord(s[d], D->grid[d], D->box.periodic[d]);
    dest[i] = grid_rank(D->grid, c);
    scnt[dest[i]]++;
  }
  for (int r = 0; r < size; r++) pos_of[r + 1] = pos_of[r] + scnt[r];
  for (int64_t i = 0; i < A->n_local; i++) {
    mig_rec_t rec;
    double    s[3];
    char     *p = sbuf + (size_t)(pos_of[dest[i]]++) * rb;
    memset(&rec, 0, sizeof rec);
    rec.id      = A->id[i];
    rec.order   = A->order[i];
    rec.species = A->species[i];
    wrap_atom(D, A->pos + 3 * i, rec.pos, s);
    memcpy(rec.pos_in, A->pos + 3 * i, sizeof rec.pos_in);
    memcpy(p, &rec, sizeof rec);
    if (A->n_extra) memcpy(p + sizeof rec, A->extra + (size_t)i * A->n_extra, sizeof(double) * A->n_extra);
  }
  PetscCall(exchange(D->comm, rb, scnt, sbuf, NULL, NULL, &nrecv, (void **)&rbuf));
  PetscCall(PetscFree(sbuf));
  PetscCall(PetscFree3(scnt, dest, pos_of));

  D->n_own = nrecv;
  PetscCall(PetscMalloc2(3 * nrecv + 1, &D->pos_in, (size_t)nrecv * A->n_extra + 1, &D->extra));
  /* env arrays are sized after the ghost count: keep the records until then */
  PetscCall(PetscMalloc4(nrecv + 1, &D->id, nrecv + 1, &D->order, nrecv + 1, &D->species, 3 * nrecv + 1, &D->pos));
  PetscCall(PetscMalloc1(nrecv + 1, &perm));
  PetscCall(spatial_order(D, rbuf, rb, nrecv, perm));
  for (int64_t i = 0; i < nrecv; i++) {
    mig_rec_t rec;
    memcpy(&rec, rbuf + (size_t)perm[i] * rb, sizeof rec);
    D->id[i]      = rec.id;
    D->order[i]   = rec.order;
    D->species[i] = rec.species;
    memcpy(D->pos + 3 * i, rec.pos, sizeof rec.pos);
    memcpy(D->pos_in + 3 * i, rec.pos_in, sizeof rec.pos_in);
    if (A->n_extra) memcpy(D->extra + (size_t)i * A->n_extra, rbuf + (size_t)perm[i] * rb + sizeof rec, sizeof(double) * A->n_extra);
  }
  PetscCall(PetscFree(perm));
  PetscCall(PetscFree(rbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Range of domain coordinates along d whose ghost layer contains fractional coordinate s. */
static int ghost_range(const pm_domain_t *D, int d, double s, int *c0, int *c1)
{
  int p = D->grid[d];
  *c0   = (int)floor((s - D->delta[d]) * p);
  *c1   = (int)floor((s + D->delta[d]) * p);
  if (!D->box.periodic[d]) {
    *c0 = *c0 < 0 ? 0 : *c0 >= p ? p - 1
                                 : *c0;
    *c1 = *c1 < 0 ? 0 : *c1 >= p ? p - 1
                                 : *c1;
  } else {
    if (*c0 < 0) *c0 = 0;
    if (*c1 > p - 1) *c1 = p - 1;
  }
  return *c0 <= *c1;
}

/* Visit every (owned atom, image, destination) ghost copy; fill = 0 counts, 1 packs. Per direction
 * the images n_d whose ghost layer reaches some domain are listed first (usually only n_d = 0, and
 * +-1 near a periodic face), so the work per atom is proportional to its number of copies. */
static void ghost_pass(pm_domain_t *D, int rank, int fill, int *cnt, int *at, ghost_rec_t *buf, int64_t *idx)
{
  int m[3];

  for (int d = 0; d < 3; d++) m[d] = D->box.periodic[d] ? (int)ceil(D->delta[d]) + 1 : 0;
  for (int64_t i = 0; i < D->n_own; i++) {
    double s[3];
    int    nimg[3] = {0, 0, 0}, img[3][16], lo[3][16], hi[3][16], c[3];
    to_frac(D, D->pos + 3 * i, s);
    for (int d = 0; d < 3; d++)
      for (int n = -m[d]; n <= m[d] && nimg[d] < 16; n++) {
        int a, b;
        if (!ghost_range(D, d, s[d] + n, &a, &b)) continue;
        img[d][nimg[d]] = n;
        lo[d][nimg[d]]  = a;
        hi[d][nimg[d]]  = b;
        nimg[d]++;
      }
    for (int i0 = 0; i0 < nimg[0]; i0++)
      for (int i1 = 0; i1 < nimg[1]; i1++)
        for (int i2 = 0; i2 < nimg[2]; i2++) {
          int n0 = img[0][i0], n1 = img[1][i1], n2 = img[2][i2];
          for (c[0] = lo[0][i0]; c[0] <= hi[0][i0]; c[0]++)
            for (c[1] = lo[1][i1]; c[1] <= hi[1][i1]; c[1]++)
              for (c[2] = lo[2][i2]; c[2] <= hi[2][i2]; c[2]++) {
                int r = grid_rank(D->grid, c);
                if (r == rank && !n0 && !n1 && !n2) continue;
                if (fill) {
                  ghost_rec_t *g = &buf[at[r]];
                  memset(g, 0, sizeof *g);
                  g->id      = D->id[i];
                  g->order   = D->order[i];
                  g->species = D->species[i];
                  for (int k = 0; k < 3; k++) g->pos[k] = D->pos[3 * i + k] + (n0 * D->box.h[0][k] + n1 * D->box.h[1][k] + n2 * D->box.h[2][k]);
                  idx[at[r]++] = i;
                } else
                  cnt[r]++;
              }
        }
  }
}

static PetscErrorCode make_ghosts(pm_domain_t *D)
{
  int          rank, size, *at;
  ghost_rec_t *sbuf, *rbuf;
  int64_t      nsend, nrecv, *id, *order;
  int         *species;
  double      *pos;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(D->comm, &rank));
  PetscCallMPI(MPI_Comm_size(D->comm, &size));
  PetscCall(PetscCalloc2(size, &D->scnt, size + 1, &D->sdsp));
  ghost_pass(D, rank, 0, D->scnt, NULL, NULL, NULL);
  for (int r = 0; r < size; r++) D->sdsp[r + 1] = D->sdsp[r] + D->scnt[r];
  nsend = D->sdsp[size];
  PetscCall(PetscMalloc1(nsend + 1, &sbuf));
  PetscCall(PetscMalloc1(nsend + 1, &D->send_idx));
  PetscCall(PetscMalloc1(size + 1, &at));
  for (int r = 0; r <= size; r++) at[r] = D->sdsp[r];
  ghost_pass(D, rank, 1, NULL, at, sbuf, D->send_idx);
  PetscCall(exchange(D->comm, sizeof(ghost_rec_t), D->scnt, sbuf, &D->rcnt, &D->rdsp, &nrecv, (void **)&rbuf));
  PetscCall(PetscFree(sbuf));
  PetscCall(PetscFree(at));

  D->n_all = D->n_own + nrecv;
  PetscCall(PetscMalloc4(D->n_all + 1, &id, D->n_all + 1, &order, D->n_all + 1, &species, 3 * D->n_all + 1, &pos));
  memcpy(id, D->id, sizeof *id * D->n_own);
  memcpy(order, D->order, sizeof *order * D->n_own);
  memcpy(species, D->species, sizeof *species * D->n_own);
  memcpy(pos, D->pos, sizeof *pos * 3 * D->n_own);
  for (int64_t g = 0; g < nrecv; g++) {
    int64_t e  = D->n_own + g;
    id[e]      = rbuf[g].id;
    order[e]   = rbuf[g].order;
    species[e] = rbuf[g].species;
    memcpy(pos + 3 * e, rbuf[g].pos, sizeof rbuf[g].pos);
  }
  PetscCall(PetscFree(rbuf));
  PetscCall(PetscFree4(D->id, D->order, D->species, D->pos));
  D->id      = id;
  D->order   = order;
  D->species = species;
  D->pos     = pos;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_domain_create(MPI_Comm comm, const pm_atoms_t *atoms, double rc, pm_domain_t **dom)
{
  pm_domain_t *D;
  int          rank, size;
  double       det, hinv[3][3], width[3];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  det = box_geometry(&atoms->box, hinv, width);
  PetscCheck(det > 0.0, comm, PETSC_ERR_USER_INPUT, "descriptors: frame %" PRId64 " (timestep %" PRId64 ") has a degenerate or left-handed box (volume %g); check the BOX BOUNDS of the input", atoms->frame, atoms->timestep, det);
  for (int d = 0; d < 3; d++)
    PetscCheck(!atoms->box.periodic[d] || rc / width[d] < 6.0, comm, PETSC_ERR_USER_INPUT, "descriptors: frame %" PRId64 ": the neighbour cutoff %g is more than 6 box widths (%g); replicate the cell or lower the cutoff", atoms->frame, rc, width[d]);
  PetscCall(PetscNew(&D));
  D->comm    = comm;
  D->box     = atoms->box;
  D->rc      = rc;
  D->natoms  = atoms->natoms;
  D->n_extra = atoms->n_extra;
  memcpy(D->hinv, hinv, sizeof hinv);
  memcpy(D->width, width, sizeof width);
  for (int d = 0; d < 3; d++) D->delta[d] = rc / D->width[d] * (1.0 + 1e-10);
  pm_domain_grid(size, D->width, D->box.periodic, D->grid);
  D->coord[0] = rank / (D->grid[1] * D->grid[2]);
  D->coord[1] = (rank / D->grid[2]) % D->grid[1];
  D->coord[2] = rank % D->grid[2];
  PetscCall(migrate(D, atoms));
  PetscCall(make_ghosts(D));
  *dom = D;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_domain_halo(const pm_domain_t *D, int width, double *data)
{
  int          size;
  double      *sbuf;
  int64_t      nsend;
  MPI_Datatype t;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(D->comm, &size));
  nsend = D->sdsp[size];
  PetscCall(PetscMalloc1((size_t)nsend * width + 1, &sbuf));
  for (int64_t g = 0; g < nsend; g++) memcpy(sbuf + (size_t)g * width, data + (size_t)D->send_idx[g] * width, sizeof(double) * width);
  PetscCallMPI(MPI_Type_contiguous(width, MPI_DOUBLE, &t));
  PetscCallMPI(MPI_Type_commit(&t));
  PetscCallMPI(MPI_Alltoallv(sbuf, D->scnt, D->sdsp, t, data + (size_t)D->n_own * width, D->rcnt, D->rdsp, t, D->comm));
  PetscCallMPI(MPI_Type_free(&t));
  PetscCall(PetscFree(sbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_domain_destroy(pm_domain_t **dom)
{
  pm_domain_t *D = *dom;

  PetscFunctionBeginUser;
  if (!D) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree4(D->id, D->order, D->species, D->pos));
  PetscCall(PetscFree2(D->pos_in, D->extra));
  PetscCall(PetscFree2(D->scnt, D->sdsp));
  PetscCall(PetscFree2(D->rcnt, D->rdsp));
  PetscCall(PetscFree(D->send_idx));
  PetscCall(PetscFree(*dom));
  PetscFunctionReturn(PETSC_SUCCESS);
}
