/* kNN graph edge cases against the serial oracle knn_ref_graph (identical bits on any rank count):
 * lattice data full of exact ties (broken by global index), tiny tiles, far-from-origin data,
 * duplicates (-duplicates error|keep|drop), and the k rules (default clipped, explicit k >= N and
 * k < 2 refused). */
#include <phasemap/graph.h>
#include "graph/graph_impl.h"
#include "pm_test.h"
#include <string.h>
#include <math.h>

static char last_error[PM_REASON_MAX];

static PetscErrorCode record_error(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  if (p == PETSC_ERROR_INITIAL && mess) snprintf(last_error, sizeof last_error, "%s", mess);
  return n;
}

static double hash01(uint64_t seed, int64_t i)
{
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

/* Block rows of the full n x dim array x (every rank holds the small test set). */
static PetscErrorCode rows_from(MPI_Comm comm, int64_t n, int dim, const double *x, pm_rows_t **X)
{
  PetscFunctionBeginUser;
  PetscCall(pm_rows_create(comm, n, dim, X));
  memcpy((*X)->x, x + (*X)->row_start * dim, sizeof(double) * (size_t)((*X)->n_local * dim));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode build(MPI_Comm comm, pm_rows_t **X, int k, pm_knn_method_t m, pm_dup_mode_t dup, pm_graph_t **g, PetscErrorCode *ierr)
{
  pm_knn_t *knn;

  PetscFunctionBeginUser;
  PetscCall(pm_knn_create(comm, &knn));
  PetscCall(pm_knn_set_from_options(knn));
  if (k > 0) PetscCall(pm_knn_set_k(knn, k));
  PetscCall(pm_knn_set_method(knn, m));
  PetscCall(pm_knn_set_duplicates(knn, dup));
  last_error[0] = 0;
  PetscCall(PetscPushErrorHandler(record_error, NULL));
  *ierr = pm_knn_build(knn, X, g);
  PetscCall(PetscPopErrorHandler());
  PetscCall(pm_knn_destroy(&knn));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Graph equals the oracle on the full set x (n x dim). */
static PetscErrorCode check_vs_ref(const char *what, const pm_graph_t *g, int64_t n, int dim, const double *x)
{
  int64_t *ind, bad = 0, first = -1;
  double  *dist;
  int      nc = g->ncol;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(n * nc, &ind, n * nc, &dist));
  PetscCall(knn_ref_graph(n, dim, x, g->k, ind, dist));
  for (int64_t e = 0; e < g->n_local * nc; e++)
    if (g->ind[e] != ind[g->row_start * nc + e] || g->dist[e] != dist[g->row_start * nc + e]) {
      bad++;
      if (first < 0) first = e;
    }
  PM_TEST(bad == 0, "%s: %" PRId64 " entries differ from the oracle (first row %" PRId64 " col %" PRId64 ")", what, bad, first < 0 ? -1 : g->row_start + first / nc, first < 0 ? -1 : first % nc);
  PetscCall(PetscFree2(ind, dist));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* 9 x 9 x 9 integer lattice in a scrambled order: every distance is tied many times. */
static PetscErrorCode lattice(int64_t *n, double **x)
{
  int64_t N = 729;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(N * 3, x));
  for (int64_t i = 0; i < N; i++) {
    int64_t c       = (i * 412) % N; /* 412 is coprime to 729: a permutation */
    (*x)[3 * i]     = (double)(c % 9);
    (*x)[3 * i + 1] = (double)((c / 9) % 9);
    (*x)[3 * i + 2] = (double)(c / 81);
  }
  *n = N;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_ties(MPI_Comm comm)
{
  int64_t        n;
  double        *x;
  PetscErrorCode ierr;
  const char    *names[3] = {"lattice brute (tile 16)", "lattice tree", "lattice auto"};

  PetscFunctionBeginUser;
  PetscCall(lattice(&n, &x));
  PetscCall(PetscOptionsSetValue(NULL, "-knn_tile", "16"));
  PetscCall(PetscOptionsSetValue(NULL, "-knn_leaf", "5"));
  for (int m = 0; m < 3; m++) {
    pm_rows_t  *X;
    pm_graph_t *g;
    PetscCall(rows_from(comm, n, 3, x, &X));
    PetscCall(build(comm, &X, 30, m == 0 ? PM_KNN_BRUTE : m == 1 ? PM_KNN_TREE
                                                                 : PM_KNN_AUTO,
                    PM_DUP_ERROR, &g, &ierr));
    PM_TEST(ierr == 0, "%s: build failed: %s", names[m], last_error);
    if (!ierr) PetscCall(check_vs_ref(names[m], g, n, 3, x));
    PetscCall(pm_graph_destroy(&g));
    PetscCall(pm_rows_destroy(&X));
  }
  PetscCall(PetscOptionsClearValue(NULL, "-knn_tile"));
  PetscCall(PetscOptionsClearValue(NULL, "-knn_leaf"));
  PetscCall(PetscFree(x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Random 50-D points offset by 1e6 (large norms: the tile margin must still keep every true
 * neighbour), and random 2-D points. */
static PetscErrorCode test_random(MPI_Comm comm)
{
  int dims[2] = {50, 2};

  PetscFunctionBeginUser;
  for (int t = 0; t < 2; t++) {
    int64_t n = 600;
    int     D = dims[t];
    double *x;
    PetscCall(PetscMalloc1(n * D, &x));
    for (int64_t e = 0; e < n * D; e++) x[e] = (t == 0 ? 1e6 : 0.0) + hash01(7 + t, e);
    for (int m = 0; m < 2; m++) {
      pm_rows_t     *X;
      pm_graph_t    *g;
      PetscErrorCode ierr;
      char           what[64];
      PetscCall(PetscSNPrintf(what, sizeof what, "random %d-D %s", D, m ? "tree" : "brute"));
      PetscCall(rows_from(comm, n, D, x, &X));
      PetscCall(build(comm, &X, 40, m ? PM_KNN_TREE : PM_KNN_BRUTE, PM_DUP_ERROR, &g, &ierr));
      PM_TEST(ierr == 0, "%s: build failed", what);
      if (!ierr) PetscCall(check_vs_ref(what, g, n, D, x));
      PetscCall(pm_graph_destroy(&g));
      PetscCall(pm_rows_destroy(&X));
    }
    PetscCall(PetscFree(x));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Sets that test the margins of brute force's float filter and provisional bounds (3000 points,
 * enough for the bounds to be used): a tight cluster (spread 1e-6) far from the mean, beside a
 * broad one (where rounding against |x - mu|^2 would cut a bound short), and points on a sphere
 * around a few central points (near ties). Few rows may need a second search. */
static PetscErrorCode test_margins(MPI_Comm comm)
{
  int64_t n = 3000;
  int     D = 20, k = 30;

  PetscFunctionBeginUser;
  for (int t = 0; t < 2; t++) {
    double     *x;
    pm_rows_t  *X;
    pm_graph_t *g;
    PetscErrorCode ierr;
    const char *what = t == 0 ? "two scales" : "sphere";
    PetscCall(PetscMalloc1(n * D, &x));
    for (int64_t i = 0; i < n; i++) {
      double r2 = 0.0;
      for (int d = 0; d < D; d++) {
        double u = hash01(31 + t, i * D + d) - 0.5;
        x[i * D + d] = t == 0 ? (i < n / 2 ? 1e-6 * u : 100.0 + u) : u;
        r2 += u * u;
      }
      if (t == 1)
        for (int d = 0; d < D; d++) x[i * D + d] *= i % 30 == 0 ? 1e-3 : 3.0 / sqrt(r2);
    }
    PetscCall(rows_from(comm, n, D, x, &X));
    PetscCall(build(comm, &X, k, PM_KNN_BRUTE, PM_DUP_ERROR, &g, &ierr));
    PM_TEST(ierr == 0, "%s: build failed", what);
    if (!ierr) {
      PetscCall(check_vs_ref(what, g, n, D, x));
      {
        PetscBool forced;
        PetscCall(PetscOptionsHasName(NULL, NULL, "-knn_prebound_rank", &forced));
        PM_TEST(forced || g->n_researched <= n / 100, "%s: %" PRId64 " rows searched again (the provisional bounds are too tight)", what, g->n_researched);
      }
    }
    PetscCall(pm_graph_destroy(&g));
    PetscCall(pm_rows_destroy(&X));
    PetscCall(PetscFree(x));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* 200 random 4-D points, then row 5 := row 150, rows 200, 201 := row 10, row 202 := row 57. */
static PetscErrorCode test_duplicates(MPI_Comm comm)
{
  int64_t n = 203, dropped[4] = {150, 200, 201, 202};
  int     D = 4;
  double *x, *xu;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(n * D, &x, n * D, &xu));
  for (int64_t e = 0; e < n * D; e++) x[e] = hash01(3, e);
  memcpy(x + 5 * D, x + 150 * D, sizeof(double) * D);
  memcpy(x + 200 * D, x + 10 * D, sizeof(double) * D);
  memcpy(x + 201 * D, x + 10 * D, sizeof(double) * D);
  memcpy(x + 202 * D, x + 57 * D, sizeof(double) * D);
  for (int m = 0; m < 3; m++) { /* error, keep (brute), keep (tree) */
    pm_rows_t     *X;
    pm_graph_t    *g = NULL;
    PetscErrorCode ierr;
    PetscCall(rows_from(comm, n, D, x, &X));
    PetscCall(build(comm, &X, 10, m == 2 ? PM_KNN_TREE : PM_KNN_BRUTE, m == 0 ? PM_DUP_ERROR : PM_DUP_KEEP, &g, &ierr));
    if (m == 0) {
      PM_TEST(ierr != 0 && !g, "duplicates error: build must fail");
      PM_TEST(strstr(last_error, "7 points have an exact duplicate") && strstr(last_error, "rows 5 and 150") && strstr(last_error, "-duplicates drop"), "duplicates error message: '%s'", last_error);
    } else {
      PM_TEST(ierr == 0 && g->n_duplicates == 7, "duplicates keep: count %" PRId64, g ? g->n_duplicates : -1);
      if (!ierr) PetscCall(check_vs_ref(m == 1 ? "duplicates keep brute" : "duplicates keep tree", g, n, D, x));
    }
    PetscCall(pm_graph_destroy(&g));
    PetscCall(pm_rows_destroy(&X));
  }
  {
    pm_rows_t     *X;
    pm_graph_t    *g;
    PetscErrorCode ierr;
    int64_t        nu = 0, bad = 0;
    for (int64_t i = 0; i < n; i++) {
      int drop = 0;
      for (int r = 0; r < 4; r++) drop |= i == dropped[r];
      if (!drop) memcpy(xu + D * nu++, x + i * D, sizeof(double) * D);
    }
    PetscCall(rows_from(comm, n, D, x, &X));
    PetscCall(build(comm, &X, 10, PM_KNN_AUTO, PM_DUP_DROP, &g, &ierr));
    PM_TEST(ierr == 0, "duplicates drop failed: %s", last_error);
    if (!ierr) {
      PM_TEST(X->n_global == nu && g->n_global == nu && g->n_input == n && g->n_duplicates == 7 && g->kept_rows, "duplicates drop: N %" PRId64 " (expected %" PRId64 ")", X->n_global, nu);
      for (int64_t i = 0; i < X->n_local; i++) {
        int64_t orig = X->row_start + i, gi = X->row_start + i;
        for (int r = 0; r < 4; r++) orig += orig >= dropped[r];
        bad += g->kept_rows[i] != orig || memcmp(X->x + i * D, xu + gi * D, sizeof(double) * D);
      }
      PM_TEST(bad == 0, "duplicates drop: %" PRId64 " kept rows wrong", bad);
      PetscCall(check_vs_ref("duplicates drop", g, nu, D, xu));
    }
    PetscCall(pm_graph_destroy(&g));
    PetscCall(pm_rows_destroy(&X));
  }
  PetscCall(PetscFree2(x, xu));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_k_rules(MPI_Comm comm)
{
  double         x[100];
  pm_rows_t     *X;
  pm_graph_t    *g = NULL;
  PetscErrorCode ierr;
  pm_knn_t      *knn;

  PetscFunctionBeginUser;
  for (int e = 0; e < 100; e++) x[e] = hash01(11, e);
  /* default k (100) with 3 points: clipped to 2 */
  PetscCall(rows_from(comm, 3, 2, x, &X));
  PetscCall(build(comm, &X, 0, PM_KNN_AUTO, PM_DUP_ERROR, &g, &ierr));
  PM_TEST(ierr == 0 && g->k == 2, "default k with N = 3 must clip to 2");
  if (!ierr) PetscCall(check_vs_ref("N = 3 default k", g, 3, 2, x));
  PetscCall(pm_graph_destroy(&g));
  /* explicit k >= N */
  PetscCall(build(comm, &X, 3, PM_KNN_AUTO, PM_DUP_ERROR, &g, &ierr));
  PM_TEST(ierr != 0 && !g && strstr(last_error, "-knn_k 3 must be below the number of points, 3"), "explicit k = N must fail: '%s'", last_error);
  PetscCall(pm_rows_destroy(&X));
  /* k = N - 1 on 50 points, both methods */
  for (int m = 0; m < 2; m++) {
    PetscCall(rows_from(comm, 50, 2, x, &X));
    PetscCall(build(comm, &X, 49, m ? PM_KNN_TREE : PM_KNN_BRUTE, PM_DUP_ERROR, &g, &ierr));
    PM_TEST(ierr == 0, "k = N - 1 failed");
    if (!ierr) PetscCall(check_vs_ref(m ? "k = N-1 tree" : "k = N-1 brute", g, 50, 2, x));
    PetscCall(pm_graph_destroy(&g));
    PetscCall(pm_rows_destroy(&X));
  }
  /* k < 2, from code and from the options database */
  PetscCall(pm_knn_create(comm, &knn));
  last_error[0] = 0;
  PetscCall(PetscPushErrorHandler(record_error, NULL));
  ierr = pm_knn_set_k(knn, 1);
  PetscCall(PetscPopErrorHandler());
  PM_TEST(ierr != 0 && strstr(last_error, "at least 2 neighbours"), "k = 1 must fail: '%s'", last_error);
  PetscCall(PetscOptionsSetValue(NULL, "-knn_k", "0"));
  last_error[0] = 0;
  PetscCall(PetscPushErrorHandler(record_error, NULL));
  ierr = pm_knn_set_from_options(knn);
  PetscCall(PetscPopErrorHandler());
  PetscCall(PetscOptionsClearValue(NULL, "-knn_k"));
  PM_TEST(ierr != 0 && strstr(last_error, "-knn_k 0"), "-knn_k 0 must fail: '%s'", last_error);
  PetscCall(pm_knn_destroy(&knn));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  int err;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(test_ties(PETSC_COMM_WORLD));
  PetscCall(test_random(PETSC_COMM_WORLD));
  PetscCall(test_margins(PETSC_COMM_WORLD));
  PetscCall(test_duplicates(PETSC_COMM_WORLD));
  PetscCall(test_k_rules(PETSC_COMM_WORLD));
  err = pm_test_finish_mpi(PETSC_COMM_WORLD);
  PetscCall(PetscFinalize());
  return err;
}
