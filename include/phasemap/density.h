/* Density estimation (stage "density"): kNN, k*NN, PAk, BMTI (ALGORITHMS.md section 3). */
#pragma once
#include <phasemap/graph.h>

typedef enum { PM_DEN_KNN = 0,
               PM_DEN_KSTARNN,
               PM_DEN_PAK,
               PM_DEN_BMTI,
               PM_DEN_COUNT } pm_den_kind_t;
extern const char *const pm_den_kind_names[]; /* "knn","kstarnn","pak","bmti" */

typedef struct pm_density pm_density_t;

PetscErrorCode pm_density_create(MPI_Comm comm, pm_density_t **den);
/* Reads -density (list), -density_id, -density_knn_k, -kstar_alpha, -bmti_* (incl. the KSP with
 * prefix bmti_). Collective. */
PetscErrorCode pm_density_set_from_options(pm_density_t *den);
/* Ask for an estimator in addition to -density (the cluster stage asks for its input). */
PetscErrorCode pm_density_require(pm_density_t *den, pm_den_kind_t kind);
/* Compute every requested estimator. id = intrinsic dimension to use unless -density_id was
 * given. X (coordinates, for BMTI gradients) and graph are borrowed. Collective. */
PetscErrorCode pm_density_compute(pm_density_t *den, const pm_rows_t *X, const pm_graph_t *graph, double id);
/* Borrowed local arrays (n_local) of a computed estimator: log density (normalised by log N) and
 * its error. Error if the estimator was not computed. Not collective. */
PetscErrorCode pm_density_get(const pm_density_t *den, pm_den_kind_t kind, const double **log_den, const double **err);
/* Whether an estimator was computed by the last pm_density_compute (requested or needed by one
 * that was). Not collective. */
PetscErrorCode pm_density_computed(const pm_density_t *den, pm_den_kind_t kind, PetscBool *done);
/* Borrowed local k* (n_local): the k*NN test's k* when any of kstarnn, pak, bmti ran; the constant
 * -density_knn_k when only knn ran (as the reference does). */
PetscErrorCode pm_density_get_kstar(const pm_density_t *den, const int64_t **kstar);
PetscErrorCode pm_density_view(const pm_density_t *den);
/* /density/<estimator>/{log_density,error}, /density/kstarnn/kstar, /density/bmti/component. */
PetscErrorCode pm_density_write(const pm_density_t *den, pm_output_t *out);
PetscErrorCode pm_density_destroy(pm_density_t **den);
