/* NumPy .npy feature matrices: rank 0 reads the header and broadcasts it, every rank parses it the
 * same way, then each rank reads its own rows with collective MPI-IO. Format (NumPy NEP 1):
 * "\x93NUMPY", major, minor, header length (2 bytes for version 1, 4 bytes for 2 and 3, little
 * endian), then a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}. */
#include "io/io_impl.h"
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .npy reader assumes a little-endian host"
#endif

#define NPY_HEADER_MAX (1 << 20)  /* NumPy writes a few hundred bytes; anything huge is garbage */
#define NPY_CHUNK      (1 << 28) /* bytes per collective read call (stays far below 2 GiB) */

typedef struct {
  char      descr[64];
  PetscBool fortran;
  int       ndim;
  int64_t   shape[8];
  int64_t   data_offset; /* bytes before the first value */
} npy_header_t;

/* Rank 0: the header dict text (NUL-terminated) and the data offset. */
static PetscBool read_header_local(const char *path, const pm_io_probe_t *probe, char **text, int64_t *offset, char *why, size_t len)
{
  unsigned char pre[12];
  FILE         *f = fopen(path, "rb");
  size_t        got, hlen, lenbytes;

  *text = NULL;
  if (!f) {
    snprintf(why, len, "input file '%s' cannot be opened for reading", path);
    return PETSC_FALSE;
  }
  got = fread(pre, 1, sizeof pre, f);
  if (got < 10 || memcmp(pre, "\x93NUMPY", 6)) {
    if (pm_io_sniff(probe) == PM_FMT_H5) snprintf(why, len, "%s: this is an HDF5 file, not a NumPy .npy file; give it a .h5 name or use -input_format h5", path);
    else snprintf(why, len, "%s: not a NumPy .npy file (it does not start with the \\x93NUMPY magic); save the matrix with numpy.save()", path);
    fclose(f);
    return PETSC_FALSE;
  }
  if (pre[6] < 1 || pre[6] > 3) {
    snprintf(why, len, "%s: .npy format version %d.%d is not supported (1.0, 2.0 and 3.0 are)", path, pre[6], pre[7]);
    fclose(f);
    return PETSC_FALSE;
  }
  lenbytes = pre[6] == 1 ? 2 : 4;
  if (got < 8 + lenbytes) {
    snprintf(why, len, "%s: the .npy file is truncated inside its header", path);
    fclose(f);
    return PETSC_FALSE;
  }
  hlen = lenbytes == 2 ? (size_t)pre[8] | (size_t)pre[9] << 8 : (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  if (hlen > NPY_HEADER_MAX || (int64_t)(8 + lenbytes + hlen) > probe->size) {
    snprintf(why, len, "%s: the .npy header claims %zu bytes but the file has %" PRId64 "; the file is truncated or not a .npy file", path, hlen, probe->size);
    fclose(f);
    return PETSC_FALSE;
  }
  if (PetscMalloc1(hlen + 1, text) || fseek(f, (long)(8 + lenbytes), SEEK_SET) || fread(*text, 1, hlen, f) != hlen) {
    snprintf(why, len, "%s: cannot read the .npy header", path);
    fclose(f);
    return PETSC_FALSE;
  }
  (*text)[hlen] = 0;
  *offset       = (int64_t)(8 + lenbytes + hlen);
  fclose(f);
  return PETSC_TRUE;
}

/* Value of key in the dict text: pointer just after "'key':" and blanks, or NULL. */
static const char *dict_value(const char *text, const char *key)
{
  char        pat[32];
  const char *p;

  for (int q = 0; q < 2; q++) {
    snprintf(pat, sizeof pat, q ? "\"%s\"" : "'%s'", key);
    p = strstr(text, pat);
    if (!p) continue;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p++ != ':') return NULL;
    while (*p == ' ') p++;
    return p;
  }
  return NULL;
}

static PetscBool parse_header(const char *text, npy_header_t *h)
{
  const char *p;
  char       *end;

  if (!(p = dict_value(text, "descr"))) return PETSC_FALSE;
  if (*p == '[') PetscStrncpy(h->descr, "structured", sizeof h->descr);
  else {
    char   q = *p++;
    size_t n = 0;
    if (q != '\'' && q != '"') return PETSC_FALSE;
    while (*p && *p != q && n + 1 < sizeof h->descr) h->descr[n++] = *p++;
    h->descr[n] = 0;
    if (*p != q) return PETSC_FALSE;
  }
  if (!(p = dict_value(text, "fortran_order"))) return PETSC_FALSE;
  if (!strncmp(p, "True", 4)) h->fortran = PETSC_TRUE;
  else if (!strncmp(p, "False", 5)) h->fortran = PETSC_FALSE;
  else return PETSC_FALSE;
  if (!(p = dict_value(text, "shape")) || *p++ != '(') return PETSC_FALSE;
  h->ndim = 0;
  for (;;) {
    while (*p == ' ') p++;
    if (*p == ')') break;
    if (h->ndim == 8) return PETSC_FALSE;
    h->shape[h->ndim] = (int64_t)strtoll(p, &end, 10);
    if (end == p || h->shape[h->ndim] < 0) return PETSC_FALSE;
    h->ndim++;
    p = end;
    if (*p == 'L') p++; /* written by Python 2 */
    while (*p == ' ') p++;
    if (*p == ',') p++;
    else if (*p != ')') return PETSC_FALSE;
  }
  return PETSC_TRUE;
}

static const char *dtype_words(const char *d)
{
  static const char *const names[][2] = {
    {"f2", "float16"}, {"f8", "float64"}, {"f4", "float32"}, {"i1", "int8"}, {"i2", "int16"}, {"i4", "int32"}, {"i8", "int64"}, {"u1", "uint8"}, {"u2", "uint16"}, {"u4", "uint32"}, {"u8", "uint64"}, {"b1", "bool"}, {"c8", "complex64"}, {"c16", "complex128"}, {"f16", "float128"}};
  const char *t = (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=') ? d + 1 : d;

  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(t, names[i][0])) return names[i][1];
  if (t[0] == 'U' || t[0] == 'S') return "strings";
  if (t[0] == 'M' || t[0] == 'm') return "dates/times";
  return "unsupported type";
}

/* Checks on the parsed header; the same on every rank. Sets *itemsize. */
static PetscErrorCode check_header(MPI_Comm comm, const char *path, const npy_header_t *h, int64_t filesize, int *itemsize)
{
  char    shape[256] = "(";
  int64_t n, d;

  PetscFunctionBeginUser;
  PetscCheck(strcmp(h->descr, "|O") && strcmp(h->descr, "O"), comm, PETSC_ERR_USER_INPUT, "%s: this .npy holds an object array (Python objects, dtype 'O'), not numbers; save a numeric array: numpy.save(f, numpy.asarray(X, dtype=numpy.float64))", path);
  PetscCheck(strcmp(h->descr, "structured"), comm, PETSC_ERR_USER_INPUT, "%s: this .npy holds a structured (record) array; save a plain 2-D float array, e.g. numpy.lib.recfunctions.structured_to_unstructured(X)", path);
  PetscCheck(strcmp(h->descr, ">f8") && strcmp(h->descr, ">f4"), comm, PETSC_ERR_USER_INPUT, "%s: the array is big-endian (dtype '%s'); save it little-endian: numpy.save(f, X.astype('<f8'))", path, h->descr);
  PetscCheck(!strcmp(h->descr, "<f8") || !strcmp(h->descr, "<f4"), comm, PETSC_ERR_USER_INPUT, "%s: dtype '%s' (%s) is not supported; phasemap reads float64 or float32 .npy files: save with numpy.save(f, X.astype(numpy.float64))", path, h->descr, dtype_words(h->descr));
  for (int i = 0; i < h->ndim; i++) {
    size_t l = strlen(shape);
    snprintf(shape + l, sizeof shape - l, "%s%" PRId64, i ? ", " : "", h->shape[i]);
  }
  PetscCall(PetscStrlcat(shape, h->ndim == 1 ? ",)" : ")", sizeof shape));
  PetscCheck(h->ndim == 2, comm, PETSC_ERR_USER_INPUT, "%s: the array has shape %s (%d-D); a feature matrix must be 2-D, N points x D features%s", path, shape, h->ndim, h->ndim == 1 ? " (for one feature save X.reshape(-1, 1))" : "");
  PetscCheck(!h->fortran, comm, PETSC_ERR_USER_INPUT, "%s: the array is stored in Fortran (column-major) order; save it in C order: numpy.save(f, numpy.ascontiguousarray(X))", path);
  n = h->shape[0];
  d = h->shape[1];
  PetscCall(pm_matrix_check_shape(comm, path, n, d));
  *itemsize = h->descr[2] == '8' ? 8 : 4;
  PetscCheck(n <= INT64_MAX / 16 / d, comm, PETSC_ERR_USER_INPUT, "%s: shape %s is too large", path, shape);
  PetscCheck(h->data_offset + n * d * *itemsize <= filesize, comm, PETSC_ERR_USER_INPUT, "%s: the .npy file is truncated: its header announces %" PRId64 " x %" PRId64 " %s values (%" PRId64 " bytes) but only %" PRId64 " bytes of data follow the header; write the file again", path, n, d,
             dtype_words(h->descr), n * d * *itemsize, filesize - h->data_offset);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0 reads the header, every rank gets the text and parses it. */
static PetscErrorCode get_header(MPI_Comm comm, const char *path, const pm_io_probe_t *probe, npy_header_t *h)
{
  int       rank;
  char     *text = NULL, why[PM_REASON_MAX] = "";
  int64_t   meta[2] = {0, 0}; /* text length, data offset */
  PetscBool ok = PETSC_TRUE;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(h, sizeof *h));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    ok = read_header_local(path, probe, &text, &meta[1], why, sizeof why);
    if (ok) meta[0] = (int64_t)strlen(text);
  }
  if (!ok) PetscCall(PetscFree(text));
  PetscCall(pm_agree(comm, ok, why));
  PetscCallMPI(MPI_Bcast(meta, 2, MPI_INT64_T, 0, comm));
  if (rank != 0) PetscCall(PetscMalloc1(meta[0] + 1, &text));
  PetscCallMPI(MPI_Bcast(text, (int)meta[0] + 1, MPI_CHAR, 0, comm));
  ok             = parse_header(text, h);
  h->data_offset = meta[1];
  PetscCall(PetscFree(text));
  PetscCheck(ok, comm, PETSC_ERR_USER_INPUT, "%s: cannot understand the .npy header (expected 'descr', 'fortran_order' and 'shape'); save the matrix with numpy.save()", path);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Collective chunked read of this rank's rows into buf (packed items of itemsize bytes).
 * Returns the MPI error string of the first failure in why (empty when all went well). */
static PetscErrorCode read_rows(MPI_Comm comm, MPI_File fh, const npy_header_t *h, int itemsize, const pm_rows_t *R, char *why, size_t len)
{
  int64_t      rowbytes = (int64_t)R->dim * itemsize, chunk = PetscMax(1, NPY_CHUNK / rowbytes), nch = (R->n_local + chunk - 1) / chunk, nmax;
  MPI_Datatype row;
  char        *buf = (char *)R->x;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(&nch, &nmax, 1, MPI_INT64_T, MPI_MAX, comm));
  PetscCallMPI(MPI_Type_contiguous(R->dim, itemsize == 8 ? MPI_DOUBLE : MPI_FLOAT, &row));
  PetscCallMPI(MPI_Type_commit(&row));
  for (int64_t c = 0; c < nmax; c++) {
    int64_t    r0 = PetscMin(c * chunk, R->n_local), nr = PetscMin(chunk, R->n_local - r0);
    MPI_Offset off = (MPI_Offset)(h->data_offset + (R->row_start + r0) * rowbytes);
    MPI_Status st;
    int        got = 0, rc, slen;

    rc = MPI_File_read_at_all(fh, off, buf + r0 * rowbytes, (int)nr, row, &st);
    if (rc == MPI_SUCCESS) MPI_Get_count(&st, row, &got);
    if (!why[0] && rc != MPI_SUCCESS) {
      char es[MPI_MAX_ERROR_STRING];
      MPI_Error_string(rc, es, &slen);
      snprintf(why, len, "MPI-IO read failed: %s", es);
    } else if (!why[0] && got != (int)nr) snprintf(why, len, "short read at rows %" PRId64 "..%" PRId64 " (the file changed or is truncated)", R->row_start + r0, R->row_start + r0 + nr - 1);
  }
  PetscCallMPI(MPI_Type_free(&row));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* float32 values packed at the start of x become doubles in place (from the end backwards). */
static void widen_floats(double *x, size_t n)
{
  for (size_t i = n; i-- > 0;) {
    float f;
    memcpy(&f, (char *)x + 4 * i, 4);
    x[i] = (double)f;
  }
}

PetscErrorCode pm_matrix_read_npy(MPI_Comm comm, const char *path, const pm_io_probe_t *probe, pm_rows_t **X)
{
  npy_header_t h;
  int          itemsize = 8, rc;
  MPI_File     fh;
  pm_rows_t   *R;
  char         why[PM_REASON_MAX] = "", msg[PM_REASON_MAX + PM_PATH_MAX];

  PetscFunctionBeginUser;
  PetscCall(get_header(comm, path, probe, &h));
  PetscCall(check_header(comm, path, &h, probe->size, &itemsize));
  rc = MPI_File_open(comm, path, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
  PetscCall(PetscSNPrintf(msg, sizeof msg, "%s: cannot open the file with MPI-IO on every rank; is it on a file system all ranks see?", path));
  PetscCall(pm_agree(comm, rc == MPI_SUCCESS ? PETSC_TRUE : PETSC_FALSE, msg));
  PetscCall(pm_rows_create(comm, h.shape[0], (int)h.shape[1], &R));
  PetscCall(read_rows(comm, fh, &h, itemsize, R, why, sizeof why));
  PetscCallMPI(MPI_File_close(&fh));
  PetscCall(PetscSNPrintf(msg, sizeof msg, "%s: %s", path, why));
  {
    PetscErrorCode err = pm_agree(comm, why[0] ? PETSC_FALSE : PETSC_TRUE, msg);
    if (err) PetscCall(pm_rows_destroy(&R));
    PetscCall(err);
  }
  if (itemsize == 4) widen_floats(R->x, (size_t)R->n_local * (size_t)R->dim);
  *X = R;
  PetscFunctionReturn(PETSC_SUCCESS);
}
