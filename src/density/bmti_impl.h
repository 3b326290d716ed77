/* BMTI implementation internals (only bmti*.c include this). One compute call builds a bmti_work_t:
 * the directed neighbour graph (DNG) of local points, a halo of edge targets, the reverse edges
 * (incoming edges of local points, received once from their owners) and per-edge quantities. */
#pragma once
#include "density/bmti.h"
#include <petscksp.h>

typedef enum { PM_BMTI_ERR_KSTARNN,
               PM_BMTI_ERR_EXACT,
               PM_BMTI_ERR_PROBE } pm_bmti_err_t;
extern const char *const pm_bmti_err_names[];

#define PM_BMTI_ERRORS_MAX_N_DEFAULT 10000
#define PM_BMTI_PROBES_DEFAULT       48

struct pm_bmti {
  MPI_Comm      comm; /* duplicated */
  double        alpha;
  pm_bmti_err_t errors;
  PetscInt      probes, errors_max_n, seed;
  PetscBool     untruncated; /* -bmti_errors_untruncated: exact Moore-Penrose (drop only the null space) */
  KSP           ksp;
  PetscLogEvent ev_graph, ev_grads, ev_var, ev_common, ev_deltaf, ev_comp, ev_assemble, ev_solve, ev_errors;
  /* statistics of the last compute */
  PetscBool          computed;
  PetscInt           its, probe_its;
  PetscReal          rnorm, rnorm0;
  KSPConvergedReason reason;
  pm_gidx_t          n_edges, n_components, n_pinned;
  PetscLogDouble     mallocs;
  double             t_graph, t_grads, t_assemble, t_solve, t_errors, t_total;
  double             w_min, w_max;
  PetscInt           n_kept; /* exact errors: eigenvalues kept by the cutoff */
};

typedef struct {
  MPI_Comm          comm;
  int               rank, size;
  pm_gidx_t         N, row_start, n_local, *starts; /* starts: size+1 row starts of the layout */
  int               D, ncol;
  double            id;
  const pm_graph_t *g;
  const double     *x;     /* local coordinates n_local x D */
  const int64_t    *kstar; /* local k* */
  /* outgoing edges (i -> ind[i][r], r = 1..k*_i-1), CSR by local source */
  pm_gidx_t *eptr, n_out;
  pm_gidx_t *etgt; /* global target */
  pm_gidx_t *eh;   /* index of the target in halo[] */
  /* halo of targets: sorted unique global ids, with their coordinates, gradients, k* */
  pm_gidx_t n_halo, *halo;
  double   *hx, *hg;
  int64_t  *hk;
  /* reverse exchange: edges sent to the owner of their target, in send-slot order */
  int       *scnt, *sdsp, *rcnt, *rdsp; /* per-rank counts/displacements (edges) */
  pm_gidx_t *slot;                      /* slot[e] = send position of outgoing edge e */
  /* incoming edges (l -> j local), in receive order, and a CSR by local target */
  pm_gidx_t  n_in, *in_src, *in_tgt; /* in_src global, in_tgt local */
  pm_gidx_t *iptr, *iord;            /* edges of target j: iord[iptr[j]..iptr[j+1]) */
  pm_gidx_t  n_usrc, *usrc, *in_u;   /* sorted unique sources; in_u[r] = index of in_src[r] in usrc */
  /* per-edge values */
  double *grad;          /* local gradients n_local x D */
  double *v_src, *v_tgt; /* outgoing edge: Delta^T C Delta with C of source / of target */
  double *v_in;          /* incoming edge: Delta^T C_j Delta (j = local target) */
  double *dF, *w;        /* outgoing edge: log-density difference and weight */
  double *dF_in, *w_in;  /* incoming edge (received) */
  /* symmetrised structure: unique off-diagonal columns of each local row (sorted) */
  pm_gidx_t *cptr, *cols;
  double    *cval; /* sum of weights of the edges between row and column (before alpha) */
  double    *rhs0; /* sum_in w dF - sum_out w dF per row (before alpha) */
  double    *wsum; /* sum of weights of the edges touching the row (before alpha) */
  /* components: global min index (label) and compact id per local point */
  pm_gidx_t *label, *comp, n_comp;
  pm_gidx_t *col_label; /* label of each column in cols[] */
} bmti_work_t;

PetscErrorCode bmti_work_setup(bmti_work_t *w, MPI_Comm comm, const pm_rows_t *X, const pm_graph_t *g, double id, const int64_t *kstar);
PetscErrorCode bmti_work_destroy(bmti_work_t *w);
PetscErrorCode bmti_work_release_edges(bmti_work_t *w);
PetscErrorCode bmti_graph_edges(bmti_work_t *w);
PetscErrorCode bmti_graph_reverse(bmti_work_t *w);
PetscErrorCode bmti_exchange_to_targets(bmti_work_t *w, const double *out_vals, double *in_vals);
PetscErrorCode bmti_exchange_to_sources(bmti_work_t *w, const double *in_vals, double *out_vals);
PetscErrorCode bmti_common_neighbours(bmti_work_t *w, int64_t *common);
PetscErrorCode bmti_grads(bmti_work_t *w);
PetscErrorCode bmti_variances(bmti_work_t *w);
PetscErrorCode bmti_halo_fetch(bmti_work_t *w);
PetscErrorCode bmti_deltaf(bmti_work_t *w, const int64_t *common, double *wmin, double *wmax);
PetscErrorCode bmti_structure(bmti_work_t *w);
PetscErrorCode bmti_components(bmti_work_t *w);
PetscErrorCode bmti_assemble(pm_bmti_t *b, bmti_work_t *w, const double *ref, const double *ref_err, PetscBool pin, Mat *A, Vec *rhs);
PetscErrorCode bmti_solve(pm_bmti_t *b, bmti_work_t *w, Mat A, Vec rhs, const double *ref, double *log_den);
PetscErrorCode bmti_shift(bmti_work_t *w, const double *ref, double *log_den);
PetscErrorCode bmti_errors_exact(pm_bmti_t *b, bmti_work_t *w, const double *ref_err, double *err);
PetscErrorCode bmti_errors_probe(pm_bmti_t *b, bmti_work_t *w, Mat A, double *err);
/* Sort helpers shared by the bmti files. */
void      bmti_sort_gidx(pm_gidx_t *v, pm_gidx_t n);
pm_gidx_t bmti_find(const pm_gidx_t *v, pm_gidx_t n, pm_gidx_t key);
int       bmti_owner(const bmti_work_t *w, pm_gidx_t g);

/* bmti.c: BoomerAMG defaults under -<prefix>pc_hypre_boomeramg_* (HMIS, ext+i, P_max 4, strong
 * threshold 0.5, agg_nl levels of aggressive coarsening, optionally the Chebyshev smoother); values
 * already in the options database win. */
PetscErrorCode bmti_hypre_defaults(const char *prefix, int agg_nl, PetscBool chebyshev);
