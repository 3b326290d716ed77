/* Exact k-nearest-neighbour graph in descriptor space (stage "knn"). */
#pragma once
#include <phasemap/core.h>

typedef struct pm_output pm_output_t;

/* Result of the kNN stage: for each local point, its k nearest neighbours.
 * Convention of ALGORITHMS.md section 1: COLUMN 0 IS THE POINT ITSELF (distance 0, index = itself),
 * column r (1..k) is the r-th nearest neighbour; ncol = k + 1. Rows sorted by (distance, global
 * index). Layout equals the rows it was built from (row_start, n_local). Plain data: every stage
 * reads it directly. The /graph datasets written to the output EXCLUDE column 0. */
typedef struct {
  MPI_Comm   comm; /* borrowed */
  pm_gidx_t  n_global;
  pm_gidx_t  row_start;
  pm_gidx_t  n_local;
  int        k;            /* neighbours per point, excluding self */
  int        ncol;         /* k + 1 */
  pm_gidx_t *ind;          /* n_local x ncol global indices, ind[i*ncol + 0] = row_start + i */
  double    *dist;         /* n_local x ncol Euclidean distances, dist[i*ncol + 0] = 0 */
  pm_gidx_t  n_duplicates; /* points with an exact duplicate (distance 0 to another point) */
  int        method;       /* pm_knn_method_t actually used (PM_KNN_BRUTE or PM_KNN_TREE) */
  pm_gidx_t  n_input;      /* rows of the input before -duplicates drop (= n_global otherwise) */
  pm_gidx_t *kept_rows;    /* NULL, or with -duplicates drop: n_local original (input) row numbers */
  pm_gidx_t  n_researched; /* brute force: rows searched again (all ranks), their provisional bound too small (docs/knn.md) */
} pm_graph_t;

typedef enum { PM_KNN_AUTO,
               PM_KNN_BRUTE,
               PM_KNN_TREE } pm_knn_method_t;
typedef enum { PM_DUP_ERROR,
               PM_DUP_KEEP,
               PM_DUP_DROP } pm_dup_mode_t;
extern const char *const pm_knn_method_names[];
extern const char *const pm_dup_mode_names[];

typedef struct pm_knn pm_knn_t; /* builder: options and work buffers (opaque) */

/* Create a kNN builder on comm (duplicated internally). Collective. Free with pm_knn_destroy. */
PetscErrorCode pm_knn_create(MPI_Comm comm, pm_knn_t **knn);
/* Explicit k (never clipped; k >= N is an error at build time). Error if k < 2. Collective. */
PetscErrorCode pm_knn_set_k(pm_knn_t *knn, int k);
/* Reads -knn_k, -knn_method, -knn_tile, -knn_leaf, -duplicates (docs/knn.md). Collective. */
PetscErrorCode pm_knn_set_from_options(pm_knn_t *knn);
/* Build the exact graph of the block-distributed rows X (borrowed). Collective.
 * If -knn_k was not given and N-1 < default k, k is clipped with a warning; an explicit k >= N is
 * an error. With -duplicates drop, *X may be replaced by a new matrix without the duplicates
 * (the caller's X is destroyed and replaced). Output graph owned by the caller. */
PetscErrorCode pm_knn_build(pm_knn_t *knn, pm_rows_t **X, pm_graph_t **graph);
PetscErrorCode pm_knn_destroy(pm_knn_t **knn);

/* Set -knn_method / -duplicates from code; a later pm_knn_set_from_options lets the command line
 * override them. Not collective. */
PetscErrorCode pm_knn_set_method(pm_knn_t *knn, pm_knn_method_t method);
PetscErrorCode pm_knn_set_duplicates(pm_knn_t *knn, pm_dup_mode_t mode);

/* Free a graph (and its kept_rows). Not collective. Safe on NULL. */
PetscErrorCode pm_graph_destroy(pm_graph_t **graph);
/* Write /graph/knn_index and /graph/knn_dist (N x k, self excluded) and attributes. Collective. */
PetscErrorCode pm_graph_write(const pm_graph_t *graph, pm_output_t *out);
