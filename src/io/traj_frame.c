/* pm_traj_read_frame: this rank's share of a frame's atoms, with ids, order by id, species, box. */
#include "io/traj_impl.h"
#include <string.h>

/* Read and parse this rank's lines of file frame k; problems are reported collectively with the
 * file, frame and line. Collective on comm. */
PetscErrorCode pm_traj_parse_frame(pm_traj_t *t, MPI_Comm comm, int64_t k, int collect, pm_parsed_t *p, int64_t *first_atom)
{
  const pm_frame_rec_t *f    = &t->rec[k];
  int64_t               base = 0, tot, nloc[2], nb[2] = {0, 0};
  int                   rank;
  char                  why[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  pm_parsed_init(p);
  PetscCall(pm_traj_read_parse(t, comm, k, collect, p));
  nloc[0] = p->nlines;
  nloc[1] = p->n;
  PetscCallMPI(MPI_Exscan(nloc, nb, 2, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) nb[0] = nb[1] = 0;
  base = nb[0];
  if (p->err_line >= 0)
    PetscCall(PetscSNPrintf(why, sizeof why, "%s: frame %" PRId64 " (timestep %" PRId64 "), line %" PRId64 ": %s", t->path, k, f->timestep, f->atoms_line + base + p->err_line + 1, p->err));
  { /* on a problem anywhere, free the arrays before the error leaves (every rank gets it) */
    PetscErrorCode ierr = pm_agree(comm, (PetscBool)(p->err_line < 0), why);
    if (ierr) {
      pm_parsed_free(p);
      return ierr;
    }
  }
  PetscCallMPI(MPI_Allreduce(&p->n, &tot, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCheck(tot == f->natoms, comm, PETSC_ERR_PLIB, "%s: frame %" PRId64 ": read %" PRId64 " atoms, expected %" PRId64 "; was the file changed while reading?", t->path, k, tot, f->natoms);
  *first_atom = nb[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode set_order(pm_traj_t *t, MPI_Comm comm, int64_t k, pm_atoms_t *A, int64_t first)
{
  PetscFunctionBeginUser;
  if (t->cols.has_id) {
    int64_t dup;
    char    why[PM_REASON_MAX] = "";
    PetscCall(pm_traj_order(comm, A->n_local, A->id, A->order, &dup));
    if (dup != INT64_MIN) PetscCall(PetscSNPrintf(why, sizeof why, "%s: frame %" PRId64 " (line %" PRId64 "): atom id %" PRId64 " appears more than once; ids must be unique", t->path, k, t->rec[k].line + 1, dup));
    PetscCall(pm_agree(comm, (PetscBool)(dup == INT64_MIN), why));
  } else
    for (int64_t i = 0; i < A->n_local; i++) { /* no id column: ids are the 1-based line order */
      A->id[i]    = first + i + 1;
      A->order[i] = first + i;
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* xyz without Lattice: a non-periodic box that encloses the atoms (exact min/max, any rank count). */
static PetscErrorCode bounding_box(MPI_Comm comm, pm_atoms_t *A)
{
  double mm[6], g[6];

  PetscFunctionBeginUser;
  for (int d = 0; d < 3; d++) mm[d] = mm[3 + d] = PETSC_MAX_REAL;
  for (int64_t i = 0; i < A->n_local; i++)
    for (int d = 0; d < 3; d++) {
      mm[d]     = PetscMin(mm[d], A->pos[3 * i + d]);
      mm[3 + d] = PetscMin(mm[3 + d], -A->pos[3 * i + d]);
    }
  PetscCallMPI(MPI_Allreduce(mm, g, 6, MPI_DOUBLE, MPI_MIN, comm));
  PetscCall(PetscMemzero(&A->box, sizeof A->box));
  for (int d = 0; d < 3; d++) {
    A->box.lo[d]   = g[d];
    A->box.h[d][d] = PetscMax(-g[3 + d] - g[d], 1.0); /* a flat or single-atom frame still gets a box */
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_read_frame(pm_traj_t *t, MPI_Comm comm, int64_t frame, pm_atoms_t **atoms)
{
  pm_parsed_t p;
  pm_atoms_t *A;
  int64_t     k, first, n;

  PetscFunctionBeginUser;
  PetscCheck(frame >= 0 && frame < t->nsel, comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: frame %" PRId64 " requested but %" PRId64 " frames are selected", t->path, frame, t->nsel);
  PetscCall(PetscLogEventBegin(t->ev_read, 0, 0, 0, 0));
  k = t->sel[frame];
  PetscCall(pm_traj_parse_frame(t, comm, k, 0, &p, &first));
  n = p.n;
  PetscCall(PetscNew(&A));
  A->frame    = frame;
  A->timestep = t->rec[k].timestep;
  A->box      = t->rec[k].box;
  A->natoms   = t->rec[k].natoms;
  A->n_local  = n;
  A->n_extra  = t->n_extra;
  PetscCall(PetscMalloc1(n + 1, &A->id));
  PetscCall(PetscMalloc1(n + 1, &A->order));
  PetscCall(PetscMalloc1(n + 1, &A->species));
  PetscCall(PetscMalloc1(3 * n + 1, &A->pos));
  PetscCall(PetscMalloc1(n * t->n_extra + 1, &A->extra));
  PetscCall(PetscArraycpy(A->id, p.id, n));
  PetscCall(PetscArraycpy(A->species, p.type, n));
  PetscCall(PetscArraycpy(A->pos, p.pos, 3 * n));
  PetscCall(PetscArraycpy(A->extra, p.extra, n * t->n_extra));
  pm_parsed_free(&p);
  {
    PetscErrorCode ierr = set_order(t, comm, k, A, first);
    if (ierr) {
      PetscCall(pm_atoms_destroy(&A));
      return ierr;
    }
  }
  if (t->fmt == PM_FMT_EXTXYZ && A->box.h[0][0] == 0 && A->box.h[1][1] == 0 && A->box.h[2][2] == 0) PetscCall(bounding_box(comm, A));
  PetscCall(PetscLogEventEnd(t->ev_read, 0, 0, 0, 0));
  *atoms = A;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_atoms_destroy(pm_atoms_t **atoms)
{
  pm_atoms_t *A = *atoms;

  PetscFunctionBeginUser;
  if (!A) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(A->id));
  PetscCall(PetscFree(A->order));
  PetscCall(PetscFree(A->species));
  PetscCall(PetscFree(A->pos));
  PetscCall(PetscFree(A->extra));
  PetscCall(PetscFree(*atoms));
  PetscFunctionReturn(PETSC_SUCCESS);
}
