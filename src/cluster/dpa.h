/* Clustering internals (ALGORITHMS.md 4.1 DPA, 4.2 classic density peaks): private interface between
 * the stage object (cluster.c), the distributed kernels (dpa_*.c, dp.c), their serial twins
 * (dpa_ref.c) and the tests. Every array described as "local" has n_local entries in the row layout
 * of the graph (local row i = global point row_start + i). */
#pragma once
#include <phasemap/cluster.h>

/* Inputs of one DPA run: everything is borrowed. kstar[i] is a neighbour COUNT in 1..ncol-1. */
typedef struct {
  const pm_graph_t    *graph;   /* neighbour table, self in column 0 */
  const double        *log_den; /* local log densities */
  const double        *err;     /* local errors */
  const int64_t       *kstar;   /* local k* */
  double               Z;       /* merging significance */
  PetscBool            halo;    /* label halo points -1 */
  const PetscLogEvent *events;  /* NULL, or 4 events: peaks, assign, saddles, merge (registered by the caller) */
} pm_dpa_input_t;

/* Result of DPA (and of classic DP, where the saddle and merge fields stay empty).
 * Replicated fields (same on every rank) describe the K final clusters. */
typedef struct {
  int64_t    K;               /* final clusters */
  int64_t    K_pre;           /* clusters before merging (surviving putative centres) */
  int64_t    n_putative;      /* putative centres before pruning */
  int64_t   *label;           /* local: 0..K-1, -1 = halo */
  pm_gidx_t *center;          /* K: global index of each cluster's centre */
  int64_t   *population;      /* K: points labelled c (halo excluded) */
  int64_t   *core_population; /* K: points assigned to c before the halo cut */
  double    *peak_log_den;    /* K: log density of the centre */
  double    *peak_err;        /* K: its error */
  double    *saddle;          /* K x K: saddle log density, DADApy convention (no border m-1, diagonal m-2) */
  double    *saddle_err;      /* K x K */
  pm_gidx_t *border;          /* K x K: saddle point, -1 where none and on the diagonal */
  int64_t    n_merges;
  pm_gidx_t *merge_absorbed; /* n_merges: centre of the absorbed cluster */
  pm_gidx_t *merge_survivor; /* n_merges: centre of the cluster that absorbed it */
  double    *merge_saddle;   /* n_merges: saddle log density between them (unshifted) */
  double    *merge_margin;   /* n_merges: normalised margin (rho_c - B)/(eps + eps_B) of the absorbed cluster */
  double     log_den_min;    /* m = min(log_den - Z err) */
  int        jump_rounds;    /* pointer-jumping rounds across ranks */
  int64_t    n_fallback;     /* points assigned by the spec's fallback (no labelled neighbour in the row) */
  double     seconds[5];     /* peaks, assign, saddles, merge, halo+final */
} pm_dpa_result_t;

PetscErrorCode pm_dpa_result_destroy(pm_dpa_result_t **res);

/* Distributed DPA (4.1) on the ranks of in->graph->comm. Labels identical for any rank count.
 * Output: new result owned by the caller. Errors (every rank): k* outside 1..ncol-1, NaN input. */
PetscErrorCode pm_dpa_compute(const pm_dpa_input_t *in, pm_dpa_result_t **res);

/* Serial twin (test oracle): the spec's sequential algorithm on the whole data set held by one
 * process (n points, row-major ind n x ncol). Same output convention (label has n entries). */
PetscErrorCode pm_dpa_ref(pm_gidx_t n, int ncol, const pm_gidx_t *ind, const double *log_den, const double *err, const int64_t *kstar, double Z, PetscBool halo, pm_dpa_result_t **res);

/* Classic density peaks (4.2). rho_cut/delta_cut: PETSC_DEFAULT selects the automatic rule.
 * delta/ref: caller-allocated local arrays (n_local). Collective. */
typedef struct {
  const pm_rows_t  *X;
  const pm_graph_t *graph;
  const double     *log_den;
  double            rho_cut, delta_cut;
  PetscBool         auto_cut; /* automatic rule (docs/clustering.md) instead of the cuts */
} pm_dp_input_t;

PetscErrorCode pm_dp_compute(const pm_dp_input_t *in, double *delta, pm_gidx_t *ref, double *rho_cut_used, double *delta_cut_used, pm_dpa_result_t **res);
/* Serial twin of the decision graph (all points on one process, X n x dim). */
PetscErrorCode pm_dp_delta_ref(pm_gidx_t n, int dim, const double *X, int ncol, const pm_gidx_t *ind, const double *dist, const double *log_den, double *delta, pm_gidx_t *ref);

/* ---- shared machinery (dpa_comm.c, dpa_assign.c) ------------------------------------------------ */

/* Neighbour data of the local rows: every index of columns 0..ncol-1 mapped to a slot, slot < n_local
 * for local points, n_local + j for ghost j (ghost = sorted unique non-local indices). */
typedef struct {
  MPI_Comm   comm;
  int        rank, size;
  pm_gidx_t *starts; /* size+1 row starts */
  pm_gidx_t  n_local, row_start, nghost;
  int        ncol;
  pm_gidx_t *ghost; /* nghost sorted global indices */
  int32_t   *slot;  /* n_local x ncol */
} pm_dpa_nbr_t;

PetscErrorCode pm_dpa_nbr_create(const pm_graph_t *graph, pm_dpa_nbr_t **nb);
/* data: (n_local + nghost) elements of elem_size; fills the ghost part from the owners. Collective. */
PetscErrorCode pm_dpa_nbr_refresh(pm_dpa_nbr_t *nb, size_t elem_size, void *data);
/* Slot of an arbitrary global index that appears in the local rows (or is local); -1 if unknown. */
int64_t        pm_dpa_nbr_lookup(const pm_dpa_nbr_t *nb, pm_gidx_t g);
PetscErrorCode pm_dpa_nbr_destroy(pm_dpa_nbr_t **nb);
/* Owner rank of global index g under starts. */
int pm_dpa_owner(const pm_gidx_t *starts, int size, pm_gidx_t g);

/* Send fixed-width int64 records to ranks dest[r]; received records (from all ranks, grouped by
 * source rank in increasing order, each group in the sender's order) are returned in *recv.
 * A plan kept for an optional reply (pm_dpa_route_reply) is freed by pm_dpa_route_free. */
typedef struct {
  MPI_Comm   comm;
  int        size;
  int       *scnt, *sdsp, *rcnt, *rdsp;
  pm_gidx_t *perm; /* sent position -> original record */
  pm_gidx_t  n, nrecv;
} pm_dpa_route_t;
PetscErrorCode pm_dpa_route(MPI_Comm comm, pm_gidx_t n, int w, const int *dest, const int64_t *rec, int64_t **recv, pm_gidx_t *nrecv, pm_dpa_route_t **plan);
/* Send wr int64 per received record back; out (n x wr) in the original record order. */
PetscErrorCode pm_dpa_route_reply(pm_dpa_route_t *plan, int wr, const int64_t *reply, int64_t *out);
PetscErrorCode pm_dpa_route_free(pm_dpa_route_t **plan);

/* Resolve a forest given by parent pointers (global indices; roots point to themselves and have
 * root_label >= 0) to the label of each local point's root: local path compression, then pointer
 * jumping across ranks. rounds: number of cross-rank rounds. Collective. */
PetscErrorCode pm_dpa_resolve_forest(MPI_Comm comm, pm_gidx_t row_start, pm_gidx_t n_local, const pm_gidx_t *parent, const int64_t *root_label, int64_t *label, int *rounds);

/* Doubles carried in int64 records. */
static inline int64_t pm_dpa_d2i(double d)
{
  int64_t v;
  __builtin_memcpy(&v, &d, sizeof v);
  return v;
}
static inline double pm_dpa_i2d(int64_t v)
{
  double d;
  __builtin_memcpy(&d, &v, sizeof d);
  return d;
}
