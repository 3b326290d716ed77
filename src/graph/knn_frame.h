/* Private: the coordinate frame of a kd-tree (knn_frame.c) and tree creation with an explicit
 * frame choice (knn_tree.c). */
#pragma once
#include "graph/graph_impl.h"

/* knn_frame.c: coordinate frame of a kd-tree: the identity, or the m leading principal axes of a
 * block that lies near an m-dimensional linear subspace (z = R (x - mu), R m x dim, padded with
 * zero rows to mp, a multiple of 4, stored transposed: R[d mp + j]). Frame distances only prune, through a rigorous threshold. */
typedef struct {
  int     dim, m, mp;
  double *mu, *R;             /* NULL for the identity frame */
  double  grow, cE, c1, c2;   /* rounding constants of knn_frame_thresh (knn_frame.c) */
} knn_frame_t;
void           knn_frame_identity(int dim, knn_frame_t *F);
PetscErrorCode knn_frame_local(const knn_block_t *b, knn_frame_t *F);
void           knn_frame_free(knn_frame_t *F);
/* The na leading principal axes (unit rows, na x dim) of a strided sample of at most cap rows of b
 * (n >= 2); the coordinate axes if the eigensolver fails. */
PetscErrorCode knn_principal_axes(const knn_block_t *b, pm_gidx_t cap, int na, double *axes);
/* z (mp values) of row x (w: dim doubles of scratch); returns e(x), the error bound of z. */
double knn_frame_project(const knn_frame_t *F, const double *x, double *z, double *w);
/* z (n x mp) of the n rows x (n x dim), by blocks of rows and one dgemm each (any summation order
 * keeps the error bound e(x)); emax rises to the largest e(x). The identity frame: a copy. */
PetscErrorCode knn_frame_project_rows(const knn_frame_t *F, const double *x, pm_gidx_t n, double *z, double *emax);
/* Largest computed frame (or frame box) squared distance a pair can have when its knn_dist2 is
 * <= b2; a = e(x) + e(y). The identity frame: b2 itself. */
static inline double knn_frame_thresh(const knn_frame_t *F, double b2, double a)
{
  double r;
  if (!F->R) return b2;
  r = F->grow * PetscSqrtReal(b2 * F->c1) + a;
  return r * r * F->c2;
}

/* rotate: search in the block's principal-axes frame when the block is low-dimensional
 * (knn_frame_local); knn_tree_create does. PETSC_FALSE: always the input coordinates. */
PetscErrorCode knn_tree_create_frame(const knn_block_t *b, int leaf, PetscBool rotate, knn_tree_t **t);
/* Frame coordinates the tree searches in: m of a rotated frame, 0 for the input coordinates. */
int knn_tree_frame_dims(const knn_tree_t *t);
