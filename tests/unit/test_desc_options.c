/* Bad descriptor options: each gives one error naming the option and the fix (no crash, no hang),
 * and a degenerate box is refused with a message naming the frame. */
#include <phasemap/descriptors.h>
#include "pm_test.h"
#include "descriptors/desc_impl.h"
#include <string.h>

static PetscErrorCode keep_message(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  if (p == PETSC_ERROR_INITIAL && mess) snprintf((char *)ctx, 512, "%s", mess);
  return n;
}

/* Configure with one bad option (name, value) and return the error message. */
static int configure(const char *name, const char *value, char *msg)
{
  pm_descriptors_t *d = NULL;
  PetscErrorCode    err;
  const char       *sp[1] = {"Cu"};

  msg[0] = 0;
  PetscOptionsClear(NULL);
  PetscOptionsSetValue(NULL, name, value);
  PetscPushErrorHandler(keep_message, msg);
  err = pm_descriptors_create(PETSC_COMM_WORLD, &d);
  if (!err) err = pm_descriptors_set_from_options(d);
  if (!err) err = pm_descriptors_setup(d, 1, sp, 0, NULL);
  PetscPopErrorHandler();
  pm_descriptors_destroy(&d);
  return err;
}

int main(int argc, char **argv)
{
  char msg[512];
  struct {
    const char *opt, *val, *expect;
  } cases[] = {
    {"-descriptor", "steinhardt,foo", "unknown block 'foo'"},
    {"-descriptor", "sf,sf", "given twice"},
    {"-descriptor", "columns", "-columns"},
    {"-steinhardt_l", "4,40", "outside 1..20"},
    {"-steinhardt_l", "6,6", "given twice"},
    {"-steinhardt_l", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "at most 16"},
    {"-steinhardt_l", "4,x", "-steinhardt_l"},
    {"-steinhardt_cutoff", "-1", "must be positive"},
    {"-steinhardt_nnn", "-3", "-steinhardt_nnn"},
    {"-sf_lambda", "1,2", "must be 1 or -1"},
    {"-sf_zeta", "0.5", "must be >= 1"},
    {"-sf_cutoff", "0", "must be positive"},
  };

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int err = configure(cases[k].opt, cases[k].val, msg);
    PM_TEST(err != 0 && strstr(msg, cases[k].expect) != NULL, "%s %s: error %d, message '%s'", cases[k].opt, cases[k].val, err, msg);
  }
  PM_TEST(configure("-steinhardt_l", "4,6", msg) == 0, "valid options refused: %s", msg);
  { /* a flat box */
    pm_descriptors_t *d;
    pm_frame_rows_t   fr;
    pm_atoms_t        A;
    int64_t           id = 1, order = 0;
    int               sp = 0;
    double            pos[3] = {0, 0, 0};
    const char       *names[1] = {"Cu"};
    PetscErrorCode    err;
    memset(&A, 0, sizeof A);
    A.natoms = A.n_local = 1;
    A.id = &id, A.order = &order, A.species = &sp, A.pos = pos;
    A.box.h[0][0] = A.box.h[1][1] = 5.0;
    A.box.periodic[0] = A.box.periodic[1] = A.box.periodic[2] = 1;
    PetscOptionsClear(NULL);
    PetscCall(pm_descriptors_create(PETSC_COMM_WORLD, &d));
    PetscCall(pm_descriptors_set_from_options(d));
    PetscCall(pm_descriptors_setup(d, 1, names, 0, NULL));
    PetscCall(PetscPushErrorHandler(keep_message, msg));
    err = pm_descriptors_compute_frame(d, PETSC_COMM_WORLD, &A, &fr);
    PetscCall(PetscPopErrorHandler());
    PM_TEST(err != 0 && strstr(msg, "degenerate") != NULL, "flat box: error %d message '%s'", err, msg);
    /* two atoms at the same place */
    {
      pm_atoms_t B    = A;
      int64_t    id2[2] = {1, 2}, order2[2] = {0, 1};
      int        sp2[2] = {0, 0};
      double     pos2[6] = {1, 1, 1, 1, 1, 1};
      B.natoms = B.n_local = 2;
      B.id = id2, B.order = order2, B.species = sp2, B.pos = pos2;
      B.box.h[2][2] = 5.0;
      PetscCall(PetscPushErrorHandler(keep_message, msg));
      err = pm_descriptors_compute_frame(d, PETSC_COMM_WORLD, &B, &fr);
      PetscCall(PetscPopErrorHandler());
      PM_TEST(err != 0 && strstr(msg, "same position") != NULL, "coincident atoms: error %d message '%s'", err, msg);
    }
    PetscCall(pm_descriptors_destroy(&d));
  }
  {
    int fail = pm_test_finish_mpi(PETSC_COMM_WORLD);
    PetscCall(PetscFinalize());
    return fail;
  }
}
