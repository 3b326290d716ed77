/* Private interfaces of the descriptors module (included only by src/descriptors/*.c). */
#pragma once
#include <phasemap/descriptors.h>

/* Neighbour list of the atoms a rank owns in one frame. The environment arrays hold the owned
 * atoms first (0..n_own-1) and then the ghost atoms (periodic images and atoms of other ranks)
 * up to n_all. For owned atom i its neighbours (all j != i with |r_j - r_i| < rc) are entries
 * off[i] .. off[i+1]-1: env index j[e] and d[4e..4e+3] = (dx, dy, dz, r) with d = r_j - r_i,
 * sorted by (r, then atom id) so that "nearest n" choices are deterministic. */
typedef struct {
  int64_t  n;       /* owned atoms */
  int64_t *off;     /* n + 1 */
  int64_t *j;       /* env index of each neighbour */
  double  *d;       /* 4 doubles per neighbour */
  double   rc;
  const int *species; /* species of every env atom (n_all), borrowed */
  int      nspecies;
} pm_nlist_t;

/* ---- SOAP (soap.c) ---- */
typedef struct pm_soap pm_soap_t;
PetscErrorCode pm_soap_create(MPI_Comm comm, pm_soap_t **s);
/* -soap_nmax, -soap_lmax, -soap_cutoff, -soap_sigma. Collective. */
PetscErrorCode pm_soap_set_from_options(pm_soap_t *s);
/* Number of SOAP features for nspecies species; the cutoff it needs. Not collective. */
PetscErrorCode pm_soap_get_dim(const pm_soap_t *s, int nspecies, int *dim);
PetscErrorCode pm_soap_get_cutoff(const pm_soap_t *s, double *rc);
/* Power spectrum of every owned atom of nl (nl->rc >= the SOAP cutoff; farther pairs ignored).
 * out: nl->n rows, row stride ldo, the dim features at columns col0.. . Not collective. */
PetscErrorCode pm_soap_compute(const pm_soap_t *s, const pm_nlist_t *nl, double *out, int ldo, int col0);
PetscErrorCode pm_soap_feature_names(const pm_soap_t *s, int nspecies, char ***names); /* PetscFree each + array */
PetscErrorCode pm_soap_destroy(pm_soap_t **s);

/* ---- standardisation and PCA (pca.c, ScaLAPACK) ---- */
typedef struct pm_pca pm_pca_t;
PetscErrorCode pm_pca_create(MPI_Comm comm, pm_pca_t **p);
/* -standardize, -pca_components m, -pca_variance f. Collective. */
PetscErrorCode pm_pca_set_from_options(pm_pca_t *p);
/* True if either standardisation or PCA is requested. */
PetscBool pm_pca_active(const pm_pca_t *p);
/* Standardise (if asked) and project onto the leading components (if asked); *X is replaced by
 * the transformed matrix (same row layout). Collective. */
PetscErrorCode pm_pca_apply(pm_pca_t *p, pm_rows_t **X);
/* /atoms/pca/{mean,scale,loadings,explained_variance,explained_variance_ratio}. Collective. */
PetscErrorCode pm_pca_write(const pm_pca_t *p, pm_output_t *out, const char *group);
PetscErrorCode pm_pca_destroy(pm_pca_t **p);
