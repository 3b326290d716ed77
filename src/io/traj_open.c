/* Trajectory object: open (scan, options), getters, destroy. */
#include "io/traj_impl.h"
#include <stdio.h>
#include <string.h>

static PetscErrorCode read_options(MPI_Comm comm, PetscBool *strict, char *frames, char *species, char *columns, size_t n)
{
  PetscFunctionBeginUser;
  frames[0] = species[0] = columns[0] = 0;
  PetscOptionsBegin(comm, NULL, "Trajectory input (LAMMPS text dump, extended XYZ)", NULL);
  PetscCall(PetscOptionsString("-frames", "frames to read: start:stop:step (python slice, stop excluded; empty = all)", "pm_traj_open", frames, frames, n, NULL));
  PetscCall(PetscOptionsString("-species", "species names: LAMMPS types 1..n in order, or the element names (e.g. Li,P,S,Cl)", "pm_traj_open", species, species, n, NULL));
  PetscCall(PetscOptionsString("-columns", "extra per-atom columns: names or first:last ranges, comma separated (e.g. c_feat[1]:c_feat[64])", "pm_traj_open", columns, columns, n, NULL));
  PetscCall(PetscOptionsBool("-strict", "a truncated last frame is an error (default: skipped with a warning)", "pm_traj_open", *strict, strict, NULL));
  PetscOptionsEnd();
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_register_options(MPI_Comm comm)
{
  char      frames[1024], species[1024], columns[4096];
  PetscBool strict = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(read_options(comm, &strict, frames, species, columns, sizeof frames));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* gzip by content (magic bytes 1f 8b), whatever the name says; rank 0 looks, all agree. */
static PetscErrorCode sniff_gzip(pm_traj_t *t)
{
  int rank, gz = t->is_gz;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(t->comm, &rank));
  if (rank == 0) {
    FILE         *fp = fopen(t->path, "rb");
    unsigned char m[2];
    if (fp) {
      if (fread(m, 1, 2, fp) == 2) gz = m[0] == 0x1f && m[1] == 0x8b;
      fclose(fp);
    }
  }
  PetscCallMPI(MPI_Bcast(&gz, 1, MPI_INT, 0, t->comm));
  t->is_gz = gz;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_open(MPI_Comm comm, const char *path, pm_format_t fmt, pm_traj_t **traj)
{
  pm_traj_t *t;
  char       frames[1024], species[1024], columns[4096];
  size_t     n;

  PetscFunctionBeginUser;
  *traj = NULL;
  if (fmt == PM_FMT_AUTO) fmt = pm_format_from_path(path);
  PetscCheck(pm_format_is_trajectory(fmt), comm, PETSC_ERR_USER_INPUT, "%s: not a trajectory; name it *.dump, *.lammpstrj, *.xyz or *.extxyz (optionally .gz), or give -input_format lammps|extxyz", path);
  PetscCall(PetscNew(&t));
  PetscCallMPI(MPI_Comm_dup(comm, &t->comm));
  PetscCall(PetscStrncpy(t->path, path, sizeof t->path));
  t->fmt   = fmt;
  n        = strlen(path);
  t->is_gz = n > 3 && !strcmp(path + n - 3, ".gz");
  PetscCall(sniff_gzip(t));
  PetscCall(PetscLogEventRegister("PmTrajScan", PETSC_OBJECT_CLASSID, &t->ev_scan));
  PetscCall(PetscLogEventRegister("PmTrajRead", PETSC_OBJECT_CLASSID, &t->ev_read));
  *traj = t; /* from here on the caller's pm_traj_destroy frees a half-built object */
  PetscCall(read_options(t->comm, &t->strict, frames, species, columns, sizeof frames));
  PetscCall(pm_traj_scan(t));
  if (fmt == PM_FMT_LAMMPS)
    PetscCall(pm_lammps_columns(t->comm, t->path, t->rec[0].atoms_line, t->colline, &t->cols));
  else
    PetscCall(pm_extxyz_columns(t->comm, t->path, t->rec[0].line + 2, t->colline, &t->cols));
  PetscCall(pm_traj_select_frames(t, frames));
  PetscCall(pm_traj_select_columns(t, columns));
  PetscCall(pm_traj_setup_species(t, species));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_destroy(pm_traj_t **traj)
{
  pm_traj_t *t = *traj;

  PetscFunctionBeginUser;
  if (!t) PetscFunctionReturn(PETSC_SUCCESS);
  if (t->gz) gzclose(t->gz);
  PetscCall(pm_cols_destroy(&t->cols));
  PetscCall(PetscFree2(t->rec, t->atoms_end));
  PetscCall(PetscFree(t->sel));
  PetscCall(PetscFree(t->colline));
  PetscCall(PetscFree2(t->extra_names, t->extra_ptr));
  PetscCallMPI(MPI_Comm_free(&t->comm));
  PetscCall(PetscFree(*traj));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_get_num_frames(const pm_traj_t *traj, int64_t *nframes)
{
  PetscFunctionBeginUser;
  *nframes = traj->nsel;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_get_frame_info(const pm_traj_t *traj, int64_t frame, int64_t *natoms, int64_t *timestep, pm_box_t *box)
{
  const pm_frame_rec_t *f;

  PetscFunctionBeginUser;
  PetscCheck(frame >= 0 && frame < traj->nsel, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "frame %" PRId64 " requested but %" PRId64 " frames are selected", frame, traj->nsel);
  f = &traj->rec[traj->sel[frame]];
  if (natoms) *natoms = f->natoms;
  if (timestep) *timestep = f->timestep;
  if (box) *box = f->box;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_get_species(const pm_traj_t *traj, int *nspecies, const char *const **names)
{
  PetscFunctionBeginUser;
  *nspecies = traj->nspecies;
  *names    = traj->name_ptr;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_get_extra_columns(const pm_traj_t *traj, int *n, const char *const **names)
{
  PetscFunctionBeginUser;
  *n     = traj->n_extra;
  *names = traj->extra_ptr;
  PetscFunctionReturn(PETSC_SUCCESS);
}
