/* Stage driver: frames distributed over groups of ranks (a frame larger than a rank's share is
 * split spatially over its group), then every computed row is sent to its place in the standard
 * block layout of the global atom order (frame-major, atoms by id). */
#include "descriptors/desc_impl.h"
#include <string.h>

/* Row record sent to the owner of its global row: then d->dim doubles. */
typedef struct {
  int64_t row, frame, id;
  int32_t species, pad;
  double  pos[3];
} row_rec_t;

typedef struct {
  char   *buf;
  int64_t n, cap;
  size_t  rb;
} rowbuf_t;

static PetscErrorCode rowbuf_add(rowbuf_t *B, const pm_frame_rows_t *fr, int64_t frame, int64_t offset, int dim)
{
  PetscFunctionBeginUser;
  if (B->n + fr->n > B->cap) {
    int64_t cap = B->cap ? B->cap : 1024;
    char   *nb;
    while (cap < B->n + fr->n) cap *= 2;
    PetscCall(PetscMalloc((size_t)cap * B->rb, &nb));
    if (B->n) memcpy(nb, B->buf, (size_t)B->n * B->rb);
    PetscCall(PetscFree(B->buf));
    B->buf = nb;
    B->cap = cap;
  }
  for (int64_t i = 0; i < fr->n; i++) {
    row_rec_t r;
    char     *p = B->buf + (size_t)(B->n + i) * B->rb;
    memset(&r, 0, sizeof r);
    r.row     = offset + fr->order[i];
    r.frame   = frame;
    r.id      = fr->id[i];
    r.species = fr->species[i];
    memcpy(r.pos, fr->pos + 3 * i, sizeof r.pos);
    memcpy(p, &r, sizeof r);
    memcpy(p + sizeof r, fr->x + (size_t)i * dim, sizeof(double) * dim);
  }
  B->n += fr->n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Error handler used while groups work independently: keep the first message (ctx: PM_REASON_MAX
 * chars), print nothing. */
PetscErrorCode pm_descriptors_capture_error(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  char *msg = (char *)ctx;
  (void)comm, (void)line, (void)fun, (void)file;
  if (p == PETSC_ERROR_INITIAL && !msg[0]) {
    if (mess && mess[0])
      strncpy(msg, mess, PM_REASON_MAX - 1);
    else {
      const char *t = NULL;
      PetscErrorMessage(n, &t, NULL);
      strncpy(msg, t ? t : "error", PM_REASON_MAX - 1);
    }
  }
  return n;
}

/* Frames f0 + group, f0 + group + ngroups, ... below f1, on the ranks of gcomm. */
static PetscErrorCode group_frames(pm_descriptors_t *d, pm_traj_t *traj, MPI_Comm gcomm, int64_t f0, int64_t f1, int group, int ngroups, const int64_t *offset, rowbuf_t *B, pm_progress_t *prog, int64_t *done)
{
  PetscFunctionBeginUser;
  for (int64_t f = f0 + group; f < f1; f += ngroups) {
    pm_atoms_t     *atoms = NULL;
    pm_frame_rows_t fr;
    PetscCall(pm_traj_read_frame(traj, gcomm, f, &atoms));
    PetscCall(pm_descriptors_compute_frame(d, gcomm, atoms, &fr));
    PetscCall(rowbuf_add(B, &fr, f, offset[f], d->dim));
    PetscCall(pm_frame_rows_free(&fr));
    PetscCall(pm_atoms_destroy(&atoms));
    PetscCall(pm_progress_step(prog, ++*done));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Two phases keep the ranks evenly loaded: with F frames and P ranks, first the P floor(F/P)
 * frames one per rank (P groups of one), then the F mod P remaining frames, each split over a
 * group of about P / (F mod P) consecutive ranks. Groups run independently, so an error inside
 * one (a bad frame) is caught (captured by the error handler, *failed set on the ranks where it
 * happened) and every rank stops after the same phase. */
static PetscErrorCode all_frames(pm_descriptors_t *d, pm_traj_t *traj, const int64_t *offset, rowbuf_t *B, char *msg, PetscBool *failed)
{
  int            rank, size, any = 0;
  int64_t        F = d->nframes, full, done = 0;
  pm_progress_t *prog = NULL;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(d->comm, &rank));
  PetscCallMPI(MPI_Comm_size(d->comm, &size));
  full    = F / size * size;
  *failed = PETSC_FALSE;
  /* progress as seen by rank 0: its frames in both phases */
  if (rank == 0) PetscCall(pm_progress_create(PETSC_COMM_SELF, "descriptors", F / size + (F > full ? 1 : 0), &prog));
  for (int phase = 0; phase < 2 && !any; phase++) {
    int64_t        f0 = phase ? full : 0, f1 = phase ? F : full;
    int            ngroups = phase ? (int)(F - full) : size, group, bad;
    MPI_Comm       gcomm;
    PetscErrorCode err;
    if (f1 <= f0) continue;
    group = (int)((int64_t)rank * ngroups / size);
    PetscCallMPI(MPI_Comm_split(d->comm, group, rank, &gcomm));
    PetscCall(PetscPushErrorHandler(pm_descriptors_capture_error, msg));
    err = group_frames(d, traj, gcomm, f0, f1, group, ngroups, offset, B, prog, &done);
    PetscCall(PetscPopErrorHandler());
    PetscCallMPI(MPI_Comm_free(&gcomm));
    if (err) *failed = PETSC_TRUE;
    bad = err != 0;
    PetscCallMPI(MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, d->comm));
  }
  PetscCall(pm_progress_destroy(&prog));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Send every row to the owner of its global row and unpack into the block layout. */
static PetscErrorCode redistribute(pm_descriptors_t *d, rowbuf_t *B)
{
  int          size, rank, *scnt, *sdsp, *rcnt, *rdsp, *at;
  char        *sbuf, *rbuf;
  MPI_Datatype t;
  int64_t      nrecv = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(d->comm, &size));
  PetscCallMPI(MPI_Comm_rank(d->comm, &rank));
  pm_block_range(d->n_global, size, rank, &d->row_start, &d->n_local);
  PetscCall(PetscCalloc5(size, &scnt, size + 1, &sdsp, size, &rcnt, size + 1, &rdsp, size + 1, &at));
  for (int64_t i = 0; i < B->n; i++) {
    row_rec_t r;
    memcpy(&r, B->buf + (size_t)i * B->rb, sizeof r);
    scnt[pm_block_owner(d->n_global, size, r.row)]++;
  }
  PetscCallMPI(MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, d->comm));
  for (int r = 0; r < size; r++) {
    sdsp[r + 1] = sdsp[r] + scnt[r];
    rdsp[r + 1] = rdsp[r] + rcnt[r];
    at[r]       = sdsp[r];
  }
  nrecv = rdsp[size];
  PetscCheck(nrecv == d->n_local, PETSC_COMM_SELF, PETSC_ERR_PLIB, "descriptors: rank %d received %" PRId64 " rows for %" PRId64 " places", rank, nrecv, d->n_local);
  PetscCall(PetscMalloc((size_t)B->n * B->rb + 1, &sbuf));
  PetscCall(PetscMalloc((size_t)nrecv * B->rb + 1, &rbuf));
  for (int64_t i = 0; i < B->n; i++) {
    row_rec_t r;
    memcpy(&r, B->buf + (size_t)i * B->rb, sizeof r);
    memcpy(sbuf + (size_t)(at[pm_block_owner(d->n_global, size, r.row)]++) * B->rb, B->buf + (size_t)i * B->rb, B->rb);
  }
  PetscCall(PetscFree(B->buf));
  PetscCallMPI(MPI_Type_contiguous((int)B->rb, MPI_BYTE, &t));
  PetscCallMPI(MPI_Type_commit(&t));
  PetscCallMPI(MPI_Alltoallv(sbuf, scnt, sdsp, t, rbuf, rcnt, rdsp, t, d->comm));
  PetscCallMPI(MPI_Type_free(&t));
  PetscCall(PetscFree(sbuf));
  PetscCall(PetscFree5(scnt, sdsp, rcnt, rdsp, at));

  PetscCall(PetscMalloc2(d->n_local + 1, &d->frame, d->n_local + 1, &d->id));
  PetscCall(PetscMalloc1(d->n_local + 1, &d->species_of));
  PetscCall(PetscMalloc1(3 * d->n_local + 1, &d->pos));
  PetscCall(PetscMalloc1((size_t)d->n_local * d->dim + 1, &d->x));
  for (int64_t i = 0; i < d->n_local; i++) d->frame[i] = -1;
  for (int64_t i = 0; i < nrecv; i++) {
    row_rec_t r;
    int64_t   k;
    memcpy(&r, rbuf + (size_t)i * B->rb, sizeof r);
    k = r.row - d->row_start;
    PM_ASSERT(k >= 0 && k < d->n_local && d->frame[k] < 0);
    d->frame[k]      = r.frame;
    d->id[k]         = r.id;
    d->species_of[k] = r.species;
    memcpy(d->pos + 3 * k, r.pos, sizeof r.pos);
    memcpy(d->x + (size_t)k * d->dim, rbuf + (size_t)i * B->rb + sizeof r, sizeof(double) * d->dim);
  }
  PetscCall(PetscFree(rbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode setup_from_traj(pm_descriptors_t *d, pm_traj_t *traj, int64_t **offset)
{
  int                nsp, nex;
  const char *const *sp, *const *ex;

  PetscFunctionBeginUser;
  PetscCall(pm_traj_get_species(traj, &nsp, &sp));
  PetscCall(pm_traj_get_extra_columns(traj, &nex, &ex));
  PetscCall(pm_descriptors_setup(d, nsp, sp, nex, ex));
  PetscCall(pm_pca_check_dim(d->pca, d->dim)); /* a bad -pca_components fails before any frame */
  PetscCall(pm_traj_get_num_frames(traj, &d->nframes));
  PetscCheck(d->nframes > 0, d->comm, PETSC_ERR_USER_INPUT, "descriptors: the trajectory has no selected frames; check -frames");
  PetscCall(PetscMalloc1(d->nframes + 1, offset));
  PetscCall(PetscMalloc1(d->nframes + 1, &d->timestep));
  (*offset)[0] = 0;
  for (int64_t f = 0; f < d->nframes; f++) {
    int64_t  na;
    pm_box_t box;
    PetscCall(pm_traj_get_frame_info(traj, f, &na, &d->timestep[f], &box));
    (*offset)[f + 1] = (*offset)[f] + na;
  }
  d->n_global = (*offset)[d->nframes];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_descriptors_compute(pm_descriptors_t *d, pm_traj_t *traj, pm_rows_t **X)
{
  int64_t       *offset;
  rowbuf_t       B;
  char           msg[PM_REASON_MAX] = "";
  PetscBool      failed             = PETSC_FALSE;
  PetscErrorCode err;
  double         t0 = pm_time();

  PetscFunctionBeginUser;
  PetscCall(pm_descriptors_free_results(d));
  PetscCall(setup_from_traj(d, traj, &offset));
  memset(&B, 0, sizeof B);
  B.rb = sizeof(row_rec_t) + sizeof(double) * (size_t)d->dim;
  PetscCall(all_frames(d, traj, offset, &B, msg, &failed));
  PetscCall(PetscFree(offset));
  err = pm_agree(d->comm, failed ? PETSC_FALSE : PETSC_TRUE, msg); /* one message, every rank */
  if (err) {
    PetscCall(PetscFree(B.buf));
    PetscFunctionReturn(err);
  }
  PetscCall(PetscLogEventBegin(d->ev_redist, 0, 0, 0, 0));
  PetscCall(redistribute(d, &B));
  PetscCall(PetscLogEventEnd(d->ev_redist, 0, 0, 0, 0));
  PetscCall(pm_rows_create_layout(d->comm, d->n_global, d->row_start, d->n_local, d->dim, X));
  memcpy((*X)->x, d->x, sizeof(double) * (size_t)d->n_local * d->dim);
  if (pm_pca_active(d->pca)) PetscCall(pm_pca_apply(d->pca, X));
  d->seconds = pm_time() - t0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
