/* The cluster stage object (private to src/cluster/). */
#pragma once
#include "dpa.h"
#include <phasemap/io.h>

typedef enum { PM_CLUSTER_DPA = 0,
               PM_CLUSTER_DP } pm_cluster_method_t;
extern const char *const pm_cluster_method_names[];

struct pm_cluster {
  MPI_Comm            comm;
  pm_cluster_method_t method;
  pm_den_kind_t       density;
  double              Z;
  PetscBool           halo;
  double              rho_cut, delta_cut, rho_cut_used, delta_cut_used;
  PetscBool           auto_cut, dp_plot;
  char                output[PM_PATH_MAX];
  PetscLogEvent       ev[5];
  pm_gidx_t           n_global, row_start, n_local;
  pm_dpa_result_t    *res;
  double             *delta;      /* dp: local delta */
  pm_gidx_t          *ref;        /* dp: local nearest higher-density point (-1 for global maxima) */
  double             *dp_log_den; /* dp: copy of the local log density (decision graph) */
  double              seconds;
};

/* Borrowed result of the last compute (tests, report). */
PetscErrorCode pm_cluster_get_result(const pm_cluster_t *cl, const pm_dpa_result_t **res);
/* Decision graph table (fixed-width text, MPI-IO) and PNG (gnuplot) next to the output. */
PetscErrorCode pm_cluster_write_decision_graph(const pm_cluster_t *cl);
