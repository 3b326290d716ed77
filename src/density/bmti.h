/* BMTI (ALGORITHMS.md 3.4-3.5) inside the density module: private interface between the density
 * stage driver (density.c) and the BMTI implementation (bmti_*.c). */
#pragma once
#include <phasemap/density.h>

typedef struct pm_bmti pm_bmti_t;

/* Collective. Free with pm_bmti_destroy. */
PetscErrorCode pm_bmti_create(MPI_Comm comm, pm_bmti_t **b);
/* -bmti_alpha, -bmti_errors kstarnn|exact|probe, -bmti_errors_probes, -bmti_errors_max_n, and the
 * KSP under prefix bmti_ (-bmti_ksp_type, -bmti_pc_type, -bmti_ksp_rtol, ...). Collective. */
PetscErrorCode pm_bmti_set_from_options(pm_bmti_t *b);
/* Solve for the log densities. X: coordinates (block rows, same layout as graph); kstar, the
 * k*NN log density and error: local arrays (n_local) from the density driver; id: the intrinsic
 * dimension. Outputs (n_local, caller-allocated): log_den, err, component (global component id
 * of each point). Collective. */
PetscErrorCode pm_bmti_compute(pm_bmti_t *b, const pm_rows_t *X, const pm_graph_t *graph, double id, const int64_t *kstar, const double *kstarnn_log_den, const double *kstarnn_err, double *log_den, double *err, int64_t *component);
/* Solver statistics as attributes of /density/bmti. Collective. */
PetscErrorCode pm_bmti_write(const pm_bmti_t *b, pm_output_t *out);
PetscErrorCode pm_bmti_view(const pm_bmti_t *b);
PetscErrorCode pm_bmti_destroy(pm_bmti_t **b);
/* Statistics of the last pm_bmti_compute (for tests and benchmarks): KSP iterations, final
 * residual norm, mallocs during assembly (MatGetInfo, global sum), number of connected components.
 * Not collective. */
PetscErrorCode pm_bmti_get_stats(const pm_bmti_t *b, PetscInt *its, PetscReal *rnorm, PetscLogDouble *mallocs, pm_gidx_t *n_components);
