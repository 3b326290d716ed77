/* One frame: spatial decomposition with ghosts, linked cells, then every descriptor block for
 * chunks of the owned atoms (bounded neighbour-list memory), then the frame-wide steps. */
#include "descriptors/desc_impl.h"
#include <string.h>

static PetscErrorCode compute_blocks(pm_descriptors_t *d, const pm_domain_t *dom, const pm_nlist_t *nl, double *x)
{
  double *rows = x + (size_t)nl->first * d->dim;

  PetscFunctionBeginUser;
  for (int b = 0; b < d->nblk; b++) {
    switch (d->blk[b]) {
    case PM_DESC_STEINHARDT:
      PetscCall(PetscLogEventBegin(d->ev_steinhardt, 0, 0, 0, 0));
      PetscCall(pm_steinhardt_compute(d->st, nl, rows, d->dim, d->blk_col[b]));
      PetscCall(PetscLogEventEnd(d->ev_steinhardt, 0, 0, 0, 0));
      break;
    case PM_DESC_SF:
      PetscCall(PetscLogEventBegin(d->ev_sf, 0, 0, 0, 0));
      PetscCall(pm_sf_compute(d->sf, nl, rows, d->dim, d->blk_col[b]));
      PetscCall(PetscLogEventEnd(d->ev_sf, 0, 0, 0, 0));
      break;
    case PM_DESC_SOAP:
      PetscCall(PetscLogEventBegin(d->ev_soap, 0, 0, 0, 0));
      PetscCall(pm_soap_compute(d->soap, nl, rows, d->dim, d->blk_col[b]));
      PetscCall(PetscLogEventEnd(d->ev_soap, 0, 0, 0, 0));
      break;
    default:
      for (int64_t i = 0; i < nl->n; i++) memcpy(rows + (size_t)i * d->dim + d->blk_col[b], dom->extra + (size_t)(nl->first + i) * dom->n_extra, sizeof(double) * dom->n_extra);
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode check_atoms(pm_descriptors_t *d, MPI_Comm comm, const pm_atoms_t *atoms)
{
  char      msg[PM_REASON_MAX] = "";
  PetscBool ok                 = PETSC_TRUE;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < atoms->n_local && ok; i++)
    if (atoms->species[i] < 0 || atoms->species[i] >= d->nspecies) {
      ok = PETSC_FALSE;
      PetscCall(PetscSNPrintf(msg, sizeof msg, "descriptors: frame %" PRId64 ": atom id %" PRId64 " has species index %d outside the species table (%d species)", atoms->frame, atoms->id[i], atoms->species[i], d->nspecies));
    }
  for (int b = 0; b < d->nblk && ok; b++)
    if (d->blk[b] == PM_DESC_COLUMNS && atoms->n_extra != d->n_extra) {
      ok = PETSC_FALSE;
      PetscCall(PetscSNPrintf(msg, sizeof msg, "descriptors: frame %" PRId64 " has %d extra columns, expected %d (-columns)", atoms->frame, atoms->n_extra, d->n_extra));
    }
  PetscCall(pm_agree(comm, ok, msg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_descriptors_compute_frame(pm_descriptors_t *d, MPI_Comm comm, const pm_atoms_t *atoms, pm_frame_rows_t *fr)
{
  pm_domain_t   *dom   = NULL;
  pm_cells_t    *cells = NULL;
  pm_nlist_t     nl;
  double        *x;
  PetscBool      ok                 = PETSC_TRUE;
  char           msg[PM_REASON_MAX] = "";
  pm_progress_t *prog               = NULL;

  PetscFunctionBeginUser;
  PetscCheck(d->ready, comm, PETSC_ERR_ORDER, "pm_descriptors_setup() must be called before computing a frame");
  PetscCall(check_atoms(d, comm, atoms));
  memset(&nl, 0, sizeof nl);
  memset(fr, 0, sizeof *fr);
  PetscCall(PetscLogEventBegin(d->ev_domain, 0, 0, 0, 0));
  PetscCall(pm_domain_create(comm, atoms, d->rc, &dom));
  PetscCall(pm_cells_create(dom, d->rc, &cells));
  PetscCall(PetscLogEventEnd(d->ev_domain, 0, 0, 0, 0));
  PetscCall(PetscCalloc1((size_t)dom->n_own * d->dim + 1, &x));
  PetscCall(pm_steinhardt_frame_begin(d->st, dom));
  { /* progress inside a large frame, as seen by rank 0 of the stage */
    int rank;
    PetscCallMPI(MPI_Comm_rank(d->comm, &rank));
    if (rank == 0) PetscCall(pm_progress_create(PETSC_COMM_SELF, "descriptors (this frame)", (dom->n_own + d->chunk - 1) / d->chunk, &prog));
  }
  for (int64_t first = 0; first < dom->n_own; first += d->chunk) {
    int64_t count = PetscMin(d->chunk, dom->n_own - first);
    PetscCall(PetscLogEventBegin(d->ev_nlist, 0, 0, 0, 0));
    PetscCall(pm_nlist_build(dom, cells, d->rc, first, count, d->max_nb, &nl));
    PetscCall(PetscLogEventEnd(d->ev_nlist, 0, 0, 0, 0));
    nl.nspecies = d->nspecies;
    for (int64_t i = 0; i < nl.n && ok; i++)
      if (nl.off[i + 1] > nl.off[i] && nl.d[4 * nl.off[i] + 3] == 0.0) {
        ok = PETSC_FALSE;
        PetscCall(PetscSNPrintf(msg, sizeof msg, "descriptors: frame %" PRId64 ": atoms %" PRId64 " and %" PRId64 " are at the same position; remove duplicated atoms from the input", atoms->frame, dom->id[first + i], dom->id[nl.j[nl.off[i]]]));
      }
    if (ok) PetscCall(compute_blocks(d, dom, &nl, x));
    PetscCall(pm_progress_step(prog, first / d->chunk + 1));
  }
  PetscCall(pm_progress_destroy(&prog));
  {
    PetscErrorCode err = pm_agree(comm, ok, msg);
    if (err) { /* bad input: free what this frame holds and pass the (already raised) error on */
      PetscCall(PetscFree(x));
      PetscCall(pm_nlist_free(&nl));
      PetscCall(pm_cells_destroy(&cells));
      PetscCall(pm_domain_destroy(&dom));
      PetscFunctionReturn(err);
    }
  }
  for (int b = 0; b < d->nblk; b++)
    if (d->blk[b] == PM_DESC_STEINHARDT) {
      PetscCall(PetscLogEventBegin(d->ev_steinhardt, 0, 0, 0, 0));
      PetscCall(pm_steinhardt_frame_end(d->st, dom, x, d->dim, d->blk_col[b]));
      PetscCall(PetscLogEventEnd(d->ev_steinhardt, 0, 0, 0, 0));
    }
  fr->n = dom->n_own;
  fr->x = x;
  PetscCall(PetscMalloc4(fr->n + 1, &fr->order, fr->n + 1, &fr->id, fr->n + 1, &fr->species, 3 * fr->n + 1, &fr->pos));
  memcpy(fr->order, dom->order, sizeof(int64_t) * fr->n);
  memcpy(fr->id, dom->id, sizeof(int64_t) * fr->n);
  memcpy(fr->species, dom->species, sizeof(int) * fr->n);
  memcpy(fr->pos, dom->pos_in, sizeof(double) * 3 * fr->n);
  PetscCall(pm_nlist_free(&nl));
  PetscCall(pm_cells_destroy(&cells));
  PetscCall(pm_domain_destroy(&dom));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_frame_rows_free(pm_frame_rows_t *fr)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree4(fr->order, fr->id, fr->species, fr->pos));
  PetscCall(PetscFree(fr->x));
  fr->n = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
