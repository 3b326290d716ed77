/* Raw-file helpers shared by the C test drivers that exchange data with their Python scripts. */
#pragma once
#include <phasemap/core.h>
#include <stdio.h>

/* Read rows [start, start + count) of a row-major raw file <dir>/<name> of ncol elements of esize
 * bytes per row into buf. Not collective. */
static inline PetscErrorCode pm_test_read_rows(const char *dir, const char *name, size_t esize, pm_gidx_t start, pm_gidx_t count, int ncol, void *buf)
{
  char  path[PETSC_MAX_PATH_LEN];
  FILE *f;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, sizeof path, "%s/%s", dir, name));
  f = fopen(path, "rb");
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open %s", path);
  PetscCheck(fseek(f, (long)(start * ncol * esize), SEEK_SET) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "seek %s", path);
  PetscCheck(fread(buf, esize, (size_t)(count * ncol), f) == (size_t)(count * ncol), PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "short read %s", path);
  fclose(f);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Gather n_local values of esize bytes from every rank (N in all) to rank 0 and write them to
 * <dir>/<name>. Collective; test-size data only. */
static inline PetscErrorCode pm_test_dump(MPI_Comm comm, const char *dir, const char *name, const void *v, size_t esize, pm_gidx_t n_local, pm_gidx_t N)
{
  int   rank, size, *cnt, *dsp, my = (int)(n_local * esize);
  char *all = NULL, path[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc2(size, &cnt, size + 1, &dsp));
  PetscCallMPI(MPI_Gather(&my, 1, MPI_INT, cnt, 1, MPI_INT, 0, comm));
  dsp[0] = 0;
  for (int r = 0; r < size; r++) dsp[r + 1] = dsp[r] + (rank == 0 ? cnt[r] : 0);
  if (rank == 0) PetscCall(PetscMalloc1(N * esize + 1, &all));
  PetscCallMPI(MPI_Gatherv(v, my, MPI_BYTE, all, cnt, dsp, MPI_BYTE, 0, comm));
  if (rank == 0) {
    FILE *f;
    PetscCall(PetscSNPrintf(path, sizeof path, "%s/%s", dir, name));
    f = fopen(path, "wb");
    PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", path);
    PetscCheck(fwrite(all, esize, (size_t)N, f) == (size_t)N, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "short write %s", path);
    fclose(f);
    PetscCall(PetscFree(all));
  }
  PetscCall(PetscFree2(cnt, dsp));
  PetscFunctionReturn(PETSC_SUCCESS);
}
