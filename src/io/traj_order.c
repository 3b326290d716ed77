/* Position of every atom in its frame sorted by id: ids are bucketed by value range over the
 * ranks (balanced for the usual ids 1..N), each bucket is sorted, and the ranks go back. */
#include "io/traj_impl.h"
#include <stdlib.h>

typedef struct {
  int64_t id, pos;
} idpos_t;

static int cmp_idpos(const void *a, const void *b)
{
  const idpos_t *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id ? 1
                                            : (x->pos < y->pos ? -1 : x->pos > y->pos);
}

static int bucket(int64_t id, int64_t lo, unsigned __int128 range, int size)
{
  return (int)((unsigned __int128)((__int128)id - lo) * (unsigned)size / range);
}

PetscErrorCode pm_traj_order(MPI_Comm comm, int64_t n_local, const int64_t *id, int64_t *order, int64_t *dup_id)
{
  int      size, *sc, *rc, *sd, *rd;
  int64_t  mm[2] = {INT64_MAX, INT64_MAX}, g[2], *sbuf, *rbuf, *slot, base = 0, nr;
  idpos_t *v;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  for (int64_t i = 0; i < n_local; i++) {
    mm[0] = PetscMin(mm[0], id[i]);
    mm[1] = PetscMin(mm[1], -id[i]);
  }
  PetscCallMPI(MPI_Allreduce(mm, g, 2, MPI_INT64_T, MPI_MIN, comm));
  unsigned __int128 range = (unsigned __int128)((__int128)(-g[1]) - (__int128)g[0] + 1);
  PetscCall(PetscCalloc4(size, &sc, size, &rc, size + 1, &sd, size + 1, &rd));
  PetscCall(PetscMalloc2(n_local + 1, &sbuf, n_local + 1, &slot));
  for (int64_t i = 0; i < n_local; i++) sc[bucket(id[i], g[0], range, size)]++;
  for (int r = 0; r < size; r++) sd[r + 1] = sd[r] + sc[r];
  for (int r = 0; r < size; r++) sc[r] = 0;
  for (int64_t i = 0; i < n_local; i++) {
    int r         = bucket(id[i], g[0], range, size);
    slot[i]       = sd[r] + sc[r]++;
    sbuf[slot[i]] = id[i];
  }
  PetscCallMPI(MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, comm));
  for (int r = 0; r < size; r++) rd[r + 1] = rd[r] + rc[r];
  nr = rd[size];
  PetscCall(PetscMalloc2(nr + 1, &rbuf, nr + 1, &v));
  PetscCallMPI(MPI_Alltoallv(sbuf, sc, sd, MPI_INT64_T, rbuf, rc, rd, MPI_INT64_T, comm));
  for (int64_t j = 0; j < nr; j++) v[j].id = rbuf[j], v[j].pos = j;
  qsort(v, (size_t)nr, sizeof *v, cmp_idpos);
  *dup_id = INT64_MIN;
  for (int64_t j = 1; j < nr && *dup_id == INT64_MIN; j++)
    if (v[j].id == v[j - 1].id) *dup_id = v[j].id;
  PetscCallMPI(MPI_Exscan(&nr, &base, 1, MPI_INT64_T, MPI_SUM, comm));
  {
    int rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0) base = 0;
  }
  for (int64_t j = 0; j < nr; j++) rbuf[v[j].pos] = base + j;
  PetscCallMPI(MPI_Alltoallv(rbuf, rc, rd, MPI_INT64_T, sbuf, sc, sd, MPI_INT64_T, comm));
  for (int64_t i = 0; i < n_local; i++) order[i] = sbuf[slot[i]];
  PetscCall(PetscFree2(rbuf, v));
  PetscCall(PetscFree2(sbuf, slot));
  PetscCall(PetscFree4(sc, rc, sd, rd));
  PetscFunctionReturn(PETSC_SUCCESS);
}
