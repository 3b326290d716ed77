/* Text feature matrices: one row per line, values separated by blanks and/or commas, '#' starts a
 * comment (to the end of the line), blank lines ignored. Each rank reads the byte block
 * pm_block_range(file size) and owns the lines that start inside it; counts are combined with
 * exclusive scans (global line and row numbers), then the rows move to the standard block layout. */
#include "io/io_impl.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_IO_CHUNK (1 << 30) /* bytes per MPI-IO call */
#define TEXT_TAIL     (1 << 16) /* bytes read at a time past the block to finish the last line */

typedef enum { TXT_OK, TXT_MALFORMED, TXT_EMPTY, TXT_NONFINITE, TXT_RAGGED } txt_err_t;

typedef struct {
  double   *v;           /* values of complete rows, row-major */
  size_t    nv, cap;     /* values stored, capacity */
  int64_t   nrows;       /* complete data rows */
  int64_t   nlines;      /* physical lines scanned (up to the error line, if any) */
  int       c0;          /* values in the first data row here, -1 if none */
  int64_t   first_line;  /* local 1-based line of the first data row */
  txt_err_t err;         /* first problem met here */
  int64_t   err_line;    /* its local 1-based line */
  int       err_col;     /* 1-based column (value number) */
  int       err_count;   /* TXT_RAGGED: values on that line */
  char      token[40];   /* the offending text */
} txt_parse_t;

static PetscErrorCode read_bytes(MPI_File fh, int64_t off, char *buf, int64_t n, int *rc)
{
  PetscFunctionBeginUser;
  *rc = MPI_SUCCESS;
  for (int64_t done = 0; done < n && *rc == MPI_SUCCESS;) {
    int        step = (int)PetscMin((int64_t)TEXT_IO_CHUNK, n - done), got = 0;
    MPI_Status st;
    *rc = MPI_File_read_at(fh, (MPI_Offset)(off + done), buf + done, step, MPI_CHAR, &st);
    if (*rc == MPI_SUCCESS) MPI_Get_count(&st, MPI_CHAR, &got);
    if (*rc == MPI_SUCCESS && got != step) *rc = MPI_ERR_IO;
    done += step;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The lines starting in [a, b): bytes [s, e) into a new NUL-terminated buffer. */
static PetscErrorCode read_owned(MPI_File fh, int64_t size, int64_t a, int64_t b, char **txt, int64_t *len, int *rc)
{
  char   *buf;
  int64_t s, e, cap;

  PetscFunctionBeginUser;
  *txt = NULL;
  *len = 0;
  cap  = b - a + 1 + TEXT_TAIL;
  PetscCall(PetscMalloc1(cap + 1, &buf));
  s = a > 0 ? a - 1 : 0; /* one byte back: was the block's first byte a line start? */
  PetscCall(read_bytes(fh, s, buf, b - s, rc));
  if (*rc != MPI_SUCCESS || a >= b) {
    PetscCall(PetscFree(buf));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (a > 0) {
    char *nl = memchr(buf, '\n', (size_t)(b - s - 1)); /* newline in [a-1, b-1) starts a line in [a, b) */
    if (!nl) {
      PetscCall(PetscFree(buf));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    s += nl - buf + 1;
    memmove(buf, nl + 1, (size_t)(b - s));
  }
  e = b;
  while (buf[e - s - 1] != '\n' && e < size) { /* finish the last line, which may run past b */
    int64_t step = PetscMin((int64_t)TEXT_TAIL, size - e);
    char   *nl;
    if (e - s + step + 1 > cap) {
      cap = 2 * (e - s + step + 1);
      PetscCall(PetscRealloc((size_t)cap + 1, &buf));
    }
    PetscCall(read_bytes(fh, e, buf + (e - s), step, rc));
    if (*rc != MPI_SUCCESS) break;
    nl = memchr(buf + (e - s), '\n', (size_t)step);
    e  = nl ? s + (nl - buf) + 1 : e + step;
  }
  buf[e - s] = 0;
  *txt       = buf;
  *len       = e - s;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscBool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
static PetscBool ends_value(const char *p, const char *lend) { return p >= lend || is_blank(*p) || *p == ',' || *p == '#' || *p == '\n'; }

static void set_error(txt_parse_t *ps, txt_err_t err, int col, const char *tok, const char *lend)
{
  size_t n = 0;

  ps->err      = err;
  ps->err_line = ps->nlines;
  ps->err_col  = col;
  for (; tok && tok < lend && !ends_value(tok, lend) && n + 1 < sizeof ps->token; tok++) ps->token[n++] = isprint((unsigned char)*tok) ? *tok : '?';
  ps->token[n] = 0;
}

static PetscErrorCode push_value(txt_parse_t *ps, double v)
{
  PetscFunctionBeginUser;
  if (ps->nv == ps->cap) {
    ps->cap = ps->cap ? 2 * ps->cap : 4096;
    PetscCall(PetscRealloc(ps->cap * sizeof(double), &ps->v));
  }
  ps->v[ps->nv++] = v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One line [p, lend): appends its values; returns the count (0 for blank/comment), -1 on error. */
static PetscErrorCode parse_line(txt_parse_t *ps, const char *p, const char *lend, int *count)
{
  int       col  = 0;
  PetscBool need = PETSC_FALSE; /* a comma was seen: a value must follow */

  PetscFunctionBeginUser;
  *count = -1;
  for (;;) {
    char  *end;
    double v;
    while (p < lend && is_blank(*p)) p++;
    if (p >= lend || *p == '#') {
      if (need) set_error(ps, TXT_EMPTY, col + 1, NULL, lend);
      else *count = col;
      break;
    }
    if (*p == ',') {
      set_error(ps, TXT_EMPTY, col + 1, NULL, lend);
      break;
    }
    v = strtod(p, &end);
    if (end == p || !ends_value(end, lend)) {
      set_error(ps, TXT_MALFORMED, col + 1, p, lend);
      break;
    }
    if (!isfinite(v)) {
      set_error(ps, TXT_NONFINITE, col + 1, p, lend);
      break;
    }
    PetscCall(push_value(ps, v));
    col++;
    p = end;
    while (p < lend && is_blank(*p)) p++;
    need = (p < lend && *p == ',') ? PETSC_TRUE : PETSC_FALSE;
    if (need) p++;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Scan the owned lines until the end or the first problem. */
static PetscErrorCode parse_owned(const char *txt, int64_t len, PetscBool at_file_start, pm_progress_t *prog, txt_parse_t *ps)
{
  const char *p = txt, *end = txt + len;

  PetscFunctionBeginUser;
  ps->c0 = -1;
  if (at_file_start && len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* UTF-8 byte order mark */
  while (p < end && ps->err == TXT_OK) {
    const char *lend = memchr(p, '\n', (size_t)(end - p));
    int         count;
    if (!lend) lend = end;
    ps->nlines++;
    if (ps->nlines % 65536 == 0) PetscCall(pm_progress_step(prog, p - txt));
    PetscCall(parse_line(ps, p, lend, &count));
    if (count > 0) {
      if (ps->c0 < 0) {
        ps->c0         = count;
        ps->first_line = ps->nlines;
      } else if (count != ps->c0) {
        ps->nv -= (size_t)count;
        ps->err       = TXT_RAGGED;
        ps->err_line  = ps->nlines;
        ps->err_count = count;
        break;
      }
      ps->nrows++;
    }
    p = lend + 1;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Global line numbers, the file's column count D, and one agreed verdict. */
static PetscErrorCode agree_parse(MPI_Comm comm, const char *path, const txt_parse_t *ps, int *D)
{
  int       rank, size;
  int64_t   line0 = 0, mine[2], *all, rows0 = 0, dline = -1;
  char      why[PM_REASON_MAX] = "";
  PetscBool ok                 = PETSC_TRUE;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Exscan(&ps->nlines, &line0, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Exscan(&ps->nrows, &rows0, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) line0 = rows0 = 0;
  mine[0] = ps->c0;
  mine[1] = line0 + ps->first_line;
  PetscCall(PetscMalloc1(2 * size, &all));
  PetscCallMPI(MPI_Allgather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, comm));
  *D = -1;
  for (int r = 0; r < size && *D < 0; r++)
    if (all[2 * r] >= 0) {
      *D    = (int)all[2 * r];
      dline = all[2 * r + 1];
    }
  PetscCall(PetscFree(all));
  if (ps->c0 >= 0 && ps->c0 != *D) {
    ok = PETSC_FALSE;
    PetscCall(PetscSNPrintf(why, sizeof why, "%s: ragged rows: line %" PRId64 " has %d values but the first data row (line %" PRId64 ") has %d; every row needs the same number of columns", path, line0 + ps->first_line, ps->c0, dline, *D));
  } else if (ps->err != TXT_OK) {
    int64_t line = line0 + ps->err_line;
    ok           = PETSC_FALSE;
    if (ps->err == TXT_RAGGED)
      PetscCall(PetscSNPrintf(why, sizeof why, "%s: ragged rows: line %" PRId64 " has %d values but the first data row (line %" PRId64 ") has %d; every row needs the same number of columns", path, line, ps->err_count, dline, *D));
    else if (ps->err == TXT_EMPTY) PetscCall(PetscSNPrintf(why, sizeof why, "%s: line %" PRId64 ", column %d (1-based): empty value between separators; remove the extra comma or fill in the value", path, line, ps->err_col));
    else if (ps->err == TXT_NONFINITE)
      PetscCall(PetscSNPrintf(why, sizeof why, "%s: line %" PRId64 ", column %d (1-based; data row %" PRId64 ", column %d 0-based): '%s' is not a finite number; phasemap needs finite features: remove or impute that row", path, line, ps->err_col, rows0 + ps->nrows, ps->err_col - 1, ps->token));
    else PetscCall(PetscSNPrintf(why, sizeof why, "%s: line %" PRId64 ", column %d (1-based): cannot read a number from '%s'; values must be numbers separated by blanks or commas ('#' starts a comment)", path, line, ps->err_col, ps->token));
  }
  PetscCall(pm_agree(comm, ok, why));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rows [row0, row0 + nrows) held here move to the standard block layout. */
static PetscErrorCode redistribute(MPI_Comm comm, const txt_parse_t *ps, int64_t n, int d, pm_rows_t **X)
{
  int          size, *sc, *sd, *rc, *rd;
  pm_gidx_t   *starts, *targets;
  pm_rows_t   *R;
  MPI_Datatype row;
  double       dummy = 0.0; /* send buffer of a rank without rows (must not alias the receive buffer) */

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(pm_rows_create(comm, n, d, &R));
  PetscCall(pm_layout_starts(comm, ps->nrows, &starts));
  PetscCall(PetscMalloc1(size + 1, &targets));
  PetscCall(PetscMalloc4(size, &sc, size, &sd, size, &rc, size, &rd));
  for (int r = 0; r < size; r++) {
    pm_gidx_t cnt;
    pm_block_range(n, size, r, &targets[r], &cnt);
  }
  targets[size] = n;
  {
    int       rank;
    pm_gidx_t my0, my1, tg0, tg1;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    my0 = starts[rank], my1 = starts[rank + 1], tg0 = targets[rank], tg1 = targets[rank + 1];
    for (int r = 0; r < size; r++) {
      pm_gidx_t lo = PetscMax(my0, targets[r]), hi = PetscMin(my1, targets[r + 1]);
      sc[r]        = (int)PetscMax(0, hi - lo);
      sd[r]        = (int)(hi > lo ? lo - my0 : 0);
      lo           = PetscMax(tg0, starts[r]), hi = PetscMin(tg1, starts[r + 1]);
      rc[r]        = (int)PetscMax(0, hi - lo);
      rd[r]        = (int)(hi > lo ? lo - tg0 : 0);
    }
  }
  PetscCallMPI(MPI_Type_contiguous(d, MPI_DOUBLE, &row));
  PetscCallMPI(MPI_Type_commit(&row));
  PetscCallMPI(MPI_Alltoallv(ps->v ? ps->v : &dummy, sc, sd, row, R->x, rc, rd, row, comm));
  PetscCallMPI(MPI_Type_free(&row));
  PetscCall(PetscFree4(sc, sd, rc, rd));
  PetscCall(PetscFree(targets));
  PetscCall(PetscFree(starts));
  *X = R;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_matrix_read_text(MPI_Comm comm, const char *path, const pm_io_probe_t *probe, pm_rows_t **X)
{
  int            rank, size, rc, D = 0;
  int64_t        a, cnt, len, n;
  MPI_File       fh;
  char          *txt = NULL, msg[PM_REASON_MAX];
  txt_parse_t    ps;
  pm_progress_t *prog = NULL;
  PetscErrorCode err;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMemzero(&ps, sizeof ps));
  rc = MPI_File_open(comm, path, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
  PetscCall(PetscSNPrintf(msg, sizeof msg, "%s: cannot open the file with MPI-IO on every rank; is it on a file system all ranks see?", path));
  PetscCall(pm_agree(comm, rc == MPI_SUCCESS ? PETSC_TRUE : PETSC_FALSE, msg));
  pm_block_range(probe->size, size, rank, &a, &cnt);
  PetscCall(read_owned(fh, probe->size, a, a + cnt, &txt, &len, &rc));
  PetscCallMPI(MPI_File_close(&fh));
  PetscCall(PetscSNPrintf(msg, sizeof msg, "%s: reading the file failed (MPI-IO error %d)", path, rc));
  PetscCall(pm_agree(comm, rc == MPI_SUCCESS ? PETSC_TRUE : PETSC_FALSE, msg));
  PetscCall(pm_progress_create(comm, "reading text", len, &prog)); /* rank 0's share */
  err = parse_owned(txt ? txt : "", len, a == 0 ? PETSC_TRUE : PETSC_FALSE, prog, &ps);
  PetscCall(PetscFree(txt));
  PetscCall(pm_progress_destroy(&prog));
  PetscCall(PetscSNPrintf(msg, sizeof msg, "%s: out of memory while parsing the text; use more ranks or a binary format", path));
  err = pm_agree(comm, err ? PETSC_FALSE : PETSC_TRUE, msg); /* a local failure must not leave the others waiting */
  if (!err) err = agree_parse(comm, path, &ps, &D);
  if (!err) err = MPI_Allreduce(&ps.nrows, &n, 1, MPI_INT64_T, MPI_SUM, comm) == MPI_SUCCESS ? 0 : PETSC_ERR_MPI;
  if (!err && n == 0) err = PetscError(comm, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_USER_INPUT, PETSC_ERROR_INITIAL, "%s: no data rows (the file is empty or holds only blank and '#' comment lines)", path);
  if (!err) err = pm_matrix_check_shape(comm, path, n, D);
  if (!err) err = redistribute(comm, &ps, n, D, X);
  PetscCall(PetscFree(ps.v));
  PetscCall(err);
  PetscFunctionReturn(PETSC_SUCCESS);
}
