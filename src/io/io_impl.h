/* Private helpers of the io module (matrix readers, trajectory reader, output writer).
 * Include only from src/io/. Keep small and stable: several files depend on it. */
#pragma once
#include <phasemap/io.h>
#include <hdf5.h>

/* Check an HDF5 call (HDF5 returns < 0 on failure). The error is raised on comm, so use it only
 * where every rank of comm reaches the same verdict (otherwise record and pm_agree). */
#define PM_CALL_H5(comm, path, expr) \
  do { \
    if ((expr) < 0) SETERRQ((comm), PETSC_ERR_LIB, "%s: HDF5 call failed: %s", (path), #expr); \
  } while (0)

/* What rank 0 found when it checked an input path (see pm_io_probe). */
typedef struct {
  int64_t       size;     /* bytes */
  unsigned char head[8];  /* first bytes (zero-padded when the file is shorter) */
  int           nhead;    /* bytes valid in head */
} pm_io_probe_t;

/* Rank 0 checks that path is an existing, readable regular file, and reads its size and first
 * bytes; the result is broadcast. Errors (missing, directory, unreadable) name the file and are
 * raised on every rank. Collective. */
PetscErrorCode pm_io_probe(MPI_Comm comm, const char *path, pm_io_probe_t *probe);

/* Format of a file from its first bytes: HDF5 signature, NumPy magic, otherwise text. */
pm_format_t pm_io_sniff(const pm_io_probe_t *probe);

/* Close an HDF5 identifier if valid (for cleanup paths; errors ignored). */
void pm_io_h5_close(hid_t *id);

/* Feature-matrix readers (src/io/matrix_*.c), called by pm_matrix_read after pm_io_probe.
 * Each returns the N x D matrix in the standard block layout (pm_rows_create). Collective. */
PetscErrorCode pm_matrix_read_h5(MPI_Comm comm, const char *path, const char *dataset, pm_rows_t **X);
PetscErrorCode pm_matrix_read_npy(MPI_Comm comm, const char *path, const pm_io_probe_t *probe, pm_rows_t **X);
PetscErrorCode pm_matrix_read_text(MPI_Comm comm, const char *path, const pm_io_probe_t *probe, pm_rows_t **X);
/* Shape checks shared by the readers (same verdict on every rank): D >= 1, N >= 3. */
PetscErrorCode pm_matrix_check_shape(MPI_Comm comm, const char *path, int64_t n, int64_t d);
