/* Standardisation and PCA on 1..size ranks (sub-communicators of the run): column statistics and
 * explained variance against a plain single-rank LAPACK (dsyevd) computation, covariance and
 * projection identical for every rank count, option errors. */
#include "descriptors/pca_impl.h"
#include "pm_test.h"
#include <math.h>

void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);

#define NROWS 3001 /* blocks of 1024 rows straddle the ranks */
#define DIM   24
#define LAT   4 /* latent dimensions: a clear gap in the spectrum */
#define FLAT  7 /* a constant column */

static double urand(uint64_t seed, uint64_t i)
{
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (i + 1);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static double value(pm_gidx_t g, int j)
{
  double x = 0.0;
  if (j == FLAT) return 3.25;
  for (int t = 0; t < LAT; t++) x += (urand(7, (uint64_t)(j * LAT + t)) - 0.5) * (t + 1) * (urand(11, (uint64_t)(g * LAT + t)) - 0.5);
  x += (0.02 + 0.004 * j) * (urand(13, (uint64_t)(g * DIM + j)) - 0.5);
  return x * pow(10.0, j % 5 - 2) + 100.0 * j;
}

static PetscErrorCode make_rows(MPI_Comm comm, pm_rows_t **X)
{
  PetscFunctionBeginUser;
  PetscCall(pm_rows_create(comm, NROWS, DIM, X));
  for (pm_gidx_t i = 0; i < (*X)->n_local; i++)
    for (int j = 0; j < DIM; j++) (*X)->x[i * DIM + j] = value((*X)->row_start + i, j);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Plain serial reference: mean, population std, standardised covariance, eigenpairs (descending,
 * sign: largest |component| positive). */
typedef struct {
  double mean[DIM], std[DIM], w[DIM], V[DIM * DIM]; /* V row c = component c */
} ref_t;

static PetscErrorCode reference(ref_t *r)
{
  static double Z[NROWS][DIM];
  double        C[DIM * DIM] = {0}, w[DIM], work[4096];
  int           D = DIM, lwork = 4096, iwork[1024], liwork = 1024, info;

  PetscFunctionBeginUser;
  for (int j = 0; j < DIM; j++) {
    double s = 0, ss = 0;
    for (int g = 0; g < NROWS; g++) s += value(g, j);
    r->mean[j] = s / NROWS;
    for (int g = 0; g < NROWS; g++) ss += (value(g, j) - r->mean[j]) * (value(g, j) - r->mean[j]);
    r->std[j] = sqrt(ss / NROWS);
    for (int g = 0; g < NROWS; g++) Z[g][j] = (value(g, j) - r->mean[j]) / (j == FLAT ? 1.0 : r->std[j]);
  }
  for (int g = 0; g < NROWS; g++)
    for (int i = 0; i < DIM; i++)
      for (int j = 0; j < DIM; j++) C[i * DIM + j] += Z[g][i] * Z[g][j] / (NROWS - 1);
  dsyevd_("V", "U", &D, C, &D, w, work, &lwork, iwork, &liwork, &info);
  PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "dsyevd info %d", info);
  for (int c = 0; c < DIM; c++) {
    double *v = C + (DIM - 1 - c) * DIM;
    int     km = 0;
    for (int k = 1; k < DIM; k++)
      if (fabs(v[k]) > fabs(v[km])) km = k;
    r->w[c] = w[DIM - 1 - c];
    for (int k = 0; k < DIM; k++) r->V[c * DIM + k] = v[km] < 0 ? -v[k] : v[k];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Gather the rows of Y on every rank of world (test only; small). */
static PetscErrorCode gather_all(MPI_Comm world, MPI_Comm sub, const pm_rows_t *Y, int m, double *all)
{
  int rank, size, *cnt, *dsp, n = (int)(Y ? Y->n_local * m : 0);

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(world, &rank));
  PetscCallMPI(MPI_Comm_size(world, &size));
  PetscCall(PetscMalloc2(size, &cnt, size, &dsp));
  PetscCallMPI(MPI_Allgather(&n, 1, MPI_INT, cnt, 1, MPI_INT, world));
  dsp[0] = 0;
  for (int r = 1; r < size; r++) dsp[r] = dsp[r - 1] + cnt[r - 1];
  PetscCallMPI(MPI_Allgatherv(Y ? Y->x : NULL, n, MPI_DOUBLE, all, cnt, dsp, MPI_DOUBLE, world));
  PetscCall(PetscFree2(cnt, dsp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run_options(const char *opts)
{
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsClearValue(NULL, "-standardize"));
  PetscCall(PetscOptionsClearValue(NULL, "-pca_components"));
  PetscCall(PetscOptionsClearValue(NULL, "-pca_variance"));
  PetscCall(PetscOptionsClearValue(NULL, "-pca_eigensolver"));
  PetscCall(PetscOptionsInsertString(NULL, opts));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* PCA with the given options on the first s ranks of world; results broadcast to all of world. */
static PetscErrorCode pca_on(MPI_Comm world, int s, const char *opts, double *Y, int *m, double *ev, double *mean, double *scale, double *C)
{
  int       rank;
  MPI_Comm  sub;
  pm_rows_t *X = NULL;
  pm_pca_t *p  = NULL;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(world, &rank));
  PetscCallMPI(MPI_Comm_split(world, rank < s ? 0 : MPI_UNDEFINED, rank, &sub));
  PetscCall(run_options(opts));
  if (rank < s) {
    const double *ld, *e, *mu, *sc;
    PetscCall(make_rows(sub, &X));
    PetscCall(pm_pca_create(sub, &p));
    PetscCall(pm_pca_set_from_options(p));
    PetscCall(pm_pca_apply(p, &X));
    PetscCall(pm_pca_get_components(p, m, &ld, &e, NULL));
    PetscCall(pm_pca_get_scaling(p, NULL, &mu, &sc, NULL));
    if (rank == 0) {
      PetscCall(PetscArraycpy(ev, e, *m));
      PetscCall(PetscArraycpy(mean, mu, DIM));
      PetscCall(PetscArraycpy(scale, sc, DIM));
    }
    if (C) { /* covariance of the standardised data, recomputed on this sub-communicator */
      pm_rows_t *Z;
      PetscCall(make_rows(sub, &Z));
      for (pm_gidx_t i = 0; i < Z->n_local; i++)
        for (int j = 0; j < DIM; j++) Z->x[i * DIM + j] = (Z->x[i * DIM + j] - mu[j]) / sc[j];
      PetscCall(pm_pca_covariance(Z, C));
      PetscCall(pm_rows_destroy(&Z));
    }
  }
  PetscCallMPI(MPI_Bcast(m, 1, MPI_INT, 0, world));
  PetscCallMPI(MPI_Bcast(ev, *m, MPI_DOUBLE, 0, world));
  PetscCallMPI(MPI_Bcast(mean, DIM, MPI_DOUBLE, 0, world));
  PetscCallMPI(MPI_Bcast(scale, DIM, MPI_DOUBLE, 0, world));
  if (C) PetscCallMPI(MPI_Bcast(C, DIM * DIM, MPI_DOUBLE, 0, world));
  PetscCall(gather_all(world, sub, X, *m, Y));
  PetscCall(pm_rows_destroy(&X));
  PetscCall(pm_pca_destroy(&p));
  if (sub != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_free(&sub));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static double maxabs(int n, const double *a, const double *b)
{
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

int main(int argc, char **argv)
{
  MPI_Comm world;
  int      size, m, m1;
  ref_t    R;
  double  *Y, *Y1, *Yl1, ev[DIM], ev1[DIM], mean[DIM], scale[DIM], C[DIM * DIM], C1[DIM * DIM];

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  world = PETSC_COMM_WORLD;
  PetscCallMPI(MPI_Comm_size(world, &size));
  PetscCall(reference(&R));
  PetscCall(PetscMalloc3(NROWS * DIM, &Y, NROWS * DIM, &Y1, NROWS * DIM, &Yl1));
  for (int s = 1; s <= size; s++) {
    double *Cs = s == 1 ? C1 : C;
    /* all components, ScaLAPACK: explained variance vs LAPACK on the plain covariance */
    PetscCall(pca_on(world, s, "-standardize -pca_components 24", Y, &m, ev, mean, scale, Cs));
    PM_TEST(m == DIM, "np %d: %d components", s, m);
    PM_TEST(maxabs(DIM, mean, R.mean) <= 1e-12 * 3000, "np %d: means differ by %g", s, maxabs(DIM, mean, R.mean));
    for (int j = 0; j < DIM; j++)
      PM_TEST(j == FLAT ? scale[j] == 1.0 : pm_test_close(scale[j], R.std[j], 1e-12), "np %d: scale[%d] = %.17g, expected %.17g", s, j, scale[j], R.std[j]);
    PM_TEST(maxabs(DIM, ev, R.w) <= 1e-10 * R.w[0], "np %d: explained variance differs from LAPACK dsyevd by %g", s, maxabs(DIM, ev, R.w));
    if (s > 1) PM_TEST(maxabs(DIM * DIM, C, C1) == 0.0, "np %d: covariance not bitwise equal to 1 rank (%g)", s, maxabs(DIM * DIM, C, C1));
    /* leading components (well separated): projection vs the reference, and across rank counts */
    PetscCall(pca_on(world, s, "-standardize -pca_components 4", Y, &m, ev, mean, scale, NULL));
    {
      double err = 0;
      for (int g = 0; g < NROWS; g++)
        for (int c = 0; c < 4; c++) {
          double y = 0;
          for (int k = 0; k < DIM; k++) y += (value(g, k) - R.mean[k]) / (k == FLAT ? 1.0 : R.std[k]) * R.V[c * DIM + k];
          err = fmax(err, fabs(y - Y[g * 4 + c]));
        }
      PM_TEST(err < 1e-9, "np %d: projection differs from the reference by %g", s, err);
    }
    if (s == 1) PetscCall(PetscArraycpy(Y1, Y, NROWS * 4));
    else {
      PetscCall(PetscPrintf(world, "np %d: ScaLAPACK projection vs 1 rank: max |diff| %g\n", s, maxabs(NROWS * 4, Y, Y1)));
      PM_TEST(maxabs(NROWS * 4, Y, Y1) < 1e-12, "np %d: ScaLAPACK projection differs from 1 rank by %g", s, maxabs(NROWS * 4, Y, Y1));
    }
    /* LAPACK eigensolver on every rank: bitwise identical for any number of ranks */
    PetscCall(pca_on(world, s, "-standardize -pca_components 6 -pca_eigensolver lapack", Y, &m, ev, mean, scale, NULL));
    if (s == 1) PetscCall(PetscArraycpy(Yl1, Y, NROWS * 6));
    else PM_TEST(maxabs(NROWS * 6, Y, Yl1) == 0.0, "np %d: LAPACK projection not bitwise equal to 1 rank (%g)", s, maxabs(NROWS * 6, Y, Yl1));
    /* variance fraction: the smallest m reaching it */
    PetscCall(pca_on(world, s, "-pca_variance 0.9 -standardize", Y, &m, ev, mean, scale, NULL));
    {
      double tot = 0, cum = 0;
      int    mref = 0;
      for (int c = 0; c < DIM; c++) tot += R.w[c];
      while (cum < 0.9 * tot) cum += R.w[mref++];
      PM_TEST(m == mref, "np %d: -pca_variance 0.9 gave %d components, expected %d", s, m, mref);
      if (s == 1) m1 = m;
      PetscCall(PetscArraycpy(ev1, ev, m));
    }
    /* centring only (no -standardize): scale 1 everywhere */
    PetscCall(pca_on(world, s, "-pca_components 2", Y, &m, ev, mean, scale, NULL));
    for (int j = 0; j < DIM; j++) PM_TEST(scale[j] == 1.0, "np %d: scale[%d] = %g without -standardize", s, j, scale[j]);
  }
  (void)m1;
  { /* tiny inputs (ranks without rows, D = 1 and 3): explained variance of a 2 x 3 matrix is exact */
    pm_pca_t  *p;
    pm_rows_t *X;
    int        m2;
    const double *e, *ld;
    for (int D = 1; D <= 3; D += 2) {
      PetscCall(pm_rows_create(world, 2, D, &X));
      for (pm_gidx_t i = 0; i < X->n_local; i++)
        for (int j = 0; j < D; j++) X->x[i * D + j] = (X->row_start + i == 0 ? 1.0 : -1.0) * (j + 1);
      PetscCall(run_options("-pca_components 1"));
      PetscCall(pm_pca_create(world, &p));
      PetscCall(pm_pca_set_from_options(p));
      PetscCall(pm_pca_apply(p, &X));
      PetscCall(pm_pca_get_components(p, &m2, &ld, &e, NULL));
      /* rows +-(1..D): covariance 2 v v^T with v = (1..D), eigenvalue 2 |v|^2, axis v/|v| */
      PM_TEST(m2 == 1 && pm_test_close(e[0], 2.0 * D * (D + 1) * (2 * D + 1) / 6.0, 1e-13), "tiny D=%d: eigenvalue %g", D, e[0]);
      PM_TEST(X->dim == 1 && (X->n_local == 0 || fabs(fabs(X->x[0]) - sqrt(D * (D + 1) * (2 * D + 1) / 6.0)) < 1e-13), "tiny D=%d: projection", D);
      PM_TEST(ld[D - 1] > 0, "tiny D=%d: sign convention", D);
      PetscCall(pm_pca_destroy(&p));
      PetscCall(pm_rows_destroy(&X));
    }
  }
  { /* option errors: every rank returns an error, no hang */
    pm_pca_t     *p;
    pm_rows_t    *X;
    PetscErrorCode e1, e2, e3;
    PetscCall(make_rows(world, &X));
    PetscCall(pm_pca_create(world, &p));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    PetscCall(run_options("-pca_components 3 -pca_variance 0.5"));
    e1 = pm_pca_set_from_options(p);
    PetscCall(run_options("-pca_variance 1.5"));
    e2 = pm_pca_set_from_options(p);
    PetscCall(run_options("-pca_components 30"));
    e3 = pm_pca_set_from_options(p);
    if (!e3) e3 = pm_pca_apply(p, &X);
    PetscCall(PetscPopErrorHandler());
    PM_TEST(e1 && e2 && e3, "bad options rejected (%d %d %d)", (int)e1, (int)e2, (int)e3);
    PetscCall(run_options(""));
    PetscCall(pm_pca_destroy(&p));
    PetscCall(pm_rows_destroy(&X));
  }
  PetscCall(PetscFree3(Y, Y1, Yl1));
  {
    int rc = pm_test_finish_mpi(world);
    PetscCall(PetscFinalize());
    return rc;
  }
}
