/* Bulk fetch of rows of a distributed table by global index: one all-to-all, requests deduplicated. */
#include <phasemap/core.h>
#include <stdlib.h>
#include <string.h>

static int cmp_gidx(const void *a, const void *b)
{
  pm_gidx_t x = *(const pm_gidx_t *)a, y = *(const pm_gidx_t *)b;
  return (x > y) - (x < y);
}

static pm_gidx_t find_sorted(const pm_gidx_t *v, pm_gidx_t n, pm_gidx_t key)
{
  pm_gidx_t lo = 0, hi = n - 1;
  while (lo < hi) {
    pm_gidx_t mid = lo + (hi - lo) / 2;
    if (v[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static PetscErrorCode to_int(MPI_Comm comm, pm_gidx_t v, int *out)
{
  PetscFunctionBeginUser;
  PetscCheck(v >= 0 && v <= INT32_MAX, comm, PETSC_ERR_SUP, "pm_fetch_rows: message of %" PRId64 " rows exceeds the MPI count limit; use more ranks", v);
  *out = (int)v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_fetch_rows_layout(MPI_Comm comm, const pm_gidx_t *starts, const void *local, size_t elem_size, int width, pm_gidx_t n_req, const pm_gidx_t *want, void *out)
{
  int           rank, size, *scnt, *sdsp, *rcnt, *rdsp;
  pm_gidx_t    *uniq, nu = 0, *recv_idx, nrecv = 0;
  char         *send_rows, *recv_rows;
  size_t        rowbytes = elem_size * (size_t)width;
  MPI_Datatype  rowtype;
  const char   *loc = (const char *)local;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc1(n_req + 1, &uniq));
  if (n_req) memcpy(uniq, want, (size_t)n_req * sizeof *uniq);
  qsort(uniq, (size_t)n_req, sizeof *uniq, cmp_gidx);
  for (pm_gidx_t r = 0; r < n_req; r++)
    if (nu == 0 || uniq[nu - 1] != uniq[r]) uniq[nu++] = uniq[r];
  if (nu) PM_ASSERT(uniq[0] >= 0 && uniq[nu - 1] < starts[size]);

  PetscCall(PetscCalloc4(size, &scnt, size + 1, &sdsp, size, &rcnt, size + 1, &rdsp));
  {
    int       p   = 0;
    pm_gidx_t beg = 0;
    for (pm_gidx_t u = 0; u <= nu; u++) {
      while (p < size && (u == nu || uniq[u] >= starts[p + 1])) {
        PetscCall(to_int(PETSC_COMM_SELF, u - beg, &scnt[p]));
        beg = u;
        p++;
      }
    }
  }
  PetscCallMPI(MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, comm));
  for (int p = 0; p < size; p++) {
    sdsp[p + 1] = sdsp[p] + scnt[p];
    nrecv += rcnt[p];
    PetscCall(to_int(PETSC_COMM_SELF, nrecv, &rdsp[p + 1]));
  }
  PetscCall(PetscMalloc1(nrecv + 1, &recv_idx));
  PetscCallMPI(MPI_Alltoallv(uniq, scnt, sdsp, MPI_INT64_T, recv_idx, rcnt, rdsp, MPI_INT64_T, comm));

  /* Serve: requests came for rows we own. */
  PetscCall(PetscMalloc1(nrecv * rowbytes + 1, &send_rows));
  for (pm_gidx_t r = 0; r < nrecv; r++) {
    pm_gidx_t l = recv_idx[r] - starts[rank];
    PM_ASSERT(l >= 0 && l < starts[rank + 1] - starts[rank]);
    memcpy(send_rows + r * rowbytes, loc + l * rowbytes, rowbytes);
  }
  PetscCall(PetscMalloc1(nu * rowbytes + 1, &recv_rows));
  PetscCallMPI(MPI_Type_contiguous((int)rowbytes, MPI_BYTE, &rowtype));
  PetscCallMPI(MPI_Type_commit(&rowtype));
  PetscCallMPI(MPI_Alltoallv(send_rows, rcnt, rdsp, rowtype, recv_rows, scnt, sdsp, rowtype, comm));
  PetscCallMPI(MPI_Type_free(&rowtype));

  for (pm_gidx_t r = 0; r < n_req; r++) {
    pm_gidx_t u = find_sorted(uniq, nu, want[r]);
    memcpy((char *)out + r * rowbytes, recv_rows + u * rowbytes, rowbytes);
  }
  PetscCall(PetscFree(send_rows));
  PetscCall(PetscFree(recv_rows));
  PetscCall(PetscFree(recv_idx));
  PetscCall(PetscFree4(scnt, sdsp, rcnt, rdsp));
  PetscCall(PetscFree(uniq));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_fetch_rows(MPI_Comm comm, pm_gidx_t n_global, pm_gidx_t row_start, pm_gidx_t n_local, const void *local, size_t elem_size, int width, pm_gidx_t n_req, const pm_gidx_t *want, void *out)
{
  pm_gidx_t *starts;

  PetscFunctionBeginUser;
  PetscCall(pm_layout_starts(comm, n_local, &starts)); /* any contiguous layout, not only blocks */
  (void)row_start;
  (void)n_global;
  PetscCall(pm_fetch_rows_layout(comm, starts, local, elem_size, width, n_req, want, out));
  PetscCall(PetscFree(starts));
  PetscFunctionReturn(PETSC_SUCCESS);
}
