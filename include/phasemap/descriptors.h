/* Per-atom local-environment descriptors (stage "descriptors"): Steinhardt q_l/w_l (and the
 * Lechner-Dellago averages), Behler-Parrinello G2/G4, SOAP; standardisation and PCA. */
#pragma once
#include <phasemap/io.h>

typedef struct pm_descriptors pm_descriptors_t;

PetscErrorCode pm_descriptors_create(MPI_Comm comm, pm_descriptors_t **d);
/* Reads -descriptor, -steinhardt_*, -sf_*, -soap_*, -standardize, -pca_*. Collective. */
PetscErrorCode pm_descriptors_set_from_options(pm_descriptors_t *d);
/* Compute descriptors of every atom of every selected frame. Output X: block rows in global atom
 * order (frame-major, atoms sorted by id within a frame), owned by the caller. Collective. */
PetscErrorCode pm_descriptors_compute(pm_descriptors_t *d, pm_traj_t *traj, pm_rows_t **X);
PetscErrorCode pm_descriptors_view(const pm_descriptors_t *d);
/* /atoms/{frame,id,species,position,descriptor} + names, PCA loadings. Collective. */
PetscErrorCode pm_descriptors_write(const pm_descriptors_t *d, pm_output_t *out);
PetscErrorCode pm_descriptors_destroy(pm_descriptors_t **d);
