/* Contiguous block distribution of rows over ranks, and the row-block matrix type. */
#include <phasemap/core.h>

void pm_block_range(pm_gidx_t n, int size, int rank, pm_gidx_t *start, pm_gidx_t *count)
{
  pm_gidx_t q = n / size, r = n % size;

  *count = q + (rank < r ? 1 : 0);
  *start = rank * q + (rank < r ? rank : r);
}

int pm_block_owner(pm_gidx_t n, int size, pm_gidx_t g)
{
  pm_gidx_t q = n / size, r = n % size, big = r * (q + 1);

  if (g < big) return (int)(g / (q + 1));
  return (int)(r + (g - big) / q);
}

PetscErrorCode pm_rows_create_layout(MPI_Comm comm, pm_gidx_t n_global, pm_gidx_t row_start, pm_gidx_t n_local, int dim, pm_rows_t **rows)
{
  pm_rows_t *R;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&R));
  R->comm      = comm;
  R->n_global  = n_global;
  R->row_start = row_start;
  R->n_local   = n_local;
  R->dim       = dim;
  PetscCall(PetscCalloc1((size_t)(n_local * dim) + 1, &R->x));
  *rows = R;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_rows_create(MPI_Comm comm, pm_gidx_t n_global, int dim, pm_rows_t **rows)
{
  int       rank, size;
  pm_gidx_t start, count;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  pm_block_range(n_global, size, rank, &start, &count);
  PetscCall(pm_rows_create_layout(comm, n_global, start, count, dim, rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_rows_destroy(pm_rows_t **rows)
{
  PetscFunctionBeginUser;
  if (!*rows) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*rows)->x));
  PetscCall(PetscFree(*rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_layout_starts(MPI_Comm comm, pm_gidx_t n_local, pm_gidx_t **starts)
{
  int        size;
  pm_gidx_t *s;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc1(size + 1, &s));
  PetscCallMPI(MPI_Allgather(&n_local, 1, MPI_INT64_T, s + 1, 1, MPI_INT64_T, comm));
  s[0] = 0;
  for (int r = 0; r < size; r++) s[r + 1] += s[r];
  *starts = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}
