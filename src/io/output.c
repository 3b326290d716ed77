/* The output file: one HDF5 file written collectively by all ranks (parallel HDF5) under
 * <path>.partial, renamed to <path> by pm_output_commit after the 'complete' attribute. */
#include <phasemap/io.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#define OUT_H5(out, expr) \
  do { \
    if ((expr) < 0) SETERRQ((out)->comm, PETSC_ERR_LIB, "%s: HDF5 call failed: %s", (out)->partial, #expr); \
  } while (0)

struct pm_output {
  MPI_Comm comm;
  char     path[PM_PATH_MAX];
  char     partial[PM_PATH_MAX + 16];
  hid_t    file;
  int      compress;
  int      rank;
};

static hid_t h5_type(pm_dtype_t t)
{
  switch (t) {
  case PM_T_DOUBLE:
    return H5T_NATIVE_DOUBLE;
  case PM_T_INT64:
    return H5T_NATIVE_INT64;
  case PM_T_INT32:
    return H5T_NATIVE_INT32;
  case PM_T_FLOAT:
    return H5T_NATIVE_FLOAT;
  }
  return H5T_NATIVE_DOUBLE;
}

static hid_t file_type(pm_dtype_t t)
{
  switch (t) {
  case PM_T_DOUBLE:
    return H5T_IEEE_F64LE;
  case PM_T_INT64:
    return H5T_STD_I64LE;
  case PM_T_INT32:
    return H5T_STD_I32LE;
  case PM_T_FLOAT:
    return H5T_IEEE_F32LE;
  }
  return H5T_IEEE_F64LE;
}

PetscErrorCode pm_output_open(MPI_Comm comm, const char *path, PetscBool force, pm_output_t **out)
{
  pm_output_t *o;
  hid_t        fapl;
  int          exists = 0;
  char         why[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  *out = NULL;
  PetscCheck(path && path[0], comm, PETSC_ERR_USER_INPUT, "no output file given; add -output FILE.h5");
  PetscCheck(strlen(path) < PM_PATH_MAX, comm, PETSC_ERR_USER_INPUT, "-output: path too long");
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  PetscCall(PetscNew(&o));
  o->comm = comm;
  o->file = -1;
  PetscCallMPI(MPI_Comm_rank(comm, &o->rank));
  PetscCall(PetscStrncpy(o->path, path, sizeof o->path));
  PetscCall(PetscSNPrintf(o->partial, sizeof o->partial, "%s.partial", path));
  if (o->rank == 0) exists = access(path, F_OK) == 0;
  PetscCallMPI(MPI_Bcast(&exists, 1, MPI_INT, 0, comm));
  if (exists && !force) {
    PetscCall(PetscFree(o));
    SETERRQ(comm, PETSC_ERR_USER_INPUT, "output file %s exists; remove it, choose another -output, or add -force to overwrite it", path);
  }
  PetscCheck(H5open() >= 0, comm, PETSC_ERR_LIB, "HDF5 library failed to initialise");
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  PetscCheck(fapl >= 0 && H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) >= 0, comm, PETSC_ERR_LIB, "HDF5: cannot set MPI-IO file access");
  o->file = H5Fcreate(o->partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (o->file < 0) {
    PetscCall(PetscSNPrintf(why, sizeof why, "cannot create output file %s (%s); check that the directory exists and is writable", o->partial, strerror(errno)));
    PetscCall(PetscFree(o));
    SETERRQ(comm, PETSC_ERR_FILE_OPEN, "%s", why);
  }
  *out = o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_output_set_compression(pm_output_t *out, int level)
{
  PetscFunctionBeginUser;
  out->compress = level < 0 ? 0 : (level > 9 ? 9 : level);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static hid_t link_props(void)
{
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  if (lcpl >= 0) H5Pset_create_intermediate_group(lcpl, 1);
  return lcpl;
}

/* Open object `obj` (dataset or group), creating it (and parents) as a group if missing. */
static PetscErrorCode open_object(pm_output_t *out, const char *obj, hid_t *id)
{
  PetscFunctionBeginUser;
  if (!obj || !obj[0] || !strcmp(obj, "/")) {
    *id = H5Oopen(out->file, "/", H5P_DEFAULT);
  } else if (H5Lexists(out->file, obj, H5P_DEFAULT) > 0) {
    *id = H5Oopen(out->file, obj, H5P_DEFAULT);
  } else {
    hid_t lcpl = link_props();
    *id        = H5Gcreate2(out->file, obj, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
  }
  PetscCheck(*id >= 0, out->comm, PETSC_ERR_LIB, "%s: cannot open or create %s", out->partial, obj);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_attr(pm_output_t *out, const char *obj, const char *name, hid_t ftype, hid_t mtype, hsize_t n, const void *v)
{
  hid_t id, space, attr;

  PetscFunctionBeginUser;
  PetscCall(open_object(out, obj, &id));
  if (H5Aexists(id, name) > 0) OUT_H5(out, H5Adelete(id, name));
  space = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
  OUT_H5(out, space);
  attr = H5Acreate2(id, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
  OUT_H5(out, attr);
  OUT_H5(out, H5Awrite(attr, mtype, v));
  OUT_H5(out, H5Aclose(attr));
  OUT_H5(out, H5Sclose(space));
  OUT_H5(out, H5Oclose(id));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_output_attr_double(pm_output_t *out, const char *obj, const char *name, double v)
{
  PetscFunctionBeginUser;
  PetscCall(write_attr(out, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_output_attr_int(pm_output_t *out, const char *obj, const char *name, int64_t v)
{
  PetscFunctionBeginUser;
  PetscCall(write_attr(out, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_output_attr_doubles(pm_output_t *out, const char *obj, const char *name, int n, const double *v)
{
  PetscFunctionBeginUser;
  PetscCheck(n > 0, out->comm, PETSC_ERR_ARG_OUTOFRANGE, "attribute %s: empty array", name);
  PetscCall(write_attr(out, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (hsize_t)n, v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_output_attr_string(pm_output_t *out, const char *obj, const char *name, const char *v)
{
  hid_t  t;
  size_t len = strlen(v ? v : "");

  PetscFunctionBeginUser;
  t = H5Tcopy(H5T_C_S1);
  OUT_H5(out, t);
  OUT_H5(out, H5Tset_size(t, len > 0 ? len : 1));
  OUT_H5(out, H5Tset_strpad(t, H5T_STR_NULLTERM));
  PetscCall(write_attr(out, obj, name, t, t, 0, len > 0 ? v : ""));
  OUT_H5(out, H5Tclose(t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Create dataset `name` of the given global shape (chunked + deflate when compression is on and
 * the dataset is large enough); parents are created. */
static PetscErrorCode create_dataset(pm_output_t *out, const char *name, pm_dtype_t type, int ndims, const hsize_t *dims, hid_t *dset, hid_t *fspace)
{
  hid_t    lcpl = link_props(), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t  total = 1;
  hsize_t  chunk[2];

  PetscFunctionBeginUser;
  for (int d = 0; d < ndims; d++) total *= dims[d];
  if (H5Lexists(out->file, name, H5P_DEFAULT) > 0) SETERRQ(out->comm, PETSC_ERR_PLIB, "%s: dataset %s written twice", out->partial, name);
  *fspace = H5Screate_simple(ndims, dims, NULL);
  OUT_H5(out, *fspace);
  if (out->compress > 0 && total >= 4096 && dims[0] > 0) {
    hsize_t rowlen = ndims == 2 ? (dims[1] ? dims[1] : 1) : 1;
    chunk[0]       = (hsize_t)(1 << 20) / (rowlen * 8) + 1;
    if (chunk[0] > dims[0]) chunk[0] = dims[0];
    if (ndims == 2) chunk[1] = dims[1] ? dims[1] : 1;
    OUT_H5(out, H5Pset_chunk(dcpl, ndims, chunk));
    OUT_H5(out, H5Pset_deflate(dcpl, (unsigned)out->compress));
  }
  *dset = H5Dcreate2(out->file, name, file_type(type), *fspace, lcpl, dcpl, H5P_DEFAULT);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  PetscCheck(*dset >= 0, out->comm, PETSC_ERR_LIB, "%s: cannot create dataset %s", out->partial, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode collective_write(pm_output_t *out, hid_t dset, hid_t fspace, pm_dtype_t type, int ndims, const hsize_t *start, const hsize_t *count, const void *data)
{
  hid_t   mspace, dxpl;
  hsize_t n = 1;

  PetscFunctionBeginUser;
  for (int d = 0; d < ndims; d++) n *= count[d];
  if (n > 0) {
    OUT_H5(out, H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
    mspace = H5Screate_simple(1, &n, NULL);
  } else {
    hsize_t one = 1;
    OUT_H5(out, H5Sselect_none(fspace));
    mspace = H5Screate_simple(1, &one, NULL);
    OUT_H5(out, mspace);
    OUT_H5(out, H5Sselect_none(mspace));
  }
  OUT_H5(out, mspace);
  dxpl = H5Pcreate(H5P_DATASET_XFER);
  OUT_H5(out, dxpl);
  OUT_H5(out, H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  OUT_H5(out, H5Dwrite(dset, h5_type(type), mspace, fspace, dxpl, data));
  OUT_H5(out, H5Pclose(dxpl));
  OUT_H5(out, H5Sclose(mspace));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_output_write_rows(pm_output_t *out, const char *name, pm_dtype_t type, pm_gidx_t n_global, pm_gidx_t row_start, pm_gidx_t n_local, int ncols, const void *data)
{
  int     ndims = ncols > 0 ? 2 : 1;
  hsize_t dims[2], start[2] = {0, 0}, count[2];
  hid_t   dset, fspace;

  PetscFunctionBeginUser;
  dims[0]  = (hsize_t)n_global;
  dims[1]  = (hsize_t)(ncols > 0 ? ncols : 1);
  start[0] = (hsize_t)row_start;
  count[0] = (hsize_t)n_local;
  count[1] = dims[1];
  PetscCall(create_dataset(out, name, type, ndims, dims, &dset, &fspace));
  PetscCall(collective_write(out, dset, fspace, type, ndims, start, count, data));
  OUT_H5(out, H5Sclose(fspace));
  OUT_H5(out, H5Dclose(dset));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_output_write_small(pm_output_t *out, const char *name, pm_dtype_t type, int ndims, const int64_t *dims, const void *data)
{
  hsize_t d[2], start[2] = {0, 0}, count[2] = {0, 0};
  hid_t   dset, fspace;

  PetscFunctionBeginUser;
  PetscCheck(ndims == 1 || ndims == 2, out->comm, PETSC_ERR_ARG_OUTOFRANGE, "dataset %s: ndims must be 1 or 2", name);
  for (int k = 0; k < ndims; k++) {
    d[k]     = (hsize_t)dims[k];
    count[k] = out->rank == 0 ? d[k] : 0;
  }
  PetscCall(create_dataset(out, name, type, ndims, d, &dset, &fspace));
  PetscCall(collective_write(out, dset, fspace, type, ndims, start, count, data));
  OUT_H5(out, H5Sclose(fspace));
  OUT_H5(out, H5Dclose(dset));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_output_commit(pm_output_t **out)
{
  pm_output_t *o = *out;
  int          ok = 1;
  char         why[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  if (!o) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pm_output_attr_int(o, "/", "complete", 1));
  OUT_H5(o, H5Fclose(o->file));
  o->file = -1;
  PetscCallMPI(MPI_Barrier(o->comm));
  if (o->rank == 0 && rename(o->partial, o->path) != 0) {
    ok = 0;
    PetscCall(PetscSNPrintf(why, sizeof why, "cannot rename %s to %s: %s", o->partial, o->path, strerror(errno)));
  }
  PetscCall(pm_agree(o->comm, ok ? PETSC_TRUE : PETSC_FALSE, why));
  PetscCall(PetscFree(*out));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_output_discard(pm_output_t **out)
{
  pm_output_t *o = *out;

  PetscFunctionBeginUser;
  if (!o) PetscFunctionReturn(PETSC_SUCCESS);
  if (o->file >= 0) H5Fclose(o->file); /* best effort: we are already failing */
  MPI_Barrier(o->comm);
  if (o->rank == 0) unlink(o->partial);
  PetscCall(PetscFree(*out));
  PetscFunctionReturn(PETSC_SUCCESS);
}
