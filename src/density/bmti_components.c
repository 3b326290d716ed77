/* Connected components of the symmetrised BMTI graph: distributed minimum-label propagation with
 * pointer jumping, converged by an allreduce. The label of a component is its smallest global
 * index; compact ids 0..n_comp-1 follow the order of the labels (independent of the partition). */
#include "density/bmti_impl.h"

static PetscErrorCode compact_ids(bmti_work_t *w)
{
  pm_gidx_t nroot = 0, off = 0, *id;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < w->n_local; i++) nroot += (w->label[i] == w->row_start + i);
  PetscCallMPI(MPI_Exscan(&nroot, &off, 1, MPI_INT64_T, MPI_SUM, w->comm));
  if (w->rank == 0) off = 0;
  PetscCallMPI(MPI_Allreduce(&nroot, &w->n_comp, 1, MPI_INT64_T, MPI_SUM, w->comm));
  PetscCall(PetscMalloc1(w->n_local + 1, &id));
  for (pm_gidx_t i = 0; i < w->n_local; i++) id[i] = (w->label[i] == w->row_start + i) ? off++ : -1;
  PetscCall(pm_fetch_rows(w->comm, w->N, w->row_start, w->n_local, id, sizeof(pm_gidx_t), 1, w->n_local, w->label, w->comp));
  PetscCall(PetscFree(id));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Needs bmti_structure (w->cols) and the edge halo (w->halo, w->usrc). Sets w->label, w->comp, w->col_label, w->n_comp. Collective. */
PetscErrorCode bmti_components(bmti_work_t *w)
{
  pm_gidx_t nc = w->cptr[w->n_local], nu = 0, *uniq, *cu, *ulab, *jump;
  PetscBool changed = PETSC_TRUE;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(w->n_local + 1, &w->label, w->n_local + 1, &w->comp, nc + 1, &w->col_label));
  PetscCall(PetscMalloc2(w->n_halo + w->n_usrc + 1, &uniq, nc + 1, &cu));
  { /* the columns are the targets (sorted halo) and the sources (sorted usrc): merge the two */
    pm_gidx_t p = 0, q = 0;
    while (p < w->n_halo || q < w->n_usrc) {
      pm_gidx_t v = (q >= w->n_usrc || (p < w->n_halo && w->halo[p] <= w->usrc[q])) ? w->halo[p++] : w->usrc[q++];
      if (nu == 0 || uniq[nu - 1] != v) uniq[nu++] = v;
    }
  }
  for (pm_gidx_t c = 0; c < nc; c++) cu[c] = bmti_find(uniq, nu, w->cols[c]);
  PetscCall(PetscMalloc2(nu + 1, &ulab, w->n_local + 1, &jump));
  for (pm_gidx_t i = 0; i < w->n_local; i++) w->label[i] = w->row_start + i;
  while (changed) {
    PetscBool mine = PETSC_FALSE;
    PetscCall(pm_fetch_rows(w->comm, w->N, w->row_start, w->n_local, w->label, sizeof(pm_gidx_t), 1, nu, uniq, ulab));
    for (pm_gidx_t i = 0; i < w->n_local; i++)
      for (pm_gidx_t c = w->cptr[i]; c < w->cptr[i + 1]; c++)
        if (ulab[cu[c]] < w->label[i]) {
          w->label[i] = ulab[cu[c]];
          mine        = PETSC_TRUE;
        }
    /* pointer jumping: a label's own label is never larger and lies in the same component */
    PetscCall(pm_fetch_rows(w->comm, w->N, w->row_start, w->n_local, w->label, sizeof(pm_gidx_t), 1, w->n_local, w->label, jump));
    for (pm_gidx_t i = 0; i < w->n_local; i++)
      if (jump[i] < w->label[i]) {
        w->label[i] = jump[i];
        mine        = PETSC_TRUE;
      }
    PetscCallMPI(MPI_Allreduce(&mine, &changed, 1, MPIU_BOOL, MPI_LOR, w->comm));
  }
  for (pm_gidx_t c = 0; c < nc; c++) w->col_label[c] = ulab[cu[c]];
  PetscCall(PetscFree2(ulab, jump));
  PetscCall(PetscFree2(uniq, cu));
  PetscCall(compact_ids(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}
