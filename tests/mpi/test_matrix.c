/* pm_matrix_read on 1..3 ranks: .npy (reference sets, float32, version 2), text (blank/CSV,
 * comments, CRLF, lines spanning rank byte ranges) and HDF5 (float64/float32/int32, nested path)
 * give bitwise the values of a serial read, in the standard block layout; every bad input gives
 * its message on every rank (no hang). */
#include <phasemap/io.h>
#include "pm_test.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <dirent.h>

#define MSG_MAX 2048

typedef struct {
  int64_t n, d;
  double *v; /* n x d, row-major */
} mat_t;

static char g_dir[256];

static PetscErrorCode capture(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  if (p == PETSC_ERROR_INITIAL) snprintf((char *)ctx, MSG_MAX, "%s", mess ? mess : "");
  return n;
}

static void fpath(char *out, size_t len, const char *name) { snprintf(out, len, "%s/%s", g_dir, name); }

/* Independent serial .npy reader for version-1 float64 C-order files (the oracle). */
static mat_t npy_oracle(const char *path)
{
  mat_t          m = {0, 0, NULL};
  FILE          *f = fopen(path, "rb");
  unsigned char  pre[10];
  char           hdr[4096];
  const char    *s;
  size_t         hl;
  long long      a, b;

  if (!f || fread(pre, 1, 10, f) != 10) return m;
  hl = pre[8] | (size_t)pre[9] << 8;
  if (hl >= sizeof hdr || fread(hdr, 1, hl, f) != hl) return m;
  hdr[hl] = 0;
  s       = strstr(hdr, "'shape': (");
  if (!s || sscanf(s, "'shape': (%lld, %lld)", &a, &b) != 2) return m;
  m.n = a, m.d = b;
  m.v = malloc(sizeof(double) * a * b);
  if (fread(m.v, sizeof(double), a * b, f) != (size_t)(a * b)) m.n = 0;
  fclose(f);
  return m;
}

/* Rank 0 writes a file, everyone waits. */
static void write_bytes(MPI_Comm comm, const char *name, const void *p, size_t n)
{
  int  rank;
  char path[512];

  MPI_Comm_rank(comm, &rank);
  fpath(path, sizeof path, name);
  if (rank == 0) {
    FILE *f = fopen(path, "wb");
    if (n) fwrite(p, 1, n, f);
    fclose(f);
  }
  MPI_Barrier(comm);
}

/* A .npy file with the given header dict and payload (version 1 or 2). */
static void write_npy(MPI_Comm comm, const char *name, int version, const char *dict, const void *data, size_t nbytes)
{
  size_t         pre = version == 1 ? 10 : 12, dl = strlen(dict), hl = dl + 1, total;
  unsigned char *buf;

  hl += (64 - (pre + hl) % 64) % 64; /* pad to 64 like NumPy */
  total = pre + hl + nbytes;
  buf   = malloc(total);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)version, buf[7] = 0;
  if (version == 1) buf[8] = hl & 0xff, buf[9] = (hl >> 8) & 0xff;
  else buf[8] = hl & 0xff, buf[9] = (hl >> 8) & 0xff, buf[10] = 0, buf[11] = 0;
  memset(buf + pre, ' ', hl);
  memcpy(buf + pre, dict, dl);
  buf[pre + hl - 1] = '\n';
  if (nbytes) memcpy(buf + pre + hl, data, nbytes);
  write_bytes(comm, name, buf, total);
  free(buf);
}

/* X equals m bitwise (up to the conversion applied to m by `as_float`), in the block layout. */
static void check_equal(MPI_Comm comm, const char *what, const pm_rows_t *X, const mat_t *m, int as_float)
{
  int       rank, size, bad = 0;
  pm_gidx_t start, cnt;

  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  PM_TEST(X != NULL, "%s: matrix read", what);
  if (!X) return;
  pm_block_range(m->n, size, rank, &start, &cnt);
  PM_TEST(X->n_global == m->n && X->dim == m->d, "%s: shape %" PRId64 " x %d, expected %" PRId64 " x %" PRId64, what, X->n_global, X->dim, m->n, m->d);
  PM_TEST(X->row_start == start && X->n_local == cnt, "%s: block layout", what);
  if (X->n_global != m->n || X->dim != m->d || X->row_start != start || X->n_local != cnt) return;
  for (int64_t i = 0; i < cnt * m->d; i++) {
    double e = m->v[start * m->d + i];
    if (as_float == 1) e = (double)(float)e;
    if (as_float == 2) e = (double)(int)e;
    if (memcmp(&e, &X->x[i], sizeof e)) bad++;
  }
  PM_TEST(bad == 0, "%s: %d values differ from the serial read", what, bad);
}

static void expect_ok(MPI_Comm comm, const char *what, const char *name, pm_format_t fmt, const char *dset, const mat_t *m, int as_float)
{
  char           path[512], msg[MSG_MAX] = "";
  pm_rows_t     *X = NULL;
  PetscErrorCode err;

  fpath(path, sizeof path, name);
  PetscPushErrorHandler(capture, msg);
  err = pm_matrix_read(comm, path, fmt, dset, &X);
  PetscPopErrorHandler();
  PM_TEST(err == 0, "%s: unexpected error: %s", what, msg);
  if (!err) check_equal(comm, what, X, m, as_float);
  pm_rows_destroy(&X);
}

/* The read fails on every rank with a message containing frag (and the file name). */
static void expect_error(MPI_Comm comm, const char *name, pm_format_t fmt, const char *dset, const char *frag)
{
  char           path[512], msg[MSG_MAX] = "";
  pm_rows_t     *X = NULL;
  PetscErrorCode err;

  if (name[0] == '/') snprintf(path, sizeof path, "%s", name);
  else fpath(path, sizeof path, name);
  PetscPushErrorHandler(capture, msg);
  err = pm_matrix_read(comm, path, fmt, dset, &X);
  PetscPopErrorHandler();
  if (getenv("PM_TEST_VERBOSE")) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) printf("%s -> %s\n", name, msg);
  }
  PM_TEST(err != 0 && X == NULL, "%s: expected an error", name);
  PM_TEST(strstr(msg, frag) != NULL, "%s: message '%s' lacks '%s'", name, msg, frag);
  PM_TEST(strstr(msg, path) != NULL, "%s: message '%s' does not name the file", name, msg);
  pm_rows_destroy(&X);
}


static const char *const ref_sets[] = {"gmm2d", "hypercube5d", "swissroll10d"};

static mat_t ref_matrix(const char *set)
{
  char path[256];
  snprintf(path, sizeof path, "tests/data/reference/%s.npy", set);
  return npy_oracle(path);
}

static void test_npy(MPI_Comm comm)
{
  for (int s = 0; s < 3; s++) {
    char  what[64];
    mat_t m = ref_matrix(ref_sets[s]);
    PM_TEST(m.n == 5000, "oracle read of %s", ref_sets[s]);
    snprintf(what, sizeof what, "npy %s", ref_sets[s]);
    {
      pm_rows_t *X = NULL;
      char       ref[256];
      snprintf(ref, sizeof ref, "tests/data/reference/%s.npy", ref_sets[s]);
      PM_TEST(pm_matrix_read(comm, ref, PM_FMT_NPY, NULL, &X) == 0, "%s", what);
      check_equal(comm, what, X, &m, 0);
      pm_rows_destroy(&X);
      PM_TEST(pm_matrix_read(comm, ref, PM_FMT_AUTO, NULL, &X) == 0, "%s (auto)", what);
      check_equal(comm, what, X, &m, 0);
      pm_rows_destroy(&X);
    }
    free(m.v);
  }
  {
    mat_t  m  = ref_matrix("gmm2d");
    float *f  = malloc(sizeof(float) * m.n * m.d);
    char   d[128];
    for (int64_t i = 0; i < m.n * m.d; i++) f[i] = (float)m.v[i];
    snprintf(d, sizeof d, "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRId64 ", %" PRId64 "), }", m.n, m.d);
    write_npy(comm, "f32.npy", 1, d, f, sizeof(float) * m.n * m.d);
    expect_ok(comm, "npy float32", "f32.npy", PM_FMT_NPY, NULL, &m, 1);
    snprintf(d, sizeof d, "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (%" PRId64 "L, %" PRId64 "L)}", m.n, m.d);
    write_npy(comm, "v2.npy", 2, d, m.v, sizeof(double) * m.n * m.d);
    expect_ok(comm, "npy version 2", "v2.npy", PM_FMT_NPY, NULL, &m, 0);
    write_npy(comm, "v3.npy", 3, d, m.v, sizeof(double) * m.n * m.d);
    expect_ok(comm, "npy version 3", "v3.npy", PM_FMT_AUTO, NULL, &m, 0);
    free(f);
    free(m.v);
  }
}

/* Text with blank lines, comments, tabs, CRLF, inline comments (style 0) or ", " CSV without a final
 * newline (style 1); %.17g round-trips doubles exactly. */
static void write_text(MPI_Comm comm, const char *name, const mat_t *m, int style)
{
  int  rank;
  char path[512];

  MPI_Comm_rank(comm, &rank);
  fpath(path, sizeof path, name);
  if (rank == 0) {
    FILE *f = fopen(path, "w");
    if (style == 0) fprintf(f, "# phasemap test matrix\n\n   # indented comment\n");
    for (int64_t i = 0; i < m->n; i++) {
      for (int64_t j = 0; j < m->d; j++) fprintf(f, "%s%.17g", j ? (style ? ", " : (j % 2 ? "\t" : "  ")) : (style ? "" : " "), m->v[i * m->d + j]);
      if (style == 1) fprintf(f, i + 1 < m->n ? "\n" : "");
      else if (i % 7 == 3) fprintf(f, "  # row %" PRId64 "\r\n\n", i);
      else fprintf(f, i % 5 == 1 ? "\r\n" : "\n");
    }
    fclose(f);
  }
  MPI_Barrier(comm);
}

static void test_text(MPI_Comm comm)
{
  for (int s = 0; s < 3; s++) {
    mat_t m = ref_matrix(ref_sets[s]);
    char  what[64];
    snprintf(what, sizeof what, "text %s", ref_sets[s]);
    write_text(comm, "m.txt", &m, s == 1);
    expect_ok(comm, what, "m.txt", PM_FMT_TEXT, NULL, &m, 0);
    free(m.v);
  }
  {
    /* 3 rows after a comment longer than a rank's byte block: ranks without any line */
    double v[6]  = {1.5, -2, 3e-300, 4, 5.25, 6};
    mat_t  m     = {3, 2, v};
    char  *txt   = malloc(20000), *p = txt;
    memset(p, 'c', 9000);
    p[0] = '#';
    p += 9000;
    p += sprintf(p, "\n1.5,-2\n3e-300 4\n5.25 , 6\n");
    write_bytes(comm, "long.csv", txt, (size_t)(p - txt));
    expect_ok(comm, "text long comment", "long.csv", PM_FMT_TEXT, NULL, &m, 0);
    expect_ok(comm, "text auto", "long.csv", PM_FMT_AUTO, NULL, &m, 0);
    p = txt + sprintf(txt, "\xEF\xBB\xBF" "1.5 -2\n3e-300 4\n");
    memset(p, ' ', 9000);
    p += 9000;
    p += sprintf(p, "5.25 6");
    write_bytes(comm, "long2.txt", txt, (size_t)(p - txt));
    expect_ok(comm, "text BOM, long last line, no newline", "long2.txt", PM_FMT_TEXT, NULL, &m, 0);
    free(txt);
  }
}

static void write_h5(MPI_Comm comm, const char *name, const mat_t *m)
{
  int          rank, size;
  pm_gidx_t    start, cnt;
  pm_output_t *out;
  char         path[512];
  float       *f;
  int         *ip;

  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  fpath(path, sizeof path, name);
  pm_block_range(m->n, size, rank, &start, &cnt);
  f  = malloc(sizeof(float) * (cnt * m->d + 1));
  ip = malloc(sizeof(int) * (cnt * m->d + 1));
  for (int64_t i = 0; i < cnt * m->d; i++) f[i] = (float)m->v[start * m->d + i], ip[i] = (int)m->v[start * m->d + i];
  PetscCallVoid(pm_output_open(comm, path, PETSC_TRUE, &out));
  PetscCallVoid(pm_output_write_rows(out, "/X", PM_T_DOUBLE, m->n, start, cnt, (int)m->d, m->v + start * m->d));
  PetscCallVoid(pm_output_write_rows(out, "/grp/sub/f32", PM_T_FLOAT, m->n, start, cnt, (int)m->d, f));
  PetscCallVoid(pm_output_write_rows(out, "/grp/i32", PM_T_INT32, m->n, start, cnt, (int)m->d, ip));
  PetscCallVoid(pm_output_write_rows(out, "/one_d", PM_T_DOUBLE, m->n * m->d, start * m->d, cnt * m->d, 0, m->v + start * m->d));
  PetscCallVoid(pm_output_write_rows(out, "/two_rows", PM_T_DOUBLE, 2, rank == 0 ? 0 : 2, rank == 0 ? 2 : 0, (int)m->d, m->v));
  PetscCallVoid(pm_output_commit(&out));
  free(f);
  free(ip);
}

static void test_h5(MPI_Comm comm)
{
  mat_t m = ref_matrix("swissroll10d");

  for (int64_t i = 0; i < m.n * m.d; i++) m.v[i] *= 100.0; /* integers worth converting */
  write_h5(comm, "m.h5", &m);
  expect_ok(comm, "h5 /X float64 (default dataset)", "m.h5", PM_FMT_H5, NULL, &m, 0);
  expect_ok(comm, "h5 auto", "m.h5", PM_FMT_AUTO, "/X", &m, 0);
  expect_ok(comm, "h5 float32 nested", "m.h5", PM_FMT_H5, "/grp/sub/f32", &m, 1);
  expect_ok(comm, "h5 int32", "m.h5", PM_FMT_H5, "grp/i32", &m, 2);
  m.v[1234 * m.d + 7] = -INFINITY;
  write_h5(comm, "inf.h5", &m);
  expect_error(comm, "inf.h5", PM_FMT_H5, NULL, "row 1234, column 7 (both 0-based");
  expect_error(comm, "inf.h5", PM_FMT_H5, NULL, "is -Inf");
  expect_error(comm, "m.h5", PM_FMT_H5, "/Y", "no dataset '/Y'; the file holds /X (5000 x 10)");
  expect_error(comm, "m.h5", PM_FMT_H5, "/grp", "'/grp' is a group or another object, not a dataset; the file holds /X (5000 x 10)");
  expect_error(comm, "m.h5", PM_FMT_H5, "/nope/X", "no dataset '/nope/X'");
  {
    /* many datasets: the message lists the first few and stops */
    int          rank;
    pm_output_t *out;
    char         path[512], name[32];
    MPI_Comm_rank(comm, &rank);
    fpath(path, sizeof path, "many.h5");
    PetscCallVoid(pm_output_open(comm, path, PETSC_TRUE, &out));
    for (int i = 0; i < 12; i++) {
      snprintf(name, sizeof name, "/d%02d", i);
      PetscCallVoid(pm_output_write_rows(out, name, PM_T_DOUBLE, 3, 0, rank == 0 ? 3 : 0, 2, m.v));
    }
    PetscCallVoid(pm_output_commit(&out));
    expect_error(comm, "many.h5", PM_FMT_H5, "/X", "the file holds /d00 (3 x 2), /d01 (3 x 2), /d02 (3 x 2), /d03 (3 x 2), /d04 (3 x 2), /d05 (3 x 2), /d06 (3 x 2), /d07 (3 x 2), ...; choose one");
  }
  expect_error(comm, "m.h5", PM_FMT_H5, "/one_d", "shape (50000,) (1-D)");
  expect_error(comm, "m.h5", PM_FMT_H5, "/two_rows", "2 rows (points); phasemap needs at least 3");
  free(m.v);
}

static void test_bad_npy(MPI_Comm comm)
{
  double v[40] = {0};
  char   d[160];

  write_npy(comm, "fortran.npy", 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (5, 4), }", v, sizeof v);
  expect_error(comm, "fortran.npy", PM_FMT_NPY, NULL, "Fortran (column-major) order; save it in C order: numpy.save(f, numpy.ascontiguousarray(X))");
  write_npy(comm, "i8.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (5, 4), }", v, sizeof v);
  expect_error(comm, "i8.npy", PM_FMT_NPY, NULL, "dtype '<i8' (int64) is not supported");
  write_npy(comm, "f2.npy", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (5, 4), }", v, 40);
  expect_error(comm, "f2.npy", PM_FMT_NPY, NULL, "dtype '<f2' (float16) is not supported");
  write_npy(comm, "obj.npy", 1, "{'descr': '|O', 'fortran_order': False, 'shape': (5, 4), }", v, sizeof v);
  expect_error(comm, "obj.npy", PM_FMT_NPY, NULL, "object array");
  write_npy(comm, "be.npy", 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (5, 4), }", v, sizeof v);
  expect_error(comm, "be.npy", PM_FMT_NPY, NULL, "big-endian");
  write_npy(comm, "rec.npy", 1, "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (5, 4), }", v, sizeof v);
  expect_error(comm, "rec.npy", PM_FMT_NPY, NULL, "structured");
  write_npy(comm, "oned.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (40,), }", v, sizeof v);
  expect_error(comm, "oned.npy", PM_FMT_NPY, NULL, "shape (40,) (1-D); a feature matrix must be 2-D");
  write_npy(comm, "threed.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4, 5), }", v, sizeof v);
  expect_error(comm, "threed.npy", PM_FMT_NPY, NULL, "shape (2, 4, 5) (3-D)");
  write_npy(comm, "n2.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }", v, 64);
  expect_error(comm, "n2.npy", PM_FMT_NPY, NULL, "2 rows (points); phasemap needs at least 3");
  write_npy(comm, "d0.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 0), }", v, 0);
  expect_error(comm, "d0.npy", PM_FMT_NPY, NULL, "0 columns");
  write_npy(comm, "trunc.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 4), }", v, 8 * 19);
  expect_error(comm, "trunc.npy", PM_FMT_NPY, NULL, "truncated: its header announces 5 x 4 float64 values (160 bytes) but only 152 bytes");
  write_npy(comm, "nohdr.npy", 1, "{'shape': (5, 4)}", v, sizeof v);
  expect_error(comm, "nohdr.npy", PM_FMT_NPY, NULL, "cannot understand the .npy header");
  write_bytes(comm, "short.npy", "\x93NUMPY\x01\x00\xff\x00{'descr'", 17);
  expect_error(comm, "short.npy", PM_FMT_NPY, NULL, "truncated or not a .npy file");
  write_bytes(comm, "text.npy", "1 2 3\n4 5 6\n", 12);
  expect_error(comm, "text.npy", PM_FMT_NPY, NULL, "not a NumPy .npy file");
  {
    mat_t m = ref_matrix("gmm2d");
    m.v[3000 * 2 + 1] = NAN;
    snprintf(d, sizeof d, "{'descr': '<f8', 'fortran_order': False, 'shape': (%" PRId64 ", %" PRId64 "), }", m.n, m.d);
    write_npy(comm, "nan.npy", 1, d, m.v, sizeof(double) * m.n * m.d);
    expect_error(comm, "nan.npy", PM_FMT_NPY, NULL, "row 3000, column 1 (both 0-based, X[3000, 1] in NumPy) is NaN");
    free(m.v);
  }
}

/* A 300-row text matrix with one bad spot at row `at` (0-based); text ends up in a file. */
static void write_bad_text(MPI_Comm comm, const char *name, int at, const char *bad)
{
  char *txt = malloc(40000), *p = txt;

  p += sprintf(p, "# header\n");
  for (int i = 0; i < 300; i++) {
    if (i == at) p += sprintf(p, "%s\n", bad);
    else p += sprintf(p, "%d.25 %d -%d.5\n", i, 2 * i, i);
  }
  write_bytes(comm, name, txt, (size_t)(p - txt));
  free(txt);
}

/* A ragged or malformed row near every place where a rank's byte block starts (P = 2, 3: about
 * rows 100, 150, 200), at the start and at the end: whichever rank holds it, often as the first
 * line of its block, the message names the same global line. Files first, then one read each. */
static void test_bad_text_everywhere(MPI_Comm comm)
{
  int wrong = 0, at[64], nat = 0;

  for (int c = 100; c <= 200; c += 50)
    for (int i = c - 5; i <= c + 5; i++) at[nat++] = i;
  at[nat++] = 1, at[nat++] = 2, at[nat++] = 298, at[nat++] = 299;
  for (int k = 0; k < 2 * nat; k++) {
    char name[32];
    snprintf(name, sizeof name, "every%d.txt", k);
    write_bad_text(comm, name, at[k / 2], k % 2 ? "1 2" : "1 2 x");
  }
  for (int k = 0; k < 2 * nat; k++) {
    char           name[32], path[512], msg[MSG_MAX] = "", frag[96];
    pm_rows_t     *X = NULL;
    PetscErrorCode err;
    snprintf(name, sizeof name, "every%d.txt", k);
    fpath(path, sizeof path, name);
    PetscPushErrorHandler(capture, msg);
    err = pm_matrix_read(comm, path, PM_FMT_TEXT, NULL, &X);
    PetscPopErrorHandler();
    if (k % 2) snprintf(frag, sizeof frag, "ragged rows: line %d has 2 values but the first data row (line 2) has 3", at[k / 2] + 2);
    else snprintf(frag, sizeof frag, "line %d, column 3 (1-based): cannot read a number from 'x'", at[k / 2] + 2);
    if (!err || X || !strstr(msg, frag)) wrong++;
    pm_rows_destroy(&X);
  }
  PM_TEST(wrong == 0, "%d bad rows at varying positions not reported with their line", wrong);
}

static void test_bad_text(MPI_Comm comm)
{
  test_bad_text_everywhere(comm);
  write_bad_text(comm, "rag1.txt", 1, "1 2");
  expect_error(comm, "rag1.txt", PM_FMT_TEXT, NULL, "ragged rows: line 3 has 2 values but the first data row (line 2) has 3");
  write_bad_text(comm, "ragmid.txt", 150, "1 2 3 4");
  expect_error(comm, "ragmid.txt", PM_FMT_TEXT, NULL, "ragged rows: line 152 has 4 values but the first data row (line 2) has 3");
  write_bad_text(comm, "raglast.txt", 299, "7,8");
  expect_error(comm, "raglast.txt", PM_FMT_TEXT, NULL, "line 301 has 2 values");
  write_bad_text(comm, "ragfirst.txt", 0, "1 2 3 4 5");
  expect_error(comm, "ragfirst.txt", PM_FMT_TEXT, NULL, "line 3 has 3 values but the first data row (line 2) has 5");
  write_bad_text(comm, "malf.txt", 200, "1.0 2.5x 3");
  expect_error(comm, "malf.txt", PM_FMT_TEXT, NULL, "line 202, column 2 (1-based): cannot read a number from '2.5x'");
  write_bad_text(comm, "malf2.csv", 250, "1.0,2,abc");
  expect_error(comm, "malf2.csv", PM_FMT_TEXT, NULL, "line 252, column 3 (1-based): cannot read a number from 'abc'");
  write_bad_text(comm, "nan.txt", 100, "1 nan 3");
  expect_error(comm, "nan.txt", PM_FMT_TEXT, NULL, "line 102, column 2 (1-based; data row 100, column 1 0-based): 'nan' is not a finite number");
  write_bad_text(comm, "inf.txt", 290, "1 2 -inf");
  expect_error(comm, "inf.txt", PM_FMT_TEXT, NULL, "data row 290, column 2 0-based): '-inf'");
  write_bad_text(comm, "empty.csv", 10, "1,,3");
  expect_error(comm, "empty.csv", PM_FMT_TEXT, NULL, "line 12, column 2 (1-based): empty value");
  write_bytes(comm, "none.txt", "", 0);
  expect_error(comm, "none.txt", PM_FMT_TEXT, NULL, "no data rows");
  write_bytes(comm, "comments.txt", "# a\n\n  # b\n", 11);
  expect_error(comm, "comments.txt", PM_FMT_TEXT, NULL, "no data rows");
  write_bytes(comm, "two.txt", "1 2\n3 4\n", 8);
  expect_error(comm, "two.txt", PM_FMT_TEXT, NULL, "2 rows (points); phasemap needs at least 3");
  write_bytes(comm, "nul.txt", "1 2\n3\0 4\n5 6\n", 13);
  expect_error(comm, "nul.txt", PM_FMT_TEXT, NULL, "line 2, column 1 (1-based): cannot read a number from '3?'");
  write_bytes(comm, "garbage.txt", "\x01\x02\xff\xfe garbage", 13);
  expect_error(comm, "garbage.txt", PM_FMT_TEXT, NULL, "line 1, column 1 (1-based): cannot read a number from '?" "??" "?'");
}

static void test_bad_h5_and_files(MPI_Comm comm)
{
  expect_error(comm, "/nonexistent/dir/x.npy", PM_FMT_NPY, NULL, "does not exist; check the -input path");
  expect_error(comm, "missing.h5", PM_FMT_H5, NULL, "does not exist");
  expect_error(comm, g_dir, PM_FMT_TEXT, NULL, "is a directory, not a file");
  write_bytes(comm, "garbage.h5", "this is not an HDF5 file at all, just some text\n", 48);
  expect_error(comm, "garbage.h5", PM_FMT_H5, NULL, "cannot be opened as an HDF5 file");
}

static void remove_dir(const char *dir)
{
  DIR           *d = opendir(dir);
  struct dirent *e;
  char           p[768];

  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
  if (d) closedir(d);
  rmdir(dir);
}

int main(int argc, char **argv)
{
  MPI_Comm comm;
  int      rank, rc;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    snprintf(g_dir, sizeof g_dir, "/tmp/pm_test_matrix_XXXXXX");
    if (!mkdtemp(g_dir)) g_dir[0] = 0;
  }
  (void)MPI_Bcast(g_dir, sizeof g_dir, MPI_CHAR, 0, comm);
  PM_TEST(g_dir[0] != 0, "temporary directory");
  if (g_dir[0]) {
    test_npy(comm);
    test_text(comm);
    test_h5(comm);
    test_bad_npy(comm);
    test_bad_text(comm);
    test_bad_h5_and_files(comm);
    MPI_Barrier(comm);
    if (rank == 0) remove_dir(g_dir);
  }
  rc = pm_test_finish_mpi(comm);
  PetscCall(PetscFinalize());
  return rc;
}
