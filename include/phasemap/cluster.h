/* Clustering (stage "cluster"): DPA (ALGORITHMS.md 4.1) and classic density peaks (4.2). */
#pragma once
#include <phasemap/density.h>

typedef struct pm_cluster pm_cluster_t;

PetscErrorCode pm_cluster_create(MPI_Comm comm, pm_cluster_t **cl);
/* Reads -cluster_method dpa|dp, -cluster_density, -dpa_z, -dpa_halo, -dp_rho_cut, -dp_delta_cut. */
PetscErrorCode pm_cluster_set_from_options(pm_cluster_t *cl);
/* The density estimator this clusterer needs (main asks the density stage for it). */
PetscErrorCode pm_cluster_get_density_kind(const pm_cluster_t *cl, pm_den_kind_t *kind);
/* Cluster the points. X, graph, density borrowed. Collective. */
PetscErrorCode pm_cluster_compute(pm_cluster_t *cl, const pm_rows_t *X, const pm_graph_t *graph, const pm_density_t *den);
/* Borrowed local labels (n_local; -1 = halo) and the number of clusters. */
PetscErrorCode pm_cluster_get_labels(const pm_cluster_t *cl, const int64_t **label, int64_t *nclusters);
PetscErrorCode pm_cluster_view(const pm_cluster_t *cl);
/* /clusters/... Collective. */
PetscErrorCode pm_cluster_write(const pm_cluster_t *cl, pm_output_t *out);
PetscErrorCode pm_cluster_destroy(pm_cluster_t **cl);
