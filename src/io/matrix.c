/* pm_matrix_read: check the input path, pick the reader (HDF5, .npy, text), then check what every
 * stage relies on: N >= 3, D >= 1, every value finite. */
#include "io/io_impl.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const unsigned char h5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
static const unsigned char npy_magic[6]    = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* Rank 0's look at the file; returns PETSC_FALSE with a message when it cannot be read. */
static PetscBool probe_local(const char *path, pm_io_probe_t *probe, char *why, size_t len)
{
  struct stat st;
  FILE       *f;

  if (stat(path, &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) snprintf(why, len, "input file '%s' does not exist; check the -input path", path);
    else snprintf(why, len, "input file '%s' cannot be accessed (%s); check the -input path and its permissions", path, strerror(errno));
    return PETSC_FALSE;
  }
  if (S_ISDIR(st.st_mode)) {
    snprintf(why, len, "input '%s' is a directory, not a file; give the matrix file itself with -input", path);
    return PETSC_FALSE;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, len, "input '%s' is not a regular file; give a .h5, .npy or text file with -input", path);
    return PETSC_FALSE;
  }
  f = fopen(path, "rb");
  if (!f) {
    snprintf(why, len, "input file '%s' cannot be opened for reading (%s); check its permissions", path, strerror(errno));
    return PETSC_FALSE;
  }
  probe->size  = (int64_t)st.st_size;
  probe->nhead = (int)fread(probe->head, 1, sizeof probe->head, f);
  if (ferror(f)) {
    snprintf(why, len, "input file '%s' cannot be read (%s)", path, strerror(errno));
    fclose(f);
    return PETSC_FALSE;
  }
  fclose(f);
  return PETSC_TRUE;
}

PetscErrorCode pm_io_probe(MPI_Comm comm, const char *path, pm_io_probe_t *probe)
{
  int       rank;
  PetscBool ok = PETSC_TRUE;
  char      why[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  PetscCheck(path && path[0], comm, PETSC_ERR_USER_INPUT, "no input file given; use -input <file.h5|file.npy|file.txt>");
  PetscCall(PetscMemzero(probe, sizeof *probe));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) ok = probe_local(path, probe, why, sizeof why);
  PetscCall(pm_agree(comm, ok, why));
  PetscCallMPI(MPI_Bcast(&probe->size, 1, MPI_INT64_T, 0, comm));
  PetscCallMPI(MPI_Bcast(&probe->nhead, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(probe->head, (int)sizeof probe->head, MPI_UNSIGNED_CHAR, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

pm_format_t pm_io_sniff(const pm_io_probe_t *probe)
{
  if (probe->nhead >= 8 && !memcmp(probe->head, h5_signature, 8)) return PM_FMT_H5;
  if (probe->nhead >= 6 && !memcmp(probe->head, npy_magic, 6)) return PM_FMT_NPY;
  return PM_FMT_TEXT;
}

void pm_io_h5_close(hid_t *id)
{
  if (*id < 0) return;
  switch (H5Iget_type(*id)) {
  case H5I_FILE: H5Fclose(*id); break;
  case H5I_GROUP: H5Gclose(*id); break;
  case H5I_DATASET: H5Dclose(*id); break;
  case H5I_DATASPACE: H5Sclose(*id); break;
  case H5I_DATATYPE: H5Tclose(*id); break;
  case H5I_ATTR: H5Aclose(*id); break;
  case H5I_GENPROP_LST: H5Pclose(*id); break;
  default: break;
  }
  *id = H5I_INVALID_HID;
}

PetscErrorCode pm_matrix_check_shape(MPI_Comm comm, const char *path, int64_t n, int64_t d)
{
  PetscFunctionBeginUser;
  PetscCheck(d >= 1, comm, PETSC_ERR_USER_INPUT, "%s: the matrix has %" PRId64 " rows but 0 columns (features); each row must hold at least one feature", path, n);
  PetscCheck(d <= INT32_MAX, comm, PETSC_ERR_USER_INPUT, "%s: %" PRId64 " columns is more than phasemap supports (%d)", path, d, INT32_MAX);
  PetscCheck(n >= 3, comm, PETSC_ERR_USER_INPUT, "%s: the matrix has %" PRId64 " rows (points); phasemap needs at least 3 points", path, n);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Blocks rows are in global order, so the lowest failing rank holds the globally first bad value. */
static PetscErrorCode check_finite(const char *path, const pm_rows_t *X)
{
  char      why[PM_REASON_MAX] = "";
  PetscBool ok                 = PETSC_TRUE;
  size_t    n                  = (size_t)X->n_local * (size_t)X->dim;

  PetscFunctionBeginUser;
  for (size_t i = 0; i < n && ok; i++) {
    if (isfinite(X->x[i])) continue;
    int64_t row = X->row_start + (int64_t)(i / (size_t)X->dim);
    int     col = (int)(i % (size_t)X->dim);
    ok          = PETSC_FALSE;
    PetscCall(PetscSNPrintf(why, sizeof why, "%s: row %" PRId64 ", column %d (both 0-based, X[%" PRId64 ", %d] in NumPy) is %s; phasemap needs finite features: remove or impute that row", path, row, col, row, col,
                            isnan(X->x[i]) ? "NaN" : (X->x[i] > 0 ? "+Inf" : "-Inf")));
  }
  PetscCall(pm_agree(X->comm, ok, why));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode get_event(const char *name, PetscLogEvent *ev)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventGetId(name, ev));
  if (*ev < 0) PetscCall(PetscLogEventRegister(name, PETSC_OBJECT_CLASSID, ev));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_matrix_read(MPI_Comm comm, const char *path, pm_format_t fmt, const char *dataset, pm_rows_t **X)
{
  pm_io_probe_t probe;
  PetscLogEvent ev;
  pm_rows_t    *R = NULL;

  PetscFunctionBeginUser;
  *X = NULL;
  PetscCall(get_event("PmMatrixRead", &ev));
  PetscCall(PetscLogEventBegin(ev, 0, 0, 0, 0));
  PetscCall(pm_io_probe(comm, path, &probe));
  if (fmt == PM_FMT_AUTO) fmt = pm_io_sniff(&probe);
  switch (fmt) {
  case PM_FMT_H5: PetscCall(pm_matrix_read_h5(comm, path, dataset && dataset[0] ? dataset : "/X", &R)); break;
  case PM_FMT_NPY: PetscCall(pm_matrix_read_npy(comm, path, &probe, &R)); break;
  case PM_FMT_TEXT: PetscCall(pm_matrix_read_text(comm, path, &probe, &R)); break;
  default: SETERRQ(comm, PETSC_ERR_USER_INPUT, "%s: a trajectory is not a feature matrix; it is read with pm_traj_open (descriptors stage)", path);
  }
  PetscCall(pm_matrix_check_shape(comm, path, R->n_global, R->dim));
  {
    PetscErrorCode err = check_finite(path, R);
    if (err) PetscCall(pm_rows_destroy(&R));
    PetscCall(err);
  }
  PetscCall(PetscLogEventEnd(ev, 0, 0, 0, 0));
  *X = R;
  PetscFunctionReturn(PETSC_SUCCESS);
}
