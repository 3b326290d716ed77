/* Private state of the intrinsic-dimension stage (src/id/ only). */
#pragma once
#include <phasemap/id.h>
#include <phasemap/io.h>

#define PM_GRIDE_MAX_SCALES 40

struct pm_id {
  MPI_Comm  comm; /* duplicated in pm_id_create */
  double    twonn_fraction;
  PetscInt  gride_range_max;
  PetscBool computed;
  /* TwoNN */
  double    twonn_id, twonn_err, twonn_scale;
  pm_gidx_t twonn_n, twonn_n_eff;
  PetscBool twonn_ml; /* fraction 1: maximum-likelihood formula */
  /* GRIDE ladder: estimate s uses ranks n1 = 2^s, n2 = 2^(s+1) */
  int           nscales;
  double        gride_id[PM_GRIDE_MAX_SCALES], gride_err[PM_GRIDE_MAX_SCALES], gride_scale[PM_GRIDE_MAX_SCALES];
  int64_t       gride_n1[PM_GRIDE_MAX_SCALES], gride_n2[PM_GRIDE_MAX_SCALES], gride_n_used[PM_GRIDE_MAX_SCALES];
  PetscLogEvent ev_twonn, ev_gride;
};

/* Distributed sort of n local doubles (no NaN): on return this rank holds the sorted slice
 * (*sorted, *n_sorted, owned by the caller) that starts at global position *offset of the sorted
 * sequence of all values. Collective. */
PetscErrorCode pm_id_sort(MPI_Comm comm, pm_gidx_t n, const double *v, double **sorted, pm_gidx_t *n_sorted, pm_gidx_t *offset);
/* Values at global sorted positions pos[0..m-1] (each in [0, N)), from the slices of pm_id_sort.
 * Collective; every rank gets the same values. */
PetscErrorCode pm_id_sorted_values(MPI_Comm comm, const double *sorted, pm_gidx_t n_sorted, pm_gidx_t offset, int m, const pm_gidx_t *pos, double *val);
/* numpy.percentile(values, q) with the default linear method, from the sorted slices. Collective. */
PetscErrorCode pm_id_percentile(MPI_Comm comm, const double *sorted, pm_gidx_t n_sorted, pm_gidx_t offset, pm_gidx_t n_total, double q, double *val);

PetscErrorCode pm_id_twonn(pm_id_t *id, const pm_graph_t *graph);
PetscErrorCode pm_id_gride(pm_id_t *id, const pm_graph_t *graph);
