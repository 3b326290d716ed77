/* Intrinsic dimension (stage "id"): TwoNN (ALGORITHMS.md 2.1) and GRIDE (2.2). */
#pragma once
#include <phasemap/graph.h>

typedef struct pm_id pm_id_t;

/* Collective. Free with pm_id_destroy. */
PetscErrorCode pm_id_create(MPI_Comm comm, pm_id_t **id);
/* Reads -twonn_fraction (default 0.9), -gride_range_max (default 64). Collective. */
PetscErrorCode pm_id_set_from_options(pm_id_t *id);
/* TwoNN and the GRIDE ladder on the graph. Results identical for any rank count. Collective. */
PetscErrorCode pm_id_compute(pm_id_t *id, const pm_graph_t *graph);
/* TwoNN estimate (and its error, 0 for the closed-form fit). Not collective. */
PetscErrorCode pm_id_get_twonn(const pm_id_t *id, double *d, double *err);
/* GRIDE ladder: number of estimates and borrowed arrays (nscales each; any pointer may be NULL).
 * Not collective. */
PetscErrorCode pm_id_get_gride(const pm_id_t *id, int *nscales, const double **ids, const double **errs, const double **scales, const int64_t **n1, const int64_t **n2);
/* Rank 0 prints the TwoNN / GRIDE table. Collective. */
PetscErrorCode pm_id_view(const pm_id_t *id);
/* /id/twonn/{id,error,scale}, /id/gride/{scale,id,error,n1,n2}. Collective. */
PetscErrorCode pm_id_write(const pm_id_t *id, pm_output_t *out);
PetscErrorCode pm_id_destroy(pm_id_t **id);
