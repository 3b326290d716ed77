/* /atoms output: frame, id, species, position, descriptor (block rows in global atom order), the
 * column and species names, the parameters of every block, and the PCA (if any). */
#include "descriptors/desc_impl.h"
#include <string.h>

static PetscErrorCode join(char **list, int n, char **out)
{
  size_t len = 1;
  char  *s;

  PetscFunctionBeginUser;
  for (int k = 0; k < n; k++) len += strlen(list[k]) + 1;
  PetscCall(PetscCalloc1(len, &s));
  for (int k = 0; k < n; k++) {
    if (k) strcat(s, ",");
    strcat(s, list[k]);
  }
  *out = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_descriptors_write(const pm_descriptors_t *d, pm_output_t *out)
{
  char  *names, *species, *sp[PM_SPECIES_MAX], blocks[256] = "";
  double rc;
  int    nnn;

  PetscFunctionBeginUser;
  PetscCheck(d->x, d->comm, PETSC_ERR_ORDER, "pm_descriptors_write: nothing computed (call pm_descriptors_compute first)");
  PetscCall(PetscLogEventBegin(d->ev_write, 0, 0, 0, 0));
  PetscCall(pm_output_write_rows(out, "/atoms/frame", PM_T_INT64, d->n_global, d->row_start, d->n_local, 0, d->frame));
  PetscCall(pm_output_write_rows(out, "/atoms/id", PM_T_INT64, d->n_global, d->row_start, d->n_local, 0, d->id));
  PetscCall(pm_output_write_rows(out, "/atoms/species", PM_T_INT32, d->n_global, d->row_start, d->n_local, 0, d->species_of));
  PetscCall(pm_output_write_rows(out, "/atoms/position", PM_T_DOUBLE, d->n_global, d->row_start, d->n_local, 3, d->pos));
  PetscCall(pm_output_write_rows(out, "/atoms/descriptor", PM_T_DOUBLE, d->n_global, d->row_start, d->n_local, d->dim, d->x));
  {
    int64_t dims[1] = {d->nframes};
    PetscCall(pm_output_write_small(out, "/atoms/timestep", PM_T_INT64, 1, dims, d->timestep));
  }
  PetscCall(join(d->names, d->dim, &names));
  PetscCall(pm_output_attr_string(out, "/atoms/descriptor", "columns", names));
  PetscCall(PetscFree(names));
  for (int s = 0; s < d->nspecies; s++) sp[s] = (char *)d->species[s];
  PetscCall(join(sp, d->nspecies, &species));
  PetscCall(pm_output_attr_string(out, "/atoms", "species_names", species));
  PetscCall(PetscFree(species));
  for (int b = 0; b < d->nblk; b++) {
    static const char *const kn[] = {"steinhardt", "sf", "soap", "columns"};
    if (b) PetscCall(PetscStrlcat(blocks, ",", sizeof blocks));
    PetscCall(PetscStrlcat(blocks, kn[d->blk[b]], sizeof blocks));
  }
  PetscCall(pm_output_attr_string(out, "/atoms", "blocks", blocks));
  PetscCall(pm_output_attr_int(out, "/atoms", "nframes", d->nframes));
  PetscCall(pm_output_attr_double(out, "/atoms", "neighbour_cutoff", d->rc));
  PetscCall(pm_steinhardt_get_neighbours(d->st, &rc, &nnn));
  PetscCall(pm_output_attr_double(out, "/atoms", "steinhardt_cutoff", rc));
  PetscCall(pm_output_attr_int(out, "/atoms", "steinhardt_nnn", nnn));
  PetscCall(pm_sf_get_cutoff(d->sf, &rc));
  PetscCall(pm_output_attr_double(out, "/atoms", "sf_cutoff", rc));
  if (pm_pca_active(d->pca)) PetscCall(pm_pca_write(d->pca, out, "/atoms/pca"));
  PetscCall(PetscLogEventEnd(d->ev_write, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
