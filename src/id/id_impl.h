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

/* Distributed sort of m independent groups of n local doubles each (v[g * n + i], no NaN); the
 * groups share every collective. On return *sorted (owned by the caller) holds, group after group,
 * this rank's slice of each group's sorted sequence: cnt[g] values starting at global position
 * off[g] of group g. Collective. */
PetscErrorCode pm_id_sort(MPI_Comm comm, int m, pm_gidx_t n, const double *v, double **sorted, pm_gidx_t *cnt, pm_gidx_t *off);
/* Values at global sorted positions pos[j] (in [0, N)) of groups group[j], j < nq, from the
 * slices of pm_id_sort. Collective (one allreduce); every rank gets the same values. */
PetscErrorCode pm_id_sorted_values(MPI_Comm comm, int m, const double *sorted, const pm_gidx_t *cnt, const pm_gidx_t *off, int nq, const int *group, const pm_gidx_t *pos, double *val);
/* numpy.percentile(values_g, q[j]) (default linear method) for every group g of n_total values:
 * out[g * nq + j]. Collective (one allreduce). */
PetscErrorCode pm_id_percentiles(MPI_Comm comm, int m, const double *sorted, const pm_gidx_t *cnt, const pm_gidx_t *off, pm_gidx_t n_total, int nq, const double *q, double *out);

PetscErrorCode pm_id_twonn(pm_id_t *id, const pm_graph_t *graph);
PetscErrorCode pm_id_gride(pm_id_t *id, const pm_graph_t *graph);
