/* Input format names and detection from the file name. */
#include <phasemap/io.h>
#include <string.h>
#include <strings.h>

const char *const pm_format_names[] = {"auto", "h5", "npy", "text", "lammps", "extxyz", "pm_format_t", "PM_FMT_", NULL};

static int ends_with(const char *s, size_t n, const char *suffix)
{
  size_t m = strlen(suffix);
  return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

pm_format_t pm_format_from_path(const char *path)
{
  size_t      n;
  const char *base;

  if (!path) return PM_FMT_AUTO;
  base = strrchr(path, '/');
  base = base ? base + 1 : path;
  n    = strlen(base);
  if (ends_with(base, n, ".gz")) n -= 3; /* the compressed variants keep the inner extension */
  if (ends_with(base, n, ".dump") || ends_with(base, n, ".lammpstrj")) return PM_FMT_LAMMPS;
  if (ends_with(base, n, ".xyz") || ends_with(base, n, ".extxyz")) return PM_FMT_EXTXYZ;
  if (n != strlen(base)) return PM_FMT_AUTO; /* other .gz files are not supported */
  if (ends_with(base, n, ".h5") || ends_with(base, n, ".hdf5")) return PM_FMT_H5;
  if (ends_with(base, n, ".npy")) return PM_FMT_NPY;
  if (ends_with(base, n, ".txt") || ends_with(base, n, ".csv") || ends_with(base, n, ".dat")) return PM_FMT_TEXT;
  return PM_FMT_AUTO;
}

PetscBool pm_format_is_trajectory(pm_format_t f)
{
  return (f == PM_FMT_LAMMPS || f == PM_FMT_EXTXYZ) ? PETSC_TRUE : PETSC_FALSE;
}
