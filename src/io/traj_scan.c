/* Parallel frame index: every rank scans its byte range of a plain file for frame headers (a .gz
 * file is streamed once by rank 0); the records are combined into one table held by every rank. */
#include "io/traj_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  pm_frame_rec_t *rec;
  int64_t         n, cap;
  char           *colline;
} recs_t;

static PetscErrorCode recs_push(recs_t *R, pm_frame_rec_t **f)
{
  PetscFunctionBeginUser;
  if (R->n == R->cap) {
    pm_frame_rec_t *nr;
    R->cap = R->cap ? 2 * R->cap : 16;
    PetscCall(PetscCalloc1(R->cap, &nr));
    if (R->n) PetscCall(PetscMemcpy(nr, R->rec, R->n * sizeof *nr));
    PetscCall(PetscFree(R->rec));
    R->rec = nr;
  }
  *f = &R->rec[R->n++];
  PetscCall(PetscMemzero(*f, sizeof **f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int lone_integer(const char *s, int64_t *v)
{
  char *end;
  while (*s == ' ' || *s == '\t') s++;
  if (!(*s >= '0' && *s <= '9')) return 0;
  *v = strtoll(s, &end, 10);
  while (*end == ' ' || *end == '\t') end++;
  return *end == 0;
}

/* Bytes done so far for the progress line (compressed bytes for .gz). */
static int64_t scan_done(const pm_lreader_t *r, int64_t lo) { return r->gz ? (int64_t)gzoffset(r->gz) : r->buf_off + (int64_t)r->beg - lo; }

/* Scan the lines that start in [lo, r->hi); headers may be read past hi. */
static PetscErrorCode scan_range(pm_traj_t *t, pm_lreader_t *r, int64_t lo, pm_progress_t *prog, recs_t *R)
{
  char   *line;
  size_t  len;
  int64_t at, v;

  PetscFunctionBeginUser;
  for (;;) {
    PetscCall(pm_lreader_next(r, t->path, &line, &len, &at));
    if (!line || at >= r->hi) break;
    if ((r->lineno & 16383) == 0) PetscCall(pm_progress_step(prog, scan_done(r, lo)));
    if (t->fmt == PM_FMT_LAMMPS && pm_lammps_frame_item(line)) {
      pm_frame_rec_t *f;
      char            first[32];
      PetscCall(PetscStrncpy(first, line, sizeof first)); /* the reader reuses its buffer */
      PetscCall(recs_push(R, &f));
      f->offset = at;
      f->line   = r->lineno - 1;
      f->nb     = r->nbno - 1;
      PetscCall(pm_lammps_header(r, t->path, f, first, &R->colline));
    } else if (t->fmt == PM_FMT_EXTXYZ && lone_integer(line, &v)) {
      pm_frame_rec_t *f;
      PetscCall(recs_push(R, &f));
      f->offset = at;
      f->line   = r->lineno - 1;
      f->nb     = r->nbno - 1;
      f->natoms = v;
      PetscCall(pm_lreader_next(r, t->path, &line, &len, &at));
      if (!line) {
        f->truncated = 1;
        f->err_line  = r->lineno;
        PetscCall(PetscSNPrintf(f->err, sizeof f->err, "the file ends before the comment line"));
        continue;
      }
      f->comment_blank = pm_line_is_blank(line);
      f->err_line      = r->lineno - 1;
      PetscCall(pm_extxyz_comment(line, f, R->n == 1 ? &R->colline : NULL));
      f->atoms_offset = r->buf_off + (int64_t)r->beg;
      f->atoms_line   = r->lineno;
      f->atoms_nb     = r->nbno;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0 reports its own part: its byte range, or the whole compressed file for .gz. */
static PetscErrorCode scan_progress(pm_traj_t *t, int rank, int size, pm_progress_t **prog)
{
  struct stat st;
  int64_t     total = 0;

  PetscFunctionBeginUser;
  if (rank == 0 && !stat(t->path, &st)) total = t->is_gz ? (int64_t)st.st_size : (int64_t)st.st_size / size;
  PetscCall(pm_progress_create(t->comm, "scan", total, prog));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode scan_local(pm_traj_t *t, recs_t *R, int64_t tot[3])
{
  int            rank, size, ok = 1;
  pm_lreader_t   r;
  pm_progress_t *prog = NULL;
  char         why[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(t->comm, &rank));
  PetscCallMPI(MPI_Comm_size(t->comm, &size));
  PetscCall(scan_progress(t, rank, size, &prog));
  tot[0] = tot[1] = 0;
  tot[2]          = 1;
  if (t->is_gz) {
    gzFile gz = NULL;
    if (rank == 0) {
      gz = gzopen(t->path, "rb");
      if (!gz)
        ok = 0, PetscSNPrintf(why, sizeof why, "%s: cannot open: %s; check the path given to -input", t->path, strerror(errno));
      else
        gzbuffer(gz, 1 << 18);
    }
    PetscCall(pm_agree(t->comm, (PetscBool)ok, why));
    if (rank == 0) {
      PetscCall(pm_lreader_init_gz(&r, gz, 0, INT64_MAX));
      PetscCall(scan_range(t, &r, 0, prog, R));
      tot[0]       = r.n_in;
      tot[1]       = r.nb_in;
      tot[2]       = r.lineno == 0 || r.last_nl;
      t->data_size = r.buf_off + (int64_t)r.len;
      PetscCall(PetscStrncpy(why, r.err, sizeof why));
      pm_lreader_free(&r);
      gzclose(gz);
    }
    PetscCall(pm_agree(t->comm, (PetscBool)!why[0], why));
    PetscCallMPI(MPI_Bcast(&t->data_size, 1, MPI_INT64_T, 0, t->comm));
  } else {
    struct stat st;
    int         fd = open(t->path, O_RDONLY);
    pm_gidx_t   lo, cnt;
    if (fd < 0 || fstat(fd, &st)) ok = 0, PetscSNPrintf(why, sizeof why, "%s: cannot open: %s; check the path given to -input", t->path, strerror(errno));
    PetscCall(pm_agree(t->comm, (PetscBool)ok, why));
    t->data_size = (int64_t)st.st_size;
    pm_block_range(t->data_size, size, rank, &lo, &cnt);
    PetscCall(pm_lreader_init_fd(&r, t->path, fd, lo, t->data_size, lo + cnt));
    PetscCall(scan_range(t, &r, lo, prog, R));
    tot[0] = r.n_in;
    tot[1] = r.nb_in;
    tot[2] = r.lineno == 0 || r.last_nl; /* only a line at the end of the data can lack its newline */
    PetscCall(PetscStrncpy(why, r.err, sizeof why));
    pm_lreader_free(&r);
    close(fd);
    PetscCall(pm_agree(t->comm, (PetscBool)!why[0], why));
  }
  PetscCall(pm_progress_destroy(&prog));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Shift local line numbers by this rank's base and gather every record on every rank. */
static PetscErrorCode combine(pm_traj_t *t, recs_t *R, int64_t tot[3], pm_frame_rec_t **all, int64_t *nall)
{
  int64_t base[2] = {0, 0}, sum[3];
  int     size, *cnt, *dsp, mine;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(t->comm, &size));
  PetscCallMPI(MPI_Exscan(tot, base, 2, MPI_INT64_T, MPI_SUM, t->comm));
  {
    int rank;
    PetscCallMPI(MPI_Comm_rank(t->comm, &rank));
    if (rank == 0) base[0] = base[1] = 0;
  }
  for (int64_t i = 0; i < R->n; i++) {
    pm_frame_rec_t *f = &R->rec[i];
    f->line += base[0];
    f->atoms_line += base[0];
    f->err_line += base[0];
    f->nb += base[1];
    f->atoms_nb += base[1];
  }
  PetscCallMPI(MPI_Allreduce(tot, sum, 2, MPI_INT64_T, MPI_SUM, t->comm));
  PetscCallMPI(MPI_Allreduce(&tot[2], &sum[2], 1, MPI_INT64_T, MPI_MIN, t->comm));
  t->total_lines = sum[0];
  t->total_nb    = sum[1];
  t->ends_nl     = (int)sum[2];
  mine           = (int)(R->n * (int64_t)sizeof(pm_frame_rec_t));
  PetscCall(PetscMalloc2(size, &cnt, size + 1, &dsp));
  PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, t->comm));
  dsp[0] = 0;
  for (int r = 0; r < size; r++) dsp[r + 1] = dsp[r] + cnt[r];
  *nall = dsp[size] / (int64_t)sizeof(pm_frame_rec_t);
  PetscCall(PetscMalloc1(*nall + 1, all));
  PetscCallMPI(MPI_Allgatherv(R->rec, mine, MPI_BYTE, *all, cnt, dsp, MPI_BYTE, t->comm));
  PetscCall(PetscFree2(cnt, dsp));
  { /* frame 0's column line lives on rank 0 (frame 0 starts in its range) */
    int len = R->colline ? (int)strlen(R->colline) + 1 : 0;
    PetscCallMPI(MPI_Bcast(&len, 1, MPI_INT, 0, t->comm));
    PetscCall(PetscMalloc1(len + 1, &t->colline));
    t->colline[0] = 0;
    if (R->colline) PetscCall(PetscStrncpy(t->colline, R->colline, len));
    PetscCallMPI(MPI_Bcast(t->colline, len, MPI_CHAR, 0, t->comm));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A rank whose range begins inside a header (after ITEM: TIME, at ITEM: TIMESTEP) records a frame
 * start that the previous rank's record already covers: drop it. */
static PetscErrorCode drop_inner_starts(pm_frame_rec_t *all, int64_t *nall)
{
  int64_t m = 0;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < *nall; i++) {
    if (m > 0 && !all[m - 1].err[0] && !all[m - 1].truncated && all[i].offset < all[m - 1].atoms_offset) continue;
    if (m != i) all[m] = all[i];
    m++;
  }
  *nall = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_scan(pm_traj_t *t)
{
  recs_t          R = {0};
  int64_t         tot[3], nall, nkeep = 0, *keep, *ends;
  pm_frame_rec_t *all;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(t->ev_scan, 0, 0, 0, 0));
  PetscCall(scan_local(t, &R, tot));
  PetscCall(combine(t, &R, tot, &all, &nall));
  if (t->fmt == PM_FMT_LAMMPS) PetscCall(drop_inner_starts(all, &nall));
  PetscCall(PetscFree(R.rec));
  PetscCall(PetscFree(R.colline));
  PetscCheck(t->data_size > 0, t->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: the file is empty", t->path);
  PetscCall(PetscMalloc2(nall + 1, &keep, nall + 1, &ends));
  if (t->fmt == PM_FMT_LAMMPS)
    PetscCall(pm_traj_validate_lammps(t, all, nall, keep, ends, &nkeep));
  else
    PetscCall(pm_traj_validate_extxyz(t, all, nall, keep, ends, &nkeep));
  t->nframes_file = nkeep;
  PetscCall(PetscMalloc2(nkeep + 1, &t->rec, nkeep + 1, &t->atoms_end));
  for (int64_t k = 0; k < nkeep; k++) {
    t->rec[k]       = all[keep[k]];
    t->atoms_end[k] = ends[k];
    if (t->fmt == PM_FMT_EXTXYZ) t->rec[k].timestep = k; /* xyz frames carry no timestep */
  }
  PetscCall(PetscFree2(keep, ends));
  PetscCall(PetscFree(all));
  PetscCall(PetscLogEventEnd(t->ev_scan, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
