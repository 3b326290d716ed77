/* Input (feature matrices, trajectories) and output (one self-describing HDF5 file). */
#pragma once
#include <phasemap/core.h>

/* ---- formats ----------------------------------------------------------------------------------- */

typedef enum { PM_FMT_AUTO, PM_FMT_H5, PM_FMT_NPY, PM_FMT_TEXT, PM_FMT_LAMMPS, PM_FMT_EXTXYZ } pm_format_t;
extern const char *const pm_format_names[]; /* "auto","h5","npy","text","lammps","extxyz" + PETSc enum tail */

/* Format from the file name (.h5/.hdf5, .npy, .txt/.csv/.dat, .dump/.lammpstrj[.gz], .xyz/.extxyz[.gz]).
 * Not collective. Returns PM_FMT_AUTO when the extension is unknown. */
pm_format_t pm_format_from_path(const char *path);
/* True for trajectory formats (lammps, extxyz). */
PetscBool pm_format_is_trajectory(pm_format_t f);

/* ---- feature matrices ------------------------------------------------------------------------------ */

/* Read an N x D float matrix (HDF5 dataset, .npy, or whitespace/comma text) into block rows.
 * Each rank reads only its own rows. Collective. Errors (clear message naming the file, row and
 * column where it applies): missing/unreadable file, wrong dataset, not 2-D, N < 3, D = 0,
 * NaN/Inf, ragged text rows, truncated .npy, unsupported dtype or Fortran order. */
PetscErrorCode pm_matrix_read(MPI_Comm comm, const char *path, pm_format_t fmt, const char *dataset, pm_rows_t **X);

/* SHA-256 of a file as 64 hex characters (rank 0 reads, result broadcast). Collective. */
PetscErrorCode pm_file_sha256(MPI_Comm comm, const char *path, char hex[65]);

/* ---- output ------------------------------------------------------------------------------------- */

typedef struct pm_output pm_output_t;
typedef enum { PM_T_DOUBLE, PM_T_INT64, PM_T_INT32, PM_T_FLOAT } pm_dtype_t;

/* Create <path>.partial for collective writing. Refuses an existing <path> unless force.
 * Collective. Commit renames it to <path>; discard removes it. Both are safe on NULL. */
PetscErrorCode pm_output_open(MPI_Comm comm, const char *path, PetscBool force, pm_output_t **out);
PetscErrorCode pm_output_commit(pm_output_t **out);
PetscErrorCode pm_output_discard(pm_output_t **out);
/* Chunked + deflate level for large datasets (0 = none; default 0, -output_compress). */
PetscErrorCode pm_output_set_compression(pm_output_t *out, int level);

/* Write a row-distributed dataset `name` (parent groups created as needed) of n_global rows and
 * ncols columns (ncols = 0 writes a 1-D dataset of n_global elements). This rank writes its rows
 * [row_start, row_start + n_local) from data (row-major). Collective. */
PetscErrorCode pm_output_write_rows(pm_output_t *out, const char *name, pm_dtype_t type, pm_gidx_t n_global, pm_gidx_t row_start, pm_gidx_t n_local, int ncols, const void *data);
/* Write a small dataset whose content is identical on every rank (rank 0's copy is written).
 * ndims 1 or 2, dims[] its shape. Collective. */
PetscErrorCode pm_output_write_small(pm_output_t *out, const char *name, pm_dtype_t type, int ndims, const int64_t *dims, const void *data);
/* Attributes on an object (group or dataset path; "/" for the root; groups created as needed).
 * Values must be identical on every rank. Collective. */
PetscErrorCode pm_output_attr_double(pm_output_t *out, const char *obj, const char *name, double v);
PetscErrorCode pm_output_attr_int(pm_output_t *out, const char *obj, const char *name, int64_t v);
PetscErrorCode pm_output_attr_string(pm_output_t *out, const char *obj, const char *name, const char *v);
PetscErrorCode pm_output_attr_doubles(pm_output_t *out, const char *obj, const char *name, int n, const double *v);

/* ---- trajectories ---------------------------------------------------------------------------------- */

/* Simulation cell. LAMMPS convention: edge vectors a = (xhi-xlo, 0, 0), b = (xy, yhi-ylo, 0),
 * c = (xz, yz, zhi-zlo); origin lo. h holds them as rows h[0]=a, h[1]=b, h[2]=c. */
typedef struct {
  double lo[3];
  double h[3][3];
  int    triclinic;
  int    periodic[3];
} pm_box_t;

#define PM_SPECIES_MAX 16
#define PM_NAME_MAX    32

/* Atoms of one frame held by this rank (any subset of the frame; disjoint across ranks). */
typedef struct {
  int64_t  frame;        /* index of the frame among the selected frames (0-based) */
  int64_t  timestep;
  pm_box_t box;
  int64_t  natoms;       /* atoms in the whole frame */
  int64_t  n_local;      /* atoms held here */
  int64_t *id;           /* atom ids from the file */
  int64_t *order;        /* position of the atom in the frame sorted by id: 0..natoms-1 */
  int     *species;      /* 0-based index into the trajectory's species table */
  double  *pos;          /* n_local x 3 Cartesian positions (wrapped or not, as read) */
  int      n_extra;      /* extra per-atom columns requested with -columns */
  double  *extra;        /* n_local x n_extra */
} pm_atoms_t;

typedef struct pm_traj pm_traj_t; /* an open trajectory with its frame index (opaque) */

/* Open a trajectory, build the frame index (byte offsets, atom counts, timesteps, boxes) with a
 * parallel scan, and apply -frames start:stop:step, -species, -columns, -strict. Collective. */
PetscErrorCode pm_traj_open(MPI_Comm comm, const char *path, pm_format_t fmt, pm_traj_t **traj);
/* Query -frames, -species, -columns, -strict without opening a file, so that -help lists them and
 * pm_options_check_unused accepts them before pm_traj_open runs (main calls it while configuring). Collective. */
PetscErrorCode pm_traj_register_options(MPI_Comm comm);
PetscErrorCode pm_traj_destroy(pm_traj_t **traj);
/* Number of selected frames; their atom counts; total atoms over selected frames. Not collective. */
PetscErrorCode pm_traj_get_num_frames(const pm_traj_t *traj, int64_t *nframes);
PetscErrorCode pm_traj_get_frame_info(const pm_traj_t *traj, int64_t frame, int64_t *natoms, int64_t *timestep, pm_box_t *box);
/* Species table (names from the file, or -species mapping of LAMMPS types). Borrowed. */
PetscErrorCode pm_traj_get_species(const pm_traj_t *traj, int *nspecies, const char *const **names);
/* Extra columns selected by -columns: count and names (borrowed). */
PetscErrorCode pm_traj_get_extra_columns(const pm_traj_t *traj, int *n, const char *const **names);
/* Read selected frame `frame` collectively over comm (a sub-communicator of the trajectory's, the
 * ranks that share this frame): each rank gets a disjoint share of about natoms/size atoms.
 * Free with pm_atoms_destroy. */
PetscErrorCode pm_traj_read_frame(pm_traj_t *traj, MPI_Comm comm, int64_t frame, pm_atoms_t **atoms);
PetscErrorCode pm_atoms_destroy(pm_atoms_t **atoms);
