/* Private state of the density stage driver and its estimators (kNN, k*NN, PAk); BMTI lives
 * behind density/bmti.h. Only src/density/density*.c, kstar.c, knn_density.c, pak.c include this. */
#pragma once
#include <phasemap/density.h>
#include <phasemap/io.h>
#include "density/bmti.h"

#define PM_KSTAR_DTHR_1E6 23.928126976934827 /* chi2.isf(1e-6, 1) */

struct pm_density {
  MPI_Comm      comm; /* duplicated */
  PetscBool     want[PM_DEN_COUNT], done[PM_DEN_COUNT];
  double        id_opt; /* -density_id (0 = not given) */
  double        id_used;
  PetscInt      knn_k, pak_maxit;
  double        kstar_alpha, dthr;
  pm_gidx_t     n_global, row_start, n_local;
  int           graph_k;
  double       *log_den[PM_DEN_COUNT], *err[PM_DEN_COUNT];
  int64_t      *kstar; /* k* of the k*NN test, or the constant k when only kNN ran */
  PetscBool     kstar_is_test;
  pm_gidx_t     kstar_capped; /* points with k* = k - 1 (test never rejected) */
  int64_t       kstar_min, kstar_max;
  pm_gidx_t     pak_failed, pak_skipped, pak_singular;
  int64_t       pak_max_its;
  int64_t      *component; /* BMTI connected component per point */
  pm_bmti_t    *bmti;
  PetscLogEvent ev_kstar, ev_knn, ev_pak, ev_bmti;
};

/* Volume of the unit d-ball computed as exp(d/2 log(pi) - lgamma((d+2)/2)); callers take log() of
 * it (not the exponent itself) so the rounding matches the reference implementation. */
double pm_den_omega(double d);
/* Upper 1-dof chi-square quantile: the Dthr with P(chi2_1 > Dthr) = alpha, alpha in (0, 1). */
PetscErrorCode pm_den_chi2_isf1(MPI_Comm comm, double alpha, double *dthr);
/* k* by the likelihood-ratio test (ALGORITHMS.md 3.1); neighbour distances fetched in bulk.
 * kstar: n_local, caller-allocated. *ncapped: global number of points with k* = k - 1. Collective. */
PetscErrorCode pm_den_kstar(const pm_graph_t *g, double d, double dthr, int64_t *kstar, pm_gidx_t *ncapped);
/* kNN-type estimate with per-point k_i (ALGORITHMS.md 3.2): log rho = log k - log omega - d log r_k - log N,
 * error 1/sqrt(k). Checks r_k > 0 collectively. Collective (error agreement only). */
PetscErrorCode pm_den_knn(const pm_graph_t *g, double d, const int64_t *k, double *log_den, double *err);
/* PAk damped Newton (ALGORITHMS.md 3.3). Global counts of failed (iteration cap), skipped (a shell
 * volume < 1e-300) and singular-Hessian points; largest iteration count. Collective. */
PetscErrorCode pm_den_pak(const pm_graph_t *g, double d, const int64_t *kstar, PetscInt maxit, double *log_den, double *err, pm_gidx_t *nfailed, pm_gidx_t *nskipped, pm_gidx_t *nsingular, int64_t *max_its);
