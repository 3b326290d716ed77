/* Checks on the frame table (identical on every rank, so plain PetscCheck cannot hang):
 * header problems, atom-line counts, changing atom counts or columns, timesteps, truncation. */
#include "io/traj_impl.h"

/* A truncated last frame: warning and skip, or an error with -strict (or when it is the only one). */
static PetscErrorCode truncated(pm_traj_t *t, int64_t k, int64_t line, const char *what)
{
  PetscFunctionBeginUser;
  PetscCheck(!t->strict, t->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: frame %" PRId64 " (line %" PRId64 ") is truncated: %s; remove -strict to skip it", t->path, k, line + 1, what);
  PetscCheck(k > 0, t->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: frame 0 (line %" PRId64 ") is truncated: %s; the file holds no complete frame", t->path, line + 1, what);
  PetscCall(PetscFPrintf(t->comm, PETSC_STDERR, "phasemap: warning: %s: the last frame (frame %" PRId64 ", line %" PRId64 ") is truncated (%s); it is skipped (-strict makes this an error)\n", t->path, k, line + 1, what));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode check_frame(pm_traj_t *t, const pm_frame_rec_t *f, const pm_frame_rec_t *f0, const pm_frame_rec_t *prev, int64_t k)
{
  PetscFunctionBeginUser;
  PetscCheck(!f->err[0], t->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: frame %" PRId64 ", line %" PRId64 ": %s", t->path, k, f->err_line + 1, f->err);
  PetscCheck(f->natoms == f0->natoms, t->comm, PETSC_ERR_FILE_UNEXPECTED,
             "%s: frame %" PRId64 " (line %" PRId64 ") has %" PRId64 " atoms but frame 0 has %" PRId64 "; the atom count must not change between frames (split the file, or select frames with -frames)", t->path, k,
             f->line + 1, f->natoms, f0->natoms);
  PetscCheck(f->cols_hash == f0->cols_hash, t->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: frame %" PRId64 " (line %" PRId64 ") has other %s than frame 0; every frame must have the same columns", t->path, k, f->line + 1,
             t->fmt == PM_FMT_LAMMPS ? "ITEM: ATOMS columns" : "Properties");
  if (prev && t->fmt == PM_FMT_LAMMPS)
    PetscCheck(f->timestep > prev->timestep, t->comm, PETSC_ERR_FILE_UNEXPECTED,
               "%s: frame %" PRId64 " (line %" PRId64 "): timestep %" PRId64 " does not follow timestep %" PRId64 " of frame %" PRId64 "; timesteps must increase (remove repeated frames, e.g. from a restart)", t->path, k,
               f->line + 1, f->timestep, prev->timestep, k - 1);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_validate_lammps(pm_traj_t *t, const pm_frame_rec_t *all, int64_t nall, int64_t *keep, int64_t *ends, int64_t *nkeep)
{
  PetscFunctionBeginUser;
  *nkeep = 0;
  PetscCheck(nall > 0, t->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: no 'ITEM: TIMESTEP' line found; is this a LAMMPS text dump (dump custom / dump atom)?", t->path);
  PetscCheck(all[0].nb == 0, t->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: line 1 is not 'ITEM: TIMESTEP' (the first frame starts at line %" PRId64 "); is this a LAMMPS text dump?", t->path, all[0].line + 1);
  for (int64_t k = 0; k < nall; k++) {
    const pm_frame_rec_t *f    = &all[k];
    int                   last = k == nall - 1;
    int64_t               n;
    if (f->truncated) { /* only the last header can reach the end of the file */
      PetscCall(truncated(t, k, f->line, f->err));
      break;
    }
    PetscCheck(!f->err[0], t->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: frame %" PRId64 ", line %" PRId64 ": %s", t->path, k, f->err_line + 1, f->err);
    n = (last ? t->total_nb : all[k + 1].nb) - f->atoms_nb;
    if (last && (n < f->natoms || !t->ends_nl)) {
      char what[128];
      PetscCall(PetscSNPrintf(what, sizeof what, "%" PRId64 " of %" PRId64 " atom lines%s", n, f->natoms, t->ends_nl ? "" : ", the last one without its newline"));
      PetscCall(truncated(t, k, f->line, what));
      break;
    }
    PetscCheck(n == f->natoms, t->comm, PETSC_ERR_FILE_UNEXPECTED,
               "%s: frame %" PRId64 " (line %" PRId64 "): NUMBER OF ATOMS is %" PRId64 " but %" PRId64 " atom lines follow ITEM: ATOMS (line %" PRId64 ")%s; the frame is damaged", t->path, k, f->line + 1, f->natoms, n,
               f->atoms_line, last ? " up to the end of the file" : " before the next ITEM: TIMESTEP");
    PetscCall(check_frame(t, f, &all[0], k ? &all[k - 1] : NULL, k));
    keep[*nkeep] = k;
    ends[*nkeep] = last ? t->data_size : all[k + 1].offset;
    (*nkeep)++;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Candidate count lines are chained: frame k+1 starts right after the natoms lines of frame k. */
static int64_t find_line(const pm_frame_rec_t *all, int64_t nall, int64_t line)
{
  int64_t lo = 0, hi = nall;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (all[mid].line < line)
      lo = mid + 1;
    else
      hi = mid;
  }
  return (lo < nall && all[lo].line == line) ? lo : -1;
}

PetscErrorCode pm_traj_validate_extxyz(pm_traj_t *t, const pm_frame_rec_t *all, int64_t nall, int64_t *keep, int64_t *ends, int64_t *nkeep)
{
  int64_t c = -1, k = 0, c0;

  PetscFunctionBeginUser;
  *nkeep = 0;
  for (int64_t i = 0; i < nall && c < 0; i++)
    if (all[i].nb == 0) c = i;
  PetscCheck(c >= 0, t->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: the first line must hold the number of atoms; is this an (extended) XYZ file?", t->path);
  c0 = c;
  for (;; k++) {
    const pm_frame_rec_t *f    = &all[c];
    int64_t               next = f->atoms_line + f->natoms, nxt;
    if (f->truncated) {
      PetscCall(truncated(t, k, f->line, f->err));
      break;
    }
    if (next > t->total_lines || (next == t->total_lines && !t->ends_nl)) {
      char what[128];
      PetscCall(PetscSNPrintf(what, sizeof what, "%" PRId64 " of %" PRId64 " atom lines%s", t->total_lines - f->atoms_line, f->natoms, t->ends_nl ? "" : ", the last one without its newline"));
      PetscCall(truncated(t, k, f->line, what));
      break;
    }
    PetscCall(check_frame(t, f, &all[c0], NULL, k));
    nxt          = next < t->total_lines ? find_line(all, nall, next) : -1;
    keep[*nkeep] = c;
    ends[*nkeep] = nxt >= 0 ? all[nxt].offset : t->data_size;
    (*nkeep)++;
    if (nxt >= 0) {
      c = nxt;
      continue;
    }
    /* no next frame: only blank lines may follow */
    PetscCheck(next == t->total_lines || t->total_nb == f->atoms_nb + f->natoms, t->comm, PETSC_ERR_FILE_UNEXPECTED,
               "%s: line %" PRId64 ": expected the number of atoms of frame %" PRId64 " after the %" PRId64 " atom lines of frame %" PRId64 " (line %" PRId64 "); is an atom count wrong?", t->path, next + 1, k + 1, f->natoms, k,
               f->line + 1);
    break;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
