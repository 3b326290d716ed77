/* HDF5 feature matrices: parallel HDF5 (MPI-IO file driver); each rank reads its own block of
 * rows with a collective hyperslab read, converted by HDF5 to double (float and integer datasets). */
#include "io/io_impl.h"
#include <string.h>

#define H5_CHUNK_BYTES (1 << 28) /* bytes per collective read call (MPI-IO stays below 2 GiB) */
#define H5_LIST_MAX    8         /* datasets named when the requested one is missing */

typedef struct {
  hid_t fapl, file, dset, fspace, mspace, type, dxpl;
} h5_handles_t;

typedef struct {
  char text[600];
  int  n;
} h5_listing_t;

/* H5Lvisit callback: append "name (a x b)" for every dataset, at most H5_LIST_MAX. */
static herr_t list_one(hid_t group, const char *name, const H5L_info_t *info, void *op)
{
  h5_listing_t *L = (h5_listing_t *)op;
  hid_t         d, s;
  hsize_t       dims[8];
  int           nd;
  size_t        l = strlen(L->text);

  if (info->type != H5L_TYPE_HARD) return 0;
  d = H5Dopen2(group, name, H5P_DEFAULT);
  if (d < 0) return 0; /* a group */
  s  = H5Dget_space(d);
  nd = s >= 0 ? H5Sget_simple_extent_dims(s, dims, NULL) : -1;
  if (L->n < H5_LIST_MAX) {
    snprintf(L->text + l, sizeof L->text - l, "%s/%s (", L->n ? ", " : "", name);
    for (int i = 0; i < nd && i < 8; i++) {
      l = strlen(L->text);
      snprintf(L->text + l, sizeof L->text - l, "%s%llu", i ? " x " : "", (unsigned long long)dims[i]);
    }
    l = strlen(L->text);
    snprintf(L->text + l, sizeof L->text - l, ")");
  } else snprintf(L->text + l, sizeof L->text - l, ", ...");
  L->n++;
  if (s >= 0) H5Sclose(s);
  H5Dclose(d);
  return L->n > H5_LIST_MAX; /* a positive value ends the visit: big files stay fast */
}

/* Open the dataset or fail with a message that lists what the file holds. Same on every rank. */
static PetscErrorCode open_dataset(MPI_Comm comm, const char *path, const char *dataset, h5_handles_t *h)
{
  h5_listing_t L;
  htri_t       exists = 1;
  char         prefix[PM_PATH_MAX];

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&L, sizeof L));
  /* H5Lexists needs every parent to exist: check the path one component at a time. */
  for (size_t i = 1, n = strlen(dataset); i <= n && exists > 0; i++) {
    if (dataset[i] != '/' && dataset[i] != 0) continue;
    PetscCall(PetscStrncpy(prefix, dataset, PetscMin(i + 1, sizeof prefix)));
    if (strcmp(prefix, "/")) exists = H5Lexists(h->file, prefix, H5P_DEFAULT);
  }
  if (exists > 0) h->dset = H5Dopen2(h->file, dataset, H5P_DEFAULT);
  if (h->dset >= 0) PetscFunctionReturn(PETSC_SUCCESS);
  H5Lvisit(h->file, H5_INDEX_NAME, H5_ITER_INC, list_one, &L);
  if (exists > 0) SETERRQ(comm, PETSC_ERR_USER_INPUT, "%s: '%s' is a group or another object, not a dataset; the file holds %s; choose one with -input_dataset", path, dataset, L.n ? L.text : "no datasets");
  SETERRQ(comm, PETSC_ERR_USER_INPUT, "%s: no dataset '%s'; the file holds %s; choose one with -input_dataset", path, dataset, L.n ? L.text : "no datasets");
}

static const char *class_words(H5T_class_t c)
{
  switch (c) {
  case H5T_STRING: return "strings";
  case H5T_COMPOUND: return "a compound (table) type";
  case H5T_ENUM: return "an enum type";
  case H5T_BITFIELD: return "a bitfield type";
  case H5T_OPAQUE: return "an opaque type";
  case H5T_REFERENCE: return "references";
  case H5T_VLEN: return "variable-length data";
  case H5T_ARRAY: return "an array type";
  default: return "a non-numeric type";
  }
}

/* Shape and element class checks; returns N and D. */
static PetscErrorCode check_dataset(MPI_Comm comm, const char *path, const char *dataset, h5_handles_t *h, int64_t *n, int64_t *d)
{
  hsize_t     dims[H5S_MAX_RANK];
  int         nd;
  H5T_class_t cls;
  char        shape[256] = "(";

  PetscFunctionBeginUser;
  PM_CALL_H5(comm, path, h->fspace = H5Dget_space(h->dset));
  PM_CALL_H5(comm, path, nd = H5Sget_simple_extent_dims(h->fspace, dims, NULL));
  PM_CALL_H5(comm, path, h->type = H5Dget_type(h->dset));
  PM_CALL_H5(comm, path, cls = H5Tget_class(h->type));
  PetscCheck(cls == H5T_FLOAT || cls == H5T_INTEGER, comm, PETSC_ERR_USER_INPUT, "%s: dataset '%s' holds %s, not numbers; store the features as a float or integer 2-D dataset", path, dataset, class_words(cls));
  for (int i = 0; i < nd; i++) {
    size_t l = strlen(shape);
    snprintf(shape + l, sizeof shape - l, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
  }
  PetscCall(PetscStrlcat(shape, nd == 1 ? ",)" : ")", sizeof shape));
  PetscCheck(nd == 2, comm, PETSC_ERR_USER_INPUT, "%s: dataset '%s' has shape %s (%d-D); a feature matrix must be 2-D, N points x D features%s", path, dataset, shape, nd, nd == 1 ? " (for one feature store it as N x 1)" : "");
  *n = (int64_t)dims[0];
  *d = (int64_t)dims[1];
  PetscCall(pm_matrix_check_shape(comm, path, *n, *d));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Collective chunked hyperslab reads of this rank's rows; *ok is this rank's verdict. */
static PetscErrorCode read_rows(MPI_Comm comm, h5_handles_t *h, pm_rows_t *R, PetscBool *ok)
{
  int64_t chunk = PetscMax(1, H5_CHUNK_BYTES / (8 * (int64_t)R->dim)), nch = (R->n_local + chunk - 1) / chunk, nmax;
  hsize_t mdims[2] = {(hsize_t)PetscMax(1, PetscMin(chunk, R->n_local)), (hsize_t)R->dim};

  PetscFunctionBeginUser;
  *ok = PETSC_TRUE;
  PetscCallMPI(MPI_Allreduce(&nch, &nmax, 1, MPI_INT64_T, MPI_MAX, comm));
  h->dxpl   = H5Pcreate(H5P_DATASET_XFER);
  h->mspace = H5Screate_simple(2, mdims, NULL);
  if (h->dxpl < 0 || h->mspace < 0 || H5Pset_dxpl_mpio(h->dxpl, H5FD_MPIO_COLLECTIVE) < 0) *ok = PETSC_FALSE;
  for (int64_t c = 0; c < nmax && *ok; c++) {
    int64_t r0 = PetscMin(c * chunk, R->n_local), nr = PetscMin(chunk, R->n_local - r0);
    hsize_t fstart[2] = {(hsize_t)(R->row_start + r0), 0}, cnt[2] = {(hsize_t)nr, (hsize_t)R->dim}, zero[2] = {0, 0};
    herr_t  e1, e2;
    if (nr > 0) {
      e1 = H5Sselect_hyperslab(h->fspace, H5S_SELECT_SET, fstart, NULL, cnt, NULL);
      e2 = H5Sselect_hyperslab(h->mspace, H5S_SELECT_SET, zero, NULL, cnt, NULL);
    } else {
      e1 = H5Sselect_none(h->fspace);
      e2 = H5Sselect_none(h->mspace);
    }
    /* every rank takes part in each collective read, even with an empty selection */
    if (H5Dread(h->dset, H5T_NATIVE_DOUBLE, h->mspace, h->fspace, h->dxpl, R->x + r0 * R->dim) < 0 || e1 < 0 || e2 < 0) *ok = PETSC_FALSE;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode read_h5(MPI_Comm comm, const char *path, const char *dataset, h5_handles_t *h, pm_rows_t **X)
{
  int64_t   n = 0, d = 0;
  PetscBool ok;
  char      msg[PM_REASON_MAX];

  PetscFunctionBeginUser;
  PM_CALL_H5(comm, path, H5Eset_auto2(H5E_DEFAULT, NULL, NULL)); /* our messages replace HDF5's error stack dump */
  PM_CALL_H5(comm, path, h->fapl = H5Pcreate(H5P_FILE_ACCESS));
  PM_CALL_H5(comm, path, H5Pset_fapl_mpio(h->fapl, comm, MPI_INFO_NULL));
  h->file = H5Fopen(path, H5F_ACC_RDONLY, h->fapl);
  PetscCall(PetscSNPrintf(msg, sizeof msg, "%s: cannot be opened as an HDF5 file (damaged, or not HDF5); give .npy or text matrices a .npy/.txt/.csv name or set -input_format", path));
  PetscCall(pm_agree(comm, h->file >= 0 ? PETSC_TRUE : PETSC_FALSE, msg));
  PetscCall(open_dataset(comm, path, dataset, h));
  PetscCall(check_dataset(comm, path, dataset, h, &n, &d));
  PetscCall(pm_rows_create(comm, n, (int)d, X));
  PetscCall(read_rows(comm, h, *X, &ok));
  PetscCall(PetscSNPrintf(msg, sizeof msg, "%s: reading dataset '%s' failed (damaged file?)", path, dataset));
  PetscCall(pm_agree(comm, ok, msg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_matrix_read_h5(MPI_Comm comm, const char *path, const char *dataset, pm_rows_t **X)
{
  h5_handles_t   h = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
  PetscErrorCode err;
  pm_rows_t     *R = NULL;

  PetscFunctionBeginUser;
  err = read_h5(comm, path, dataset, &h, &R);
  /* close on every path (all ranks reach here together: every failure above was agreed) */
  pm_io_h5_close(&h.dxpl);
  pm_io_h5_close(&h.mspace);
  pm_io_h5_close(&h.type);
  pm_io_h5_close(&h.fspace);
  pm_io_h5_close(&h.dset);
  pm_io_h5_close(&h.file);
  pm_io_h5_close(&h.fapl);
  if (err) PetscCall(pm_rows_destroy(&R));
  PetscCall(err);
  *X = R;
  PetscFunctionReturn(PETSC_SUCCESS);
}
