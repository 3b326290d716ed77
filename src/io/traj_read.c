/* Reading one frame: each rank of the reading communicator gets the whole atom lines that start in
 * its share of the frame's bytes (plain files: pread of its own range; .gz: the first rank streams
 * the frame and sends each rank its share in turn), then parses them. */
#include "io/traj_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* First line start at or after pos within the atom lines [a, e). A read error is written to why
 * (reported collectively by the caller) and gives e. */
static PetscErrorCode line_start(int fd, const char *path, int64_t pos, int64_t a, int64_t e, int64_t *out, char *why, size_t nwhy)
{
  char    buf[4096];
  ssize_t n;

  PetscFunctionBeginUser;
  *out = e;
  if (pos <= a || pos >= e) {
    *out = pos <= a ? a : e;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  pos--; /* the byte before pos decides */
  while (pos < e) {
    size_t want = (size_t)PetscMin((int64_t)sizeof buf, e - pos);
    char  *nl;
    n = pread(fd, buf, want, (off_t)pos);
    if (n <= 0) {
      PetscCall(PetscSNPrintf(why, nwhy, "%s: read error at byte %" PRId64 " (%s); was the file changed while reading?", path, pos, n < 0 ? strerror(errno) : "end of file"));
      break;
    }
    if ((nl = memchr(buf, '\n', (size_t)n))) {
      *out = pos + (nl - buf) + 1;
      break;
    }
    pos += n;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Read [s, s + want) into buf; a short read is written to why. */
static PetscErrorCode read_all(int fd, const char *path, char *buf, size_t want, int64_t s, char *why, size_t nwhy)
{
  PetscFunctionBeginUser;
  for (size_t got = 0; got < want;) {
    ssize_t n = pread(fd, buf + got, want - got, (off_t)(s + (int64_t)got));
    if (n <= 0) {
      PetscCall(PetscSNPrintf(why, nwhy, "%s: read error at byte %" PRId64 "; was the file changed while reading?", path, s + (int64_t)got));
      break;
    }
    got += (size_t)n;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Plain file: this rank's lines [s, en) are read and parsed in pieces cut at line ends. */
static PetscErrorCode read_plain(pm_traj_t *t, MPI_Comm comm, int64_t k, int collect, pm_parsed_t *p)
{
  int       rank, size, fd;
  int64_t   a = t->rec[k].atoms_offset, e = t->atoms_end[k], s, en;
  pm_gidx_t lo, cnt;
  size_t    cap = 0;
  char     *buf = NULL, why[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  fd = open(t->path, O_RDONLY);
  if (fd < 0) PetscCall(PetscSNPrintf(why, sizeof why, "%s: cannot open: %s", t->path, strerror(errno)));
  PetscCall(pm_agree(comm, (PetscBool)(fd >= 0), why));
  pm_block_range(e - a, size, rank, &lo, &cnt);
  PetscCall(line_start(fd, t->path, a + lo, a, e, &s, why, sizeof why));
  PetscCall(line_start(fd, t->path, a + lo + cnt, a, e, &en, why, sizeof why));
  while (s < en && !why[0]) {
    size_t want = (size_t)PetscMin((int64_t)PM_TRAJ_PIECE, en - s), use = 0;
    for (;;) { /* a piece must end at a line end: grow it for a line longer than the piece */
      char *nl;
      if (want > cap) {
        PetscCall(PetscFree(buf));
        cap = want;
        PetscCall(PetscMalloc1(cap + 1, &buf));
      }
      PetscCall(read_all(fd, t->path, buf, want, s, why, sizeof why));
      if (why[0] || s + (int64_t)want == en) {
        use = want;
        break;
      }
      if ((nl = memrchr(buf, '\n', want))) {
        use = (size_t)(nl - buf) + 1;
        break;
      }
      want = (size_t)PetscMin((int64_t)(2 * want), en - s);
    }
    if (why[0]) break;
    buf[use] = 0;
    PetscCall(pm_traj_parse_block(t, &t->rec[k], buf, use, collect, p));
    s += (int64_t)use;
  }
  PetscCall(PetscFree(buf));
  close(fd);
  PetscCall(pm_agree(comm, (PetscBool)!why[0], why));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* gz: carry buffer of decompressed bytes starting at file offset cur. */
typedef struct {
  char   *b;
  size_t  cap, n;
  int64_t cur, e;
} carry_t;

static int carry_more(gzFile gz, carry_t *c, size_t want)
{
  int64_t left = c->e - (c->cur + (int64_t)c->n);
  if ((int64_t)want > left) want = (size_t)left;
  if (!want) return 0;
  if (c->n + want > c->cap) {
    size_t ncap = 2 * (c->n + want);
    char  *nb;
    if (PetscMalloc1(ncap + 1, &nb)) return -1;
    if (c->n) memcpy(nb, c->b, c->n);
    PetscFree(c->b);
    c->b   = nb;
    c->cap = ncap;
  }
  int r = gzread(gz, c->b + c->n, (unsigned)want);
  if (r <= 0) return -1;
  c->n += (size_t)r;
  return r;
}

/* Bytes of the carry that form the lines starting below hi. Returns -1 on a read error. */
static int64_t carry_cut(gzFile gz, carry_t *c, int64_t hi)
{
  size_t from;
  if (hi <= c->cur) return 0;
  while (c->cur + (int64_t)c->n < hi)
    if (carry_more(gz, c, (size_t)(hi - c->cur - (int64_t)c->n)) < 0) return -1;
  from = (size_t)(hi - 1 - c->cur);
  for (;;) {
    char *nl = memchr(c->b + from, '\n', c->n - from);
    if (nl) return (nl - c->b) + 1;
    if (c->cur + (int64_t)c->n >= c->e) return (int64_t)c->n;
    from = c->n;
    if (carry_more(gz, c, 1 << 16) < 0) return -1;
  }
}

/* Hand a piece of rank r's lines to r (the root parses its own). len -1: give up, 0: r is done. */
static PetscErrorCode put_piece(pm_traj_t *t, MPI_Comm comm, int64_t k, int r, char *b, int64_t len, int collect, pm_parsed_t *p)
{
  PetscFunctionBeginUser;
  if (r == 0) {
    if (len > 0) {
      char keep = b[len];
      PetscCall(pm_traj_parse_block(t, &t->rec[k], b, (size_t)len, collect, p));
      b[len] = keep;
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCallMPI(MPI_Send(&len, 1, MPI_INT64_T, r, 0, comm));
  if (len > 0) PetscCallMPI(MPI_Send(b, (int)len, MPI_BYTE, r, 1, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* .gz: the first rank decompresses the frame once (its stream only moves forward between frames
 * read in order) and sends every rank its lines in pieces of at most PM_TRAJ_PIECE bytes. */
static PetscErrorCode read_gz(pm_traj_t *t, MPI_Comm comm, int64_t k, int collect, pm_parsed_t *p)
{
  int       rank, size, ok = 1;
  int64_t   a = t->rec[k].atoms_offset, e = t->atoms_end[k], n;
  pm_gidx_t lo, cnt;
  char      why[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (rank == 0) {
    carry_t c = {NULL, 0, 0, a, e};
    if (!t->gz) {
      t->gz = gzopen(t->path, "rb");
      if (t->gz) gzbuffer(t->gz, 1 << 18);
    }
    if (!t->gz || gzseek(t->gz, (z_off_t)a, SEEK_SET) != (z_off_t)a) ok = 0, PetscSNPrintf(why, sizeof why, "%s: cannot reopen or seek the compressed file: %s", t->path, strerror(errno));
    for (int r = 0; r < size; r++) {
      int64_t hi;
      pm_block_range(e - a, size, r, &lo, &cnt);
      hi = r == size - 1 ? e : a + lo + cnt;
      while (ok && c.cur < hi) {
        n = carry_cut(t->gz, &c, PetscMin(hi, c.cur + (int64_t)PM_TRAJ_PIECE));
        if (n <= 0) {
          ok = 0;
          PetscSNPrintf(why, sizeof why, "%s: cannot decompress frame %" PRId64 " (at byte %" PRId64 "); is the .gz file complete?", t->path, k, c.cur);
          break;
        }
        PetscCall(put_piece(t, comm, k, r, c.b, n, collect, p));
        memmove(c.b, c.b + n, c.n - (size_t)n);
        c.n -= (size_t)n;
        c.cur += n;
      }
      PetscCall(put_piece(t, comm, k, r, c.b, ok ? 0 : -1, collect, p));
    }
    PetscCall(PetscFree(c.b));
  } else {
    char  *buf = NULL;
    size_t cap = 0;
    for (;;) {
      PetscCallMPI(MPI_Recv(&n, 1, MPI_INT64_T, 0, 0, comm, MPI_STATUS_IGNORE));
      if (n <= 0) break;
      if ((size_t)n > cap) {
        PetscCall(PetscFree(buf));
        cap = (size_t)n;
        PetscCall(PetscMalloc1(cap + 1, &buf));
      }
      PetscCallMPI(MPI_Recv(buf, (int)n, MPI_BYTE, 0, 1, comm, MPI_STATUS_IGNORE));
      PetscCall(pm_traj_parse_block(t, &t->rec[k], buf, (size_t)n, collect, p));
    }
    PetscCall(PetscFree(buf));
  }
  PetscCall(pm_agree(comm, (PetscBool)ok, why));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_read_parse(pm_traj_t *t, MPI_Comm comm, int64_t k, int collect, pm_parsed_t *p)
{
  PetscFunctionBeginUser;
  if (t->is_gz)
    PetscCall(read_gz(t, comm, k, collect, p));
  else
    PetscCall(read_plain(t, comm, k, collect, p));
  if (!p->id) { /* no lines here: still allocate the (empty) arrays */
    char z = 0;
    PetscCall(pm_traj_parse_block(t, &t->rec[k], &z, 0, collect, p));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
