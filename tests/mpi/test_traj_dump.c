/* Reads a trajectory with pm_traj_* on any number of ranks and writes every selected frame, atoms
 * in id order, to a small binary file (-out) that tests/e2e/test_traj_readers.py compares with an
 * independent Python parse. Checks on the way: every atom exactly once (order is a permutation),
 * ids increasing in order, shares disjoint and about natoms/size. -groups g reads frame f on
 * sub-communicator f % g (frames distributed across rank groups). Exits non-zero on a read error
 * (the message is printed once by pm_error_handler). -time: only time opening and reading. */
#include <phasemap/io.h>
#include "pm_test.h"
#include <string.h>

typedef struct {
  int64_t *id, *order;
  int     *sp;
  double  *pos, *ex;
} cols_t;

/* Gather a frame to the group root, in id order. Root returns n x (...) arrays. */
static PetscErrorCode gather_frame(MPI_Comm g, const pm_atoms_t *A, cols_t *out)
{
  int     rank, size, n = (int)A->n_local, ne = A->n_extra, *cnt, *dsp;
  int64_t N   = A->natoms;
  cols_t  all = {0};

  PetscFunctionBeginUser;
  MPI_Comm_rank(g, &rank);
  MPI_Comm_size(g, &size);
  PetscCall(PetscMalloc2(size, &cnt, size + 1, &dsp));
  MPI_Allgather(&n, 1, MPI_INT, cnt, 1, MPI_INT, g);
  dsp[0] = 0;
  for (int r = 0; r < size; r++) dsp[r + 1] = dsp[r] + cnt[r];
  PM_TEST(dsp[size] == N, "shares add up to %d atoms, frame has %" PRId64, dsp[size], N);
  PM_TEST(n <= N / size + 1 + N / 5, "share %d of %" PRId64 " atoms on %d ranks is unbalanced", n, N, size);
  PetscCall(PetscMalloc5(N, &all.id, N, &all.order, N, &all.sp, 3 * N, &all.pos, N * ne + 1, &all.ex));
  MPI_Gatherv(A->id, n, MPI_INT64_T, all.id, cnt, dsp, MPI_INT64_T, 0, g);
  MPI_Gatherv(A->order, n, MPI_INT64_T, all.order, cnt, dsp, MPI_INT64_T, 0, g);
  MPI_Gatherv(A->species, n, MPI_INT, all.sp, cnt, dsp, MPI_INT, 0, g);
  for (int r = 0; r <= size; r++) dsp[r] *= 3;
  for (int r = 0; r < size; r++) cnt[r] *= 3;
  MPI_Gatherv(A->pos, 3 * n, MPI_DOUBLE, all.pos, cnt, dsp, MPI_DOUBLE, 0, g);
  for (int r = 0; r <= size; r++) dsp[r] = dsp[r] / 3 * ne;
  for (int r = 0; r < size; r++) cnt[r] = cnt[r] / 3 * ne;
  MPI_Gatherv(A->extra, n * ne, MPI_DOUBLE, all.ex, cnt, dsp, MPI_DOUBLE, 0, g);
  PetscCall(PetscFree2(cnt, dsp));
  if (rank == 0) {
    char *seen;
    PetscCall(PetscCalloc1(N, &seen));
    PetscCall(PetscMalloc5(N, &out->id, N, &out->order, N, &out->sp, 3 * N, &out->pos, N * ne + 1, &out->ex));
    for (int64_t i = 0; i < N; i++) {
      int64_t o = all.order[i];
      if (o < 0 || o >= N || seen[o]) {
        PM_TEST(0, "order %" PRId64 " of atom %" PRId64 " out of range or repeated", o, all.id[i]);
        continue;
      }
      seen[o]    = 1;
      out->id[o] = all.id[i];
      out->sp[o] = all.sp[i];
      for (int d = 0; d < 3; d++) out->pos[3 * o + d] = all.pos[3 * i + d];
      for (int e = 0; e < ne; e++) out->ex[o * ne + e] = all.ex[i * ne + e];
    }
    for (int64_t o = 1; o < N; o++)
      if (out->id[o] <= out->id[o - 1]) {
        PM_TEST(0, "ids not increasing in order at %" PRId64, o);
        break;
      }
    PetscCall(PetscFree(seen));
  }
  PetscCall(PetscFree5(all.id, all.order, all.sp, all.pos, all.ex));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void write_frame(FILE *fp, const pm_atoms_t *A, const cols_t *c)
{
  int64_t N        = A->natoms;
  int32_t flags[4] = {A->box.triclinic, A->box.periodic[0], A->box.periodic[1], A->box.periodic[2]};
  fwrite(&N, 8, 1, fp);
  fwrite(&A->timestep, 8, 1, fp);
  fwrite(A->box.lo, 8, 3, fp);
  fwrite(A->box.h, 8, 9, fp);
  fwrite(flags, 4, 4, fp);
  fwrite(c->id, 8, N, fp);
  fwrite(c->sp, 4, N, fp);
  fwrite(c->pos, 8, 3 * N, fp);
  fwrite(c->ex, 8, N * A->n_extra, fp);
}

static PetscErrorCode run(MPI_Comm world, const char *path, const char *outp, int groups, PetscBool timing)
{
  double             t0 = MPI_Wtime(), t1;
  pm_traj_t         *t  = NULL;
  int64_t            nf;
  int                wrank, wsize, grp, ns, ne;
  const char *const *names, *const *enames;
  MPI_Comm g;
  FILE    *fp = NULL;

  PetscFunctionBeginUser;
  MPI_Comm_rank(world, &wrank);
  MPI_Comm_size(world, &wsize);
  PetscCall(pm_traj_open(world, path, PM_FMT_AUTO, &t));
  PetscCall(pm_traj_get_num_frames(t, &nf));
  t1 = MPI_Wtime();
  if (timing) PetscCall(PetscPrintf(world, "open (scan, species): %.3f s, %" PRId64 " frames\n", t1 - t0, nf));
  PetscCall(pm_traj_get_species(t, &ns, &names));
  PetscCall(pm_traj_get_extra_columns(t, &ne, &enames));
  if (groups > wsize) groups = wsize;
  grp = wrank % groups;
  MPI_Comm_split(world, grp, wrank, &g);
  if (wrank == 0 && outp[0]) {
    int32_t h[2] = {ns, ne};
    fp           = fopen(outp, "wb");
    PM_TEST(fp != NULL, "cannot write %s", outp);
    fwrite(&nf, 8, 1, fp);
    fwrite(h, 4, 2, fp);
    for (int s = 0; s < ns; s++) {
      char buf[PM_NAME_MAX] = {0};
      strncpy(buf, names[s], PM_NAME_MAX - 1);
      fwrite(buf, 1, PM_NAME_MAX, fp);
    }
    for (int e = 0; e < ne; e++) {
      char buf[64] = {0};
      strncpy(buf, enames[e], 63);
      fwrite(buf, 1, 64, fp);
    }
  }
  for (int64_t f = 0; f < nf; f++) {
    pm_atoms_t *A = NULL;
    cols_t      c = {0};
    int         grank;
    int64_t     natoms;
    if (f % groups == grp) {
      PetscCall(pm_traj_read_frame(t, g, f, &A));
      PetscCall(pm_traj_get_frame_info(t, f, &natoms, NULL, NULL));
      PM_TEST(A->natoms == natoms && A->frame == f, "frame info of %" PRId64, f);
      if (timing) {
        double t2 = MPI_Wtime();
        PetscCall(PetscPrintf(g, "frame %" PRId64 ": %" PRId64 " atoms read in %.3f s\n", f, natoms, t2 - t1));
        t1 = t2;
        PetscCall(pm_atoms_destroy(&A));
      } else
        PetscCall(gather_frame(g, A, &c));
    }
    if (timing) continue;
    MPI_Comm_rank(g, &grank);
    /* the group root of frame f (world rank f % groups) hands it to world rank 0 */
    if (f % groups == grp && grank == 0 && wrank != 0) {
      MPI_Send(A, (int)sizeof *A, MPI_BYTE, 0, 10, world);
      MPI_Send(c.id, (int)A->natoms, MPI_INT64_T, 0, 11, world);
      MPI_Send(c.sp, (int)A->natoms, MPI_INT, 0, 12, world);
      MPI_Send(c.pos, (int)(3 * A->natoms), MPI_DOUBLE, 0, 13, world);
      MPI_Send(c.ex, (int)(A->n_extra * A->natoms), MPI_DOUBLE, 0, 14, world);
    }
    if (wrank == 0) {
      pm_atoms_t B;
      int        src = (int)(f % groups);
      if (src != 0) {
        MPI_Recv(&B, (int)sizeof B, MPI_BYTE, src, 10, world, MPI_STATUS_IGNORE);
        PetscCall(PetscMalloc5(B.natoms, &c.id, 1, &c.order, B.natoms, &c.sp, 3 * B.natoms, &c.pos, B.natoms * B.n_extra + 1, &c.ex));
        MPI_Recv(c.id, (int)B.natoms, MPI_INT64_T, src, 11, world, MPI_STATUS_IGNORE);
        MPI_Recv(c.sp, (int)B.natoms, MPI_INT, src, 12, world, MPI_STATUS_IGNORE);
        MPI_Recv(c.pos, (int)(3 * B.natoms), MPI_DOUBLE, src, 13, world, MPI_STATUS_IGNORE);
        MPI_Recv(c.ex, (int)(B.n_extra * B.natoms), MPI_DOUBLE, src, 14, world, MPI_STATUS_IGNORE);
      } else
        B = *A;
      if (fp) write_frame(fp, &B, &c);
    }
    if (c.id) PetscCall(PetscFree5(c.id, c.order, c.sp, c.pos, c.ex));
    PetscCall(pm_atoms_destroy(&A));
  }
  if (fp) fclose(fp);
  MPI_Comm_free(&g);
  PetscCall(pm_traj_destroy(&t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  char           path[PM_PATH_MAX] = "", outp[PM_PATH_MAX] = "";
  PetscInt       groups = 1;
  PetscBool      timing = PETSC_FALSE;
  PetscErrorCode err;
  int            fail;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscPushErrorHandler(pm_error_handler, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-input", path, sizeof path, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-out", outp, sizeof outp, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-groups", &groups, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-time", &timing, NULL));
  err  = run(PETSC_COMM_WORLD, path, outp, (int)groups, timing);
  fail = pm_test_finish_mpi(PETSC_COMM_WORLD);
  PetscCall(PetscFinalize());
  return (err || fail) ? 1 : 0;
}
