/* The descriptors stage object: options (-descriptor and the blocks'), column layout, view, destroy. */
#include "descriptors/desc_impl.h"
#include <string.h>

static const char *const kind_names[PM_DESC_NKINDS] = {"steinhardt", "sf", "soap", "columns"};

PetscErrorCode pm_descriptors_create(MPI_Comm comm, pm_descriptors_t **desc)
{
  pm_descriptors_t *d;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&d));
  d->comm   = comm;
  d->nblk   = 1;
  d->blk[0] = PM_DESC_STEINHARDT;
  d->chunk  = 8192;
  PetscCall(pm_steinhardt_create(comm, &d->st));
  PetscCall(pm_sf_create(comm, &d->sf));
  PetscCall(pm_pca_create(comm, &d->pca));
  PetscCall(PetscLogEventRegister("PmDescDomain", PETSC_OBJECT_CLASSID, &d->ev_domain));
  PetscCall(PetscLogEventRegister("PmDescNlist", PETSC_OBJECT_CLASSID, &d->ev_nlist));
  PetscCall(PetscLogEventRegister("PmDescSteinh", PETSC_OBJECT_CLASSID, &d->ev_steinhardt));
  PetscCall(PetscLogEventRegister("PmDescSF", PETSC_OBJECT_CLASSID, &d->ev_sf));
  PetscCall(PetscLogEventRegister("PmDescSOAP", PETSC_OBJECT_CLASSID, &d->ev_soap));
  PetscCall(PetscLogEventRegister("PmDescRedist", PETSC_OBJECT_CLASSID, &d->ev_redist));
  PetscCall(PetscLogEventRegister("PmDescWrite", PETSC_OBJECT_CLASSID, &d->ev_write));
  *desc = d;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode parse_blocks(pm_descriptors_t *d, const char *list)
{
  char buf[256], *tok, *save = NULL;
  int  n = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(buf, list, sizeof buf));
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int k;
    for (k = 0; k < PM_DESC_NKINDS; k++)
      if (!strcmp(tok, kind_names[k])) break;
    PetscCheck(k < PM_DESC_NKINDS, d->comm, PETSC_ERR_USER_INPUT, "-descriptor: unknown block '%s'; valid blocks are steinhardt,sf,soap,columns (comma list, e.g. -descriptor steinhardt,soap)", tok);
    for (int j = 0; j < n; j++) PetscCheck(d->blk[j] != k, d->comm, PETSC_ERR_USER_INPUT, "-descriptor: block '%s' is given twice", tok);
    PetscCheck(n < PM_DESC_MAXBLK, d->comm, PETSC_ERR_USER_INPUT, "-descriptor: too many blocks");
    d->blk[n++] = k;
  }
  PetscCheck(n > 0, d->comm, PETSC_ERR_USER_INPUT, "-descriptor: give at least one of steinhardt,sf,soap,columns");
  d->nblk = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The SOAP object tabulates its radial integrals when created (about a second), so it exists only
 * when the soap block is used (or -help lists every option); -soap_* options without the block are
 * an error that says so. */
static PetscErrorCode soap_from_options(pm_descriptors_t *d)
{
  PetscBool         used = PETSC_FALSE, help = PETSC_FALSE;
  const char *const opts[] = {"-soap_nmax", "-soap_lmax", "-soap_cutoff", "-soap_sigma"};

  PetscFunctionBeginUser;
  for (int b = 0; b < d->nblk; b++) used = used || d->blk[b] == PM_DESC_SOAP;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (used || help) {
    if (!d->soap) PetscCall(pm_soap_create(d->comm, &d->soap));
    PetscCall(pm_soap_set_from_options(d->soap));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  for (int k = 0; k < 4; k++) {
    PetscBool set;
    PetscCall(PetscOptionsHasName(NULL, NULL, opts[k], &set));
    PetscCheck(!set, d->comm, PETSC_ERR_USER_INPUT, "%s is given but -descriptor does not include soap; add it (e.g. -descriptor soap) or drop %s", opts[k], opts[k]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_descriptors_set_from_options(pm_descriptors_t *d)
{
  char     list[256] = "steinhardt";
  PetscInt chunk     = (PetscInt)d->chunk;

  PetscFunctionBeginUser;
  PetscOptionsBegin(d->comm, NULL, "Per-atom descriptors (stage descriptors)", NULL);
  PetscCall(PetscOptionsString("-descriptor", "descriptor blocks, concatenated in this order: steinhardt,sf,soap,columns", "", list, list, sizeof list, NULL));
  PetscCall(PetscOptionsBoundedInt("-descriptor_chunk", "atoms per neighbour-list chunk (memory vs. overhead)", "", chunk, &chunk, NULL, 1));
  PetscOptionsEnd();
  d->chunk = chunk;
  PetscCall(parse_blocks(d, list));
  PetscCall(pm_steinhardt_set_from_options(d->st));
  PetscCall(pm_sf_set_from_options(d->sf));
  PetscCall(soap_from_options(d));
  PetscCall(pm_pca_set_from_options(d->pca));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode free_names(pm_descriptors_t *d)
{
  PetscFunctionBeginUser;
  if (d->names)
    for (int k = 0; k < d->dim; k++) PetscCall(PetscFree(d->names[k]));
  PetscCall(PetscFree(d->names));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Append the block's names (taking ownership of the strings) to d->names at column col. */
static void take_names(pm_descriptors_t *d, int col, int n, char **names)
{
  for (int k = 0; k < n; k++) d->names[col + k] = names[k];
}

PetscErrorCode pm_descriptors_setup(pm_descriptors_t *d, int nspecies, const char *const *species, int n_extra, const char *const *extra_names)
{
  int    nnn = 0, col = 0;
  double rc;

  PetscFunctionBeginUser;
  PetscCall(free_names(d));
  d->nspecies = nspecies;
  d->n_extra  = n_extra;
  for (int s = 0; s < nspecies && s < PM_SPECIES_MAX; s++) PetscCall(PetscStrncpy(d->species[s], species[s], PM_NAME_MAX));
  d->rc     = 0.0;
  d->max_nb = 0;
  d->dim    = 0;
  for (int b = 0; b < d->nblk; b++) {
    switch (d->blk[b]) {
    case PM_DESC_STEINHARDT:
      PetscCall(pm_steinhardt_get_dim(d->st, &d->blk_dim[b]));
      PetscCall(pm_steinhardt_get_neighbours(d->st, &rc, &nnn));
      break;
    case PM_DESC_SF:
      PetscCall(pm_sf_get_dim(d->sf, nspecies, &d->blk_dim[b]));
      PetscCall(pm_sf_get_cutoff(d->sf, &rc));
      break;
    case PM_DESC_SOAP:
      PetscCall(pm_soap_get_dim(d->soap, nspecies, &d->blk_dim[b]));
      PetscCall(pm_soap_get_cutoff(d->soap, &rc));
      break;
    default:
      PetscCheck(n_extra > 0, d->comm, PETSC_ERR_USER_INPUT, "-descriptor columns: no per-atom columns selected; give them with -columns (e.g. -columns c_feat[1]:c_feat[64])");
      d->blk_dim[b] = n_extra;
      rc            = 0.0;
    }
    d->blk_col[b] = d->dim;
    d->dim += d->blk_dim[b];
    d->rc = PetscMax(d->rc, rc);
  }
  /* Only Steinhardt with nearest-N needs just the N nearest; any other block needs every pair. */
  if (d->nblk == 1 && d->blk[0] == PM_DESC_STEINHARDT) d->max_nb = nnn;
  PetscCall(PetscCalloc1(d->dim + 1, &d->names));
  for (int b = 0; b < d->nblk; b++) {
    char **nm = NULL;
    col       = d->blk_col[b];
    if (d->blk[b] == PM_DESC_STEINHARDT)
      PetscCall(pm_steinhardt_feature_names(d->st, &nm));
    else if (d->blk[b] == PM_DESC_SF)
      PetscCall(pm_sf_feature_names(d->sf, nspecies, species, &nm));
    else if (d->blk[b] == PM_DESC_SOAP)
      PetscCall(pm_soap_feature_names(d->soap, nspecies, &nm));
    else {
      PetscCall(PetscMalloc1(n_extra, &nm));
      for (int k = 0; k < n_extra; k++) PetscCall(PetscStrallocpy(extra_names ? extra_names[k] : "column", &nm[k]));
    }
    take_names(d, col, d->blk_dim[b], nm);
    PetscCall(PetscFree(nm));
  }
  d->ready = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_descriptors_view(const pm_descriptors_t *d)
{
  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(d->comm, "descriptors: %" PRId64 " atoms in %" PRId64 " frames, %d columns (", d->n_global, d->nframes, d->dim));
  for (int b = 0; b < d->nblk; b++) PetscCall(PetscPrintf(d->comm, "%s%s %d", b ? ", " : "", kind_names[d->blk[b]], d->blk_dim[b]));
  PetscCall(PetscPrintf(d->comm, "), neighbour cutoff %g, %.2f s\n", d->rc, d->seconds));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_descriptors_free_results(pm_descriptors_t *d)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(d->timestep));
  PetscCall(PetscFree2(d->frame, d->id));
  PetscCall(PetscFree(d->species_of));
  PetscCall(PetscFree(d->pos));
  PetscCall(PetscFree(d->x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_descriptors_destroy(pm_descriptors_t **desc)
{
  pm_descriptors_t *d = *desc;

  PetscFunctionBeginUser;
  if (!d) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(free_names(d));
  PetscCall(pm_descriptors_free_results(d));
  PetscCall(pm_steinhardt_destroy(&d->st));
  PetscCall(pm_sf_destroy(&d->sf));
  PetscCall(pm_soap_destroy(&d->soap));
  PetscCall(pm_pca_destroy(&d->pca));
  PetscCall(PetscFree(*desc));
  PetscFunctionReturn(PETSC_SUCCESS);
}
