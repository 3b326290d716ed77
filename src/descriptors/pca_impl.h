/* Private parts of standardisation and PCA (pca.c, pca_cov.c, pca_eig.c, pca_write.c).
 * Definitions and reproducibility rules: docs/soap.md ("Standardisation and PCA"). */
#pragma once
#include "desc_impl.h"

#define PM_PCA_BLOCK 1024 /* covariance partials over global rows [k B, (k+1) B): independent of P */
#define PM_PCA_PANEL 32   /* covariance columns per reduction panel (bounds memory) */

typedef enum { PM_PCA_EIG_SCALAPACK, PM_PCA_EIG_LAPACK } pm_pca_eig_t;

struct pm_pca {
  MPI_Comm     comm; /* borrowed */
  PetscBool    standardize;
  int          ncomp_req;    /* -pca_components (0: not given) */
  double       var_req;      /* -pca_variance (0: not given) */
  pm_pca_eig_t eigensolver;  /* -pca_eigensolver */
  int          nb;           /* ScaLAPACK block size (0: automatic) */
  /* results of pm_pca_apply */
  int          dim;          /* D of the input */
  int          ncomp;        /* m (0: no projection) */
  int          n_zero_var;   /* columns left unscaled */
  double       total_var;    /* trace of the covariance */
  double      *mean, *scale; /* D each (scale = 1 where not standardised) */
  double      *loadings;     /* ncomp x D, row c = component c */
  double      *ev, *evr;     /* explained variance (and ratio) of the ncomp components */
  int          grid[2];      /* process grid used by pdsyevd */
  PetscLogEvent ev_stats, ev_cov, ev_eig, ev_proj;
};

/* Column means and population standard deviations of X (reproducible sums). Collective. */
PetscErrorCode pm_pca_column_stats(const pm_rows_t *X, double *mean, double *std);
/* C (D x D, full, replicated) = sum over all rows z z^T of Z, bitwise independent of the number of
 * ranks: partial sums over fixed global row blocks (BLAS), then pm_sum_repro. Collective. */
PetscErrorCode pm_pca_covariance(const pm_rows_t *Z, double *C);
/* All eigenpairs of the replicated symmetric C (D x D): w ascending, V column-major (column j =
 * eigenvector j), replicated on every rank. ScaLAPACK pdsyevd on a block-cyclic grid over comm, or
 * LAPACK dsyevd on every rank. grid receives the process grid used. Collective. */
PetscErrorCode pm_pca_eigen(MPI_Comm comm, pm_pca_eig_t how, int nb, int D, const double *C, double *w, double *V, int grid[2]);
/* Borrowed views of the results of pm_pca_apply (valid until pm_pca_destroy). Not collective. */
PetscErrorCode pm_pca_get_components(const pm_pca_t *p, int *ncomp, const double **loadings, const double **ev, const double **evr);
PetscErrorCode pm_pca_get_scaling(const pm_pca_t *p, int *dim, const double **mean, const double **scale, int *n_zero_var);
