/* pm_format_from_path / pm_format_is_trajectory / pm_format_names. */
#include <phasemap/io.h>
#include "pm_test.h"
#include <string.h>

int main(int argc, char **argv)
{
  struct {
    const char *path;
    pm_format_t f;
  } cases[] = {
      {"a/b/run.dump", PM_FMT_LAMMPS},
      {"x.lammpstrj.gz", PM_FMT_LAMMPS},
      {"cu.dump.gz", PM_FMT_LAMMPS},
      {"t.xyz", PM_FMT_EXTXYZ},
      {"t.extxyz.gz", PM_FMT_EXTXYZ},
      {"T.XYZ", PM_FMT_EXTXYZ},
      {"d.h5", PM_FMT_H5},
      {"d.hdf5", PM_FMT_H5},
      {"m.npy", PM_FMT_NPY},
      {"m.txt", PM_FMT_TEXT},
      {"m.csv", PM_FMT_TEXT},
      {"m.dat", PM_FMT_TEXT},
      {"m.npy.gz", PM_FMT_AUTO},
      {"dir.xyz/file", PM_FMT_AUTO},
      {"noext", PM_FMT_AUTO},
      {"gz", PM_FMT_AUTO},
  };
  int err;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) PM_TEST(pm_format_from_path(cases[i].path) == cases[i].f, "%s -> %d", cases[i].path, (int)pm_format_from_path(cases[i].path));
  PM_TEST(pm_format_from_path(NULL) == PM_FMT_AUTO, "NULL path");
  PM_TEST(pm_format_is_trajectory(PM_FMT_LAMMPS) && pm_format_is_trajectory(PM_FMT_EXTXYZ), "trajectory formats");
  PM_TEST(!pm_format_is_trajectory(PM_FMT_H5) && !pm_format_is_trajectory(PM_FMT_AUTO), "matrix formats");
  PM_TEST(!strcmp(pm_format_names[PM_FMT_LAMMPS], "lammps") && !strcmp(pm_format_names[PM_FMT_EXTXYZ], "extxyz") && !strcmp(pm_format_names[PM_FMT_TEXT], "text"), "names");
  PM_TEST(pm_format_names[8] == NULL, "PETSc enum tail");
  { /* the trajectory options count as used once registered, before any file is opened */
    PetscErrorCode e;
    PetscCall(PetscOptionsSetValue(NULL, "-frames", "1:"));
    PetscCall(PetscOptionsSetValue(NULL, "-strict", NULL));
    PetscCall(pm_traj_register_options(PETSC_COMM_WORLD));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    e = pm_options_check_unused(PETSC_COMM_WORLD);
    PetscCall(PetscPopErrorHandler());
    PM_TEST(e == 0, "-frames/-strict accepted after pm_traj_register_options");
  }
  err = pm_test_finish();
  PetscCall(PetscFinalize());
  return err;
}
