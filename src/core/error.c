/* The one error convention: PetscErrorCode + PetscCall everywhere, pm_agree for rank-local verdicts,
 * pm_error_handler to print one clean message and return (main decides how the run ends). */
#include <phasemap/core.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pm_assert_fail(const char *cond, const char *file, int line)
{
  int rank = 0, init = 0;

  MPI_Initialized(&init);
  if (init) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  fprintf(stderr, "[rank %d] phasemap bug at %s:%d: %s\n", rank, file, line, cond);
  fflush(stderr);
  if (init) MPI_Abort(MPI_COMM_WORLD, 3);
  abort();
}

PetscErrorCode pm_agree(MPI_Comm comm, PetscBool ok, const char *reason)
{
  struct {
    int bad, rank;
  } mine, first;
  char msg[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &mine.rank));
  mine.bad = !ok;
  /* MAXLOC on (bad, -rank) would pick the highest rank; use (bad, rank) with MINLOC on -bad. */
  mine.bad = -mine.bad;
  PetscCallMPI(MPI_Allreduce(&mine, &first, 1, MPI_2INT, MPI_MINLOC, comm));
  if (first.bad == 0) PetscFunctionReturn(PETSC_SUCCESS);
  if (mine.rank == first.rank && reason) PetscCall(PetscStrncpy(msg, reason, sizeof msg));
  PetscCallMPI(MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first.rank, comm));
  SETERRQ(comm, PETSC_ERR_USER_INPUT, "%s", msg);
}

PetscErrorCode pm_error_handler(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  int       rank = 0, wrank = 0;
  PetscBool trace = PETSC_FALSE;

  (void)ctx;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
  MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
  PetscOptionsGetBool(NULL, NULL, "-traceback", &trace, NULL);
  if (p == PETSC_ERROR_INITIAL) {
    /* A local (PETSC_COMM_SELF) error is printed by the rank that raised it; a collective one once.
       PETSc's options parsing raises its errors (a bad value of an enumerated or numeric option)
       on PETSC_COMM_SELF, but every rank holds the same options and raises the same error: those
       are printed once, by rank 0. */
    int       self = 0;
    PetscBool opts = fun && !strncmp(fun, "PetscOptions", 12) ? PETSC_TRUE : PETSC_FALSE;
    if (comm != MPI_COMM_NULL) MPI_Comm_compare(comm, PETSC_COMM_SELF, &self);
    if (self == MPI_IDENT && opts) {
      self = 0;
      rank = wrank;
    }
    if (rank == 0) {
      const char *m = (mess && mess[0]) ? mess : NULL;
      if (!m) PetscErrorMessage(n, &m, NULL);
      if (self == MPI_IDENT && wrank != 0) fprintf(stderr, "phasemap: error (rank %d): %s\n", wrank, m ? m : "unknown error");
      else fprintf(stderr, "phasemap: error: %s\n", m ? m : "unknown error");
    }
  }
  if (trace && rank == 0) fprintf(stderr, "  at %s() %s:%d\n", fun, file, line);
  fflush(stderr);
  return n;
}
