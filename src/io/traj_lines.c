/* Buffered line reader for the frame scan: plain files through pread, .gz through gzread. */
#include "io/traj_impl.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>

int pm_line_is_blank(const char *s)
{
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
  return 1;
}

static PetscErrorCode fill(pm_lreader_t *r, const char *path)
{
  size_t  want;
  int64_t got;

  PetscFunctionBeginUser;
  if (r->beg > 0) { /* keep the unread tail at the front */
    memmove(r->buf, r->buf + r->beg, r->len - r->beg);
    r->buf_off += (int64_t)r->beg;
    r->len -= r->beg;
    r->beg = 0;
  }
  if (r->cap - r->len < PM_TRAJ_CHUNK) { /* a line longer than the buffer: grow */
    char *nb;
    PetscCall(PetscMalloc1(2 * r->cap + 1, &nb));
    PetscCall(PetscMemcpy(nb, r->buf, r->len));
    PetscCall(PetscFree(r->buf));
    r->buf = nb;
    r->cap = 2 * r->cap;
  }
  want = r->cap - r->len;
  if (r->gz) {
    int         n    = gzread(r->gz, r->buf + r->len, (unsigned)(want > (1u << 30) ? (1u << 30) : want));
    int         zerr = Z_OK;
    const char *zmsg = n <= 0 ? gzerror(r->gz, &zerr) : NULL;
    if (n <= 0 && zerr == Z_BUF_ERROR)
      n = 0; /* a cut compressed stream: its data ends here (a truncated last frame) */
    else if (n <= 0 && zerr != Z_OK && zerr != Z_STREAM_END)
      n = -1;
    if (n < 0) PetscCall(PetscSNPrintf(r->err, sizeof r->err, "%s: cannot decompress (%s); is the .gz file damaged?", path, zmsg ? zmsg : "zlib error"));
    got = n < 0 ? 0 : n;
  } else {
    int64_t at = r->buf_off + (int64_t)r->len;
    if (at + (int64_t)want > r->limit) want = (size_t)(r->limit - at);
    got = want ? (int64_t)pread(r->fd, r->buf + r->len, want, (off_t)at) : 0;
    if (got < 0) PetscCall(PetscSNPrintf(r->err, sizeof r->err, "%s: read error at byte %" PRId64 ": %s", path, at, strerror(errno)));
    if (got < 0) got = 0;
  }
  if (got == 0) r->eof = 1;
  r->len += (size_t)got;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode init_common(pm_lreader_t *r, int64_t start, int64_t hi)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(r, sizeof *r));
  r->fd      = -1;
  r->cap     = 4 * PM_TRAJ_CHUNK;
  r->buf_off = start;
  r->hi      = hi;
  r->limit   = INT64_MAX;
  PetscCall(PetscMalloc1(r->cap + 1, &r->buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Starts at the first line that begins at or after `start` (a partial line belongs to the previous range). */
PetscErrorCode pm_lreader_init_fd(pm_lreader_t *r, const char *path, int fd, int64_t start, int64_t limit, int64_t hi)
{
  char c = '\n';

  PetscFunctionBeginUser;
  PetscCall(init_common(r, start, hi));
  r->fd    = fd;
  r->limit = limit;
  if (start > 0 && pread(fd, &c, 1, (off_t)(start - 1)) != 1) {
    PetscCall(PetscSNPrintf(r->err, sizeof r->err, "%s: read error at byte %" PRId64, path, start - 1));
    r->eof = 1;
  }
  while (c != '\n' && !r->err[0]) { /* skip the rest of the line that started before `start` */
    char *nl;
    if (r->beg == r->len) {
      if (r->eof) break;
      PetscCall(fill(r, path));
      continue;
    }
    nl = memchr(r->buf + r->beg, '\n', r->len - r->beg);
    if (nl) {
      r->beg = (size_t)(nl - r->buf) + 1;
      c      = '\n';
    } else
      r->beg = r->len;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_lreader_init_gz(pm_lreader_t *r, gzFile gz, int64_t start, int64_t hi)
{
  PetscFunctionBeginUser;
  PetscCall(init_common(r, start, hi));
  r->gz = gz;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_lreader_next(pm_lreader_t *r, const char *path, char **line, size_t *len, int64_t *start)
{
  char  *nl = NULL;
  size_t n;

  PetscFunctionBeginUser;
  *line = NULL;
  for (;;) {
    if (r->len > r->beg && (nl = memchr(r->buf + r->beg, '\n', r->len - r->beg))) break;
    if (r->eof) break;
    PetscCall(fill(r, path));
  }
  if (!nl && r->beg == r->len) PetscFunctionReturn(PETSC_SUCCESS); /* end of data */
  n          = nl ? (size_t)(nl - (r->buf + r->beg)) : r->len - r->beg;
  *line      = r->buf + r->beg;
  *start     = r->buf_off + (int64_t)r->beg;
  r->last_nl = nl != NULL;
  (*line)[n] = 0; /* buf has one spare byte past cap for the unterminated last line */
  if (n > 0 && (*line)[n - 1] == '\r') (*line)[--n] = 0;
  *len   = n;
  r->beg = nl ? (size_t)(nl - r->buf) + 1 : r->len;
  r->lineno++;
  if (!pm_line_is_blank(*line)) r->nbno++;
  if (*start < r->hi) {
    r->n_in++;
    if (!pm_line_is_blank(*line)) r->nb_in++;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pm_lreader_free(pm_lreader_t *r)
{
  if (r->buf) PetscFree(r->buf);
  r->buf = NULL;
}
