/* Private interfaces of the trajectory readers (src/io/traj*.c, lammps*.c, extxyz*.c, gz*.c).
 * Design (docs/trajectories.md): a parallel scan builds a table of frame records (byte offsets,
 * line numbers, atom counts, boxes) that every rank holds; a frame is then read by splitting its
 * atom lines into byte blocks, one per rank of the reading communicator. */
#pragma once
#include <phasemap/io.h>
#include <zlib.h>

#define PM_TRAJ_ERR_MAX 200
#define PM_TRAJ_CHUNK   (1 << 20) /* bytes per read call */

/* One frame as found by the scan. Line numbers are 0-based over the whole (uncompressed) file;
 * "nb" counts only non-blank lines (atom sections are counted in non-blank lines). */
typedef struct {
  int64_t  offset, line, nb;                   /* the frame's first line (LAMMPS ITEM: TIMESTEP, xyz count) */
  int64_t  atoms_offset, atoms_line, atoms_nb; /* its first atom line */
  int64_t  natoms, timestep;
  pm_box_t box;
  uint64_t cols_hash; /* hash of the column description (ITEM: ATOMS line, xyz Properties) */
  int32_t  truncated; /* the header ended at the end of the file */
  int32_t  comment_blank;
  int64_t  err_line;             /* line of the header problem below */
  char     err[PM_TRAJ_ERR_MAX]; /* header problem ("" if none) */
} pm_frame_rec_t;

/* Buffered line reader over a plain file (pread) or a gzip stream (gzread). Lines are returned
 * NUL-terminated without their '\n' (and '\r'). Lines starting below `hi` are counted in n_in/nb_in.
 * A read error is not raised (the other ranks would hang): it ends the data and is kept in err. */
typedef struct {
  int     fd;
  gzFile  gz;
  char   *buf;
  size_t  cap, beg, len; /* unread data is buf[beg..len) */
  int64_t buf_off;       /* file offset of buf[0] */
  int64_t limit;         /* never read at or past this offset (plain files) */
  int     eof;
  int64_t lineno, nbno; /* lines returned so far (all, non-blank) */
  int64_t hi, n_in, nb_in;
  int     last_nl;                            /* the last returned line ended with '\n' */
  char    err[PM_TRAJ_ERR_MAX + PM_PATH_MAX]; /* a read error ends the data early; checked collectively */
} pm_lreader_t;

PetscErrorCode pm_lreader_init_fd(pm_lreader_t *r, const char *path, int fd, int64_t start, int64_t limit, int64_t hi);
PetscErrorCode pm_lreader_init_gz(pm_lreader_t *r, gzFile gz, int64_t start, int64_t hi);
/* *line = NULL at the end of the data. *start = file offset of the line. */
PetscErrorCode pm_lreader_next(pm_lreader_t *r, const char *path, char **line, size_t *len, int64_t *start);
void           pm_lreader_free(pm_lreader_t *r);
int            pm_line_is_blank(const char *s);

/* Per-line column roles. */
enum { PM_COL_SKIP = -1,
       PM_COL_ID   = 0,
       PM_COL_TYPE,
       PM_COL_NAME,
       PM_COL_X,
       PM_COL_Y,
       PM_COL_Z,
       PM_COL_EXTRA };
enum { PM_POS_PLAIN,
       PM_POS_UNWRAPPED,
       PM_POS_SCALED,
       PM_POS_SCALED_UNWRAPPED };

typedef struct {
  int    ncol;   /* tokens per atom line */
  char **names;  /* ncol column names (xyz multi-component properties as name[1], name[2], ...) */
  char **groups; /* xyz: property name of each column (NULL for LAMMPS) */
  char  *types;  /* xyz: property type letter per column (S, R, I, L); NULL for LAMMPS */
  int   *role;   /* ncol roles (PM_COL_*, PM_COL_EXTRA + j) */
  int    pos_mode;
  int    has_id, has_type, has_name;
} pm_cols_t;

PetscErrorCode pm_cols_destroy(pm_cols_t *c);
uint64_t       pm_hash_str(const char *s);

struct pm_traj {
  MPI_Comm        comm;
  char            path[PM_PATH_MAX];
  pm_format_t     fmt;
  int             is_gz;
  int64_t         data_size; /* bytes of (uncompressed) data */
  int64_t         total_lines, total_nb;
  int             ends_nl;
  int64_t         nframes_file; /* complete frames in the file */
  pm_frame_rec_t *rec;          /* nframes_file records (plus the truncated one, dropped) */
  int64_t        *atoms_end;    /* byte offset where each frame's atom lines end */
  int64_t         nsel, *sel;   /* selected frames: indices into rec */
  char           *colline;      /* LAMMPS ITEM: ATOMS line / xyz Properties of frame 0 */
  pm_cols_t       cols;
  int             nspecies;
  char            names[PM_SPECIES_MAX][PM_NAME_MAX];
  const char     *name_ptr[PM_SPECIES_MAX];
  int             species_given, species_by_type;
  int             n_extra;
  char          **extra_names;
  const char    **extra_ptr;
  PetscBool       strict;
  gzFile          gz; /* lazily opened stream when this rank reads a .gz frame */
  PetscLogEvent   ev_scan, ev_read;
};

/* traj_scan.c: build t->rec / atoms_end / totals with the parallel scan. Collective. */
PetscErrorCode pm_traj_scan(pm_traj_t *t);
/* traj_validate.c: check the gathered records, keep the complete frames (indices into all, and
 * the byte offset where each one's atom lines end). Collective (same verdict on every rank). */
PetscErrorCode pm_traj_validate_lammps(pm_traj_t *t, const pm_frame_rec_t *all, int64_t nall, int64_t *keep, int64_t *ends, int64_t *nkeep);
PetscErrorCode pm_traj_validate_extxyz(pm_traj_t *t, const pm_frame_rec_t *all, int64_t nall, int64_t *keep, int64_t *ends, int64_t *nkeep);
/* lammps_header.c: parse a frame header; `first`, its first line (ITEM: TIMESTEP, UNITS or TIME), was just read. */
PetscErrorCode pm_lammps_header(pm_lreader_t *r, const char *path, pm_frame_rec_t *f, const char *first, char **colline);
int            pm_lammps_frame_item(const char *line);
PetscErrorCode pm_lammps_columns(MPI_Comm comm, const char *path, int64_t line, const char *colline, pm_cols_t *c);
/* extxyz_header.c: parse the comment line of a frame into f (box, properties hash). */
PetscErrorCode pm_extxyz_comment(const char *line, pm_frame_rec_t *f, char **props);
PetscErrorCode pm_extxyz_columns(MPI_Comm comm, const char *path, int64_t line, const char *props, pm_cols_t *c);
/* traj_columns.c: -columns and species options against the column table. Collective. */
PetscErrorCode pm_traj_select_columns(pm_traj_t *t, const char *spec);
PetscErrorCode pm_traj_select_frames(pm_traj_t *t, const char *spec);
/* traj_species.c: species table (-species or frame 0). Collective. */
PetscErrorCode pm_traj_setup_species(pm_traj_t *t, const char *spec);
/* traj_parse.c: atoms parsed from blocks of atom lines. collect = 1: only gather species names or
 * types (the species scan of frame 0). */
typedef struct {
  int64_t  n, cap;
  int64_t *id;
  int     *type; /* LAMMPS type or species index, per the column roles */
  double  *pos, *extra;
  int64_t  nlines;   /* all lines of the block including blank ones */
  int64_t  err_line; /* local 0-based line of the first problem, -1 if none */
  char     err[PM_TRAJ_ERR_MAX];
  int      nnames;
  char     names[PM_SPECIES_MAX + 1][PM_NAME_MAX];
} pm_parsed_t;
void           pm_parsed_init(pm_parsed_t *p);
PetscErrorCode pm_traj_parse_block(const pm_traj_t *t, const pm_frame_rec_t *f, char *text, size_t len, int collect, pm_parsed_t *p);
void           pm_parsed_free(pm_parsed_t *p);
/* traj_read.c: read this rank's share of file frame rec (the whole lines that start in its part of
 * the frame's bytes) and parse it into p (plain files in pieces of PM_TRAJ_PIECE bytes). Collective. */
#define PM_TRAJ_PIECE (32 << 20)
PetscErrorCode pm_traj_read_parse(pm_traj_t *t, MPI_Comm comm, int64_t rec, int collect, pm_parsed_t *p);
/* traj_frame.c: read + parse file frame k on comm, errors reported collectively; first_atom = atoms on lower ranks. */
PetscErrorCode pm_traj_parse_frame(pm_traj_t *t, MPI_Comm comm, int64_t k, int collect, pm_parsed_t *p, int64_t *first_atom);
/* traj_order.c: position of each local id in the frame sorted by id (duplicates -> message). Collective. */
PetscErrorCode pm_traj_order(MPI_Comm comm, int64_t n_local, const int64_t *id, int64_t *order, int64_t *dup_id);
