/* DPA internals shared by dpa_*.c only (not by tests): the working state of one distributed run. */
#pragma once
#include "dpa.h"

/* Point order of the sequential visit: decreasing g, ties by increasing global index. */
static inline int dpa_ranks_higher(double gj, pm_gidx_t j, double gi, pm_gidx_t i)
{
  return gj > gi || (gj == gi && j < i);
}

/* A border candidate / saddle between preliminary clusters a < b. */
typedef struct {
  int64_t   a, b;
  double    g;    /* g of the border point (selection key) */
  int64_t   side; /* 0 if the point belongs to a, 1 if to b (DADApy visits cluster a first) */
  pm_gidx_t p;    /* border point */
  double    rc;   /* its shifted density rho_c */
  double    err;  /* its error */
} dpa_edge_t;

static inline int dpa_edge_better(const dpa_edge_t *x, const dpa_edge_t *y)
{
  if (x->g != y->g) return x->g > y->g;
  if (x->side != y->side) return x->side < y->side;
  return x->p < y->p;
}

typedef struct {
  const pm_dpa_input_t *in;
  MPI_Comm              comm;
  int                   rank, size;
  pm_gidx_t             n_local, row_start, n_global;
  int                   ncol;
  pm_dpa_nbr_t         *nb;
  double                m;       /* min(log_den - Z err) */
  double               *rc;      /* local rho_c */
  double               *g;       /* n_local + nghost */
  int64_t              *clab;    /* local: preliminary cluster of a surviving centre, else -1 */
  pm_gidx_t            *higher;  /* local: for a removed centre, the highest point having it within k*; else -1 */
  double               *ghigher; /* local: g of that point */
  int64_t               n_putative, K_pre;
  int64_t              *label; /* n_local + nghost preliminary labels */
  /* replicated per preliminary cluster */
  pm_gidx_t  *cen; /* centre index */
  double     *cen_rc, *cen_err, *cen_logden;
  int64_t     n_edges;
  dpa_edge_t *edges; /* replicated saddles, sorted by (a, b) */
} dpa_work_t;

PetscErrorCode dpa_find_centres(dpa_work_t *w);
PetscErrorCode dpa_assign(dpa_work_t *w, pm_dpa_result_t *res);
PetscErrorCode dpa_find_saddles(dpa_work_t *w);
/* Merge (replicated) and write the final clusters into res (labels, matrices, history, halo). */
PetscErrorCode dpa_merge(dpa_work_t *w, pm_dpa_result_t *res);
PetscErrorCode dpa_finish(dpa_work_t *w, const int64_t *absorbed_by, const int64_t *final_of_pre, const double *halo_cut, pm_dpa_result_t *res);
