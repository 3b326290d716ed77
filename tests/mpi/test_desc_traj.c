/* The whole stage through the trajectory reader: pm_descriptors_compute on the small Cu set.
 * Steinhardt columns equal the file's LAMMPS columns (read as -columns into the `columns` block)
 * to 1e-6; rows are in global atom order; the result is bit-identical on sub-communicators of
 * every size 1..P (on 3 ranks the two frames go to groups of 2 and 1 ranks: a frame split across
 * ranks); and the same for one frame split over all ranks (-frames 1:2). */
#include <phasemap/descriptors.h>
#include "pm_test.h"
#include "descriptors/desc_impl.h"
#include <stdlib.h>
#include <string.h>

#define SMALL  "tests/data/cu/cu_slab_3456_T1327_small.dump.gz"
#define THREE  "tests/out/desc_traj_3frames.dump"
#include <zlib.h>

/* tests/out/desc_traj_3frames.dump: frames 0, 1 of the small set and frame 1 again as timestep
 * 20000 (3 frames: on 2 ranks one per rank, then the third split over both). Rank 0 writes. */
static void write_three(MPI_Comm comm)
{
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    gzFile g = gzopen(SMALL, "rb");
    FILE  *f = fopen(THREE, "w");
    char   line[4096];
    long   pos1 = -1, nframe = 0, nline = 0;
    char  *frame1 = NULL;
    size_t len1 = 0, cap = 0;
    while (gzgets(g, line, sizeof line)) {
      if (!strncmp(line, "ITEM: TIMESTEP", 14)) nframe++, pos1 = nline;
      fputs(line, f);
      if (nframe == 2) { /* keep frame 1 to append it again */
        size_t n = strlen(line);
        if (len1 + n + 1 > cap) cap = 2 * (len1 + n + 1), frame1 = (char *)realloc(frame1, cap);
        memcpy(frame1 + len1, line, n + 1);
        len1 += n;
      }
      nline++;
    }
    (void)pos1;
    {
      char *p = strchr(frame1, '\n') + 1, *q = strchr(p, '\n') + 1; /* replace the timestep line */
      fputs("ITEM: TIMESTEP\n20000\n", f);
      fputs(q, f);
    }
    free(frame1);
    fclose(f);
    gzclose(g);
  }
  MPI_Barrier(comm);
}

/* Whole X gathered on every rank of comm (N x D); frame and id columns too. */
static PetscErrorCode run(MPI_Comm comm, const char *path, const char *frames, int64_t *N, int *D, double **X, int64_t **ids)
{
  pm_traj_t        *traj;
  pm_descriptors_t *d;
  pm_rows_t        *R;
  int               size;
  int              *cnt, *dsp;

  PetscFunctionBeginUser;
  MPI_Comm_size(comm, &size);
  PetscCall(PetscOptionsSetValue(NULL, "-frames", frames));
  PetscCall(pm_traj_open(comm, path, pm_format_from_path(path), &traj));
  PetscCall(pm_descriptors_create(comm, &d));
  PetscCall(pm_descriptors_set_from_options(d));
  PetscCall(pm_descriptors_compute(d, traj, &R));
  *N   = R->n_global;
  *D   = R->dim;
  *X   = (double *)malloc(sizeof(double) * R->n_global * R->dim);
  *ids = (int64_t *)malloc(sizeof(int64_t) * 2 * R->n_global);
  cnt  = (int *)malloc(sizeof(int) * size);
  dsp  = (int *)malloc(sizeof(int) * size);
  {
    int n = (int)(R->n_local * R->dim);
    PetscCallMPI(MPI_Allgather(&n, 1, MPI_INT, cnt, 1, MPI_INT, comm));
    dsp[0] = 0;
    for (int r = 1; r < size; r++) dsp[r] = dsp[r - 1] + cnt[r - 1];
    PetscCallMPI(MPI_Allgatherv(R->x, n, MPI_DOUBLE, *X, cnt, dsp, MPI_DOUBLE, comm));
  }
  {
    int64_t *loc = (int64_t *)malloc(sizeof(int64_t) * 2 * (R->n_local + 1));
    int      n   = (int)(2 * R->n_local);
    for (int64_t i = 0; i < R->n_local; i++) loc[2 * i] = d->frame[i], loc[2 * i + 1] = d->id[i];
    PetscCallMPI(MPI_Allgather(&n, 1, MPI_INT, cnt, 1, MPI_INT, comm));
    dsp[0] = 0;
    for (int r = 1; r < size; r++) dsp[r] = dsp[r - 1] + cnt[r - 1];
    PetscCallMPI(MPI_Allgatherv(loc, n, MPI_INT64_T, *ids, cnt, dsp, MPI_INT64_T, comm));
    free(loc);
  }
  free(cnt);
  free(dsp);
  PetscCall(pm_rows_destroy(&R));
  PetscCall(pm_descriptors_destroy(&d));
  PetscCall(pm_traj_destroy(&traj));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode check(MPI_Comm comm, const char *path, const char *frames, int64_t nexpect)
{
  int64_t N, N2, *ids, *ids2;
  int     D, D2, rank, size;
  double *X, *X2, dev = 0.0;

  PetscFunctionBeginUser;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  PetscCall(run(comm, path, frames, &N, &D, &X, &ids));
  PM_TEST(N == nexpect && D == 30, "-frames %s: N %" PRId64 " D %d", frames, N, D);
  for (int64_t i = 0; i < N; i++)
    for (int c = 0; c < 15; c++) dev = fmax(dev, fabs(X[i * D + c] - X[i * D + 15 + c]));
  PM_TEST(dev < 1e-6, "-frames %s: Steinhardt vs LAMMPS columns %g", frames, dev);
  PetscCall(PetscPrintf(comm, "%s -frames %s on %d ranks: max |ours - LAMMPS| = %.2e\n", path, frames, size, dev));
  for (int64_t i = 1; i < N; i++) { /* global order: frame-major, ids ascending */
    int ok = ids[2 * i] > ids[2 * i - 2] || (ids[2 * i] == ids[2 * i - 2] && ids[2 * i + 1] > ids[2 * i - 1]);
    if (!ok) {
      PM_TEST(0, "row %" PRId64 " out of order", i);
      break;
    }
  }
  for (int s = 1; s < size; s++) {
    MPI_Comm sub;
    MPI_Comm_split(comm, rank < s ? 0 : 1, rank, &sub);
    if (rank < s) {
      PetscCall(run(sub, path, frames, &N2, &D2, &X2, &ids2));
      PM_TEST(N2 == N && D2 == D && !memcmp(X2, X, sizeof(double) * N * D) && !memcmp(ids2, ids, sizeof(int64_t) * 2 * N), "-frames %s: %d ranks differ from %d", frames, s, size);
      free(X2);
      free(ids2);
    }
    MPI_Comm_free(&sub);
  }
  free(X);
  free(ids);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  MPI_Comm comm;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  PetscCall(PetscOptionsSetValue(NULL, "-descriptor", "steinhardt,columns"));
  PetscCall(PetscOptionsSetValue(NULL, "-columns", "q4:w12hat"));
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_wl", "1"));
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_cutoff", "5.50679"));
  PetscCall(PetscOptionsSetValue(NULL, "-quiet", "1"));
  PetscCall(check(comm, SMALL, "::", 6912));
  PetscCall(check(comm, SMALL, "1:2", 3456));
  write_three(comm);
  PetscCall(check(comm, THREE, "::", 3 * 3456));
  {
    int fail = pm_test_finish_mpi(comm);
    PetscCall(PetscFinalize());
    return fail;
  }
}
