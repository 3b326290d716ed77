/* Serial checks of small density formulas: the chi-square threshold of the k* test against
 * scipy.stats.chi2.isf(alpha, 1), the unit-ball volume, and PAk/k*NN on a tiny hand-made graph. */
#include <phasemap/density.h>
#include "density/density_impl.h"
#include "pm_test.h"

int main(int argc, char **argv)
{
  static const double alpha[] = {0.5, 0.05, 1e-3, 1.0000000000000002e-06, 1e-9, 1e-12, 1e-20, 1e-100};
  static const double isf[]   = {0.4549364231195724, 3.8414588206941285, 10.827566170662733, 23.928126976934827, 37.324893051362324, 50.844127911818155, 87.16173342690982, 453.9430822387989};

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  for (int i = 0; i < (int)(sizeof alpha / sizeof alpha[0]); i++) {
    double t;
    PetscCall(pm_den_chi2_isf1(PETSC_COMM_SELF, alpha[i], &t));
    PM_TEST(fabs(t - isf[i]) <= 1e-12 * isf[i], "chi2 isf(%g) = %.17g, scipy %.17g", alpha[i], t, isf[i]);
  }
  {
    double t;
    PetscCall(pm_den_chi2_isf1(PETSC_COMM_SELF, 1e-6, &t));
    PM_TEST(t == 23.928126976934827, "default Dthr %.17g", t);
  }
  /* omega_d: 2 (d=1), pi (d=2), 4/3 pi (d=3), pi^2/2 (d=4) */
  PM_TEST(fabs(pm_den_omega(1.0) - 2.0) < 1e-14, "omega_1 %.17g", pm_den_omega(1.0));
  PM_TEST(fabs(pm_den_omega(2.0) - M_PI) < 1e-14, "omega_2 %.17g", pm_den_omega(2.0));
  PM_TEST(fabs(pm_den_omega(3.0) - 4.0 / 3.0 * M_PI) < 1e-13, "omega_3 %.17g", pm_den_omega(3.0));
  PM_TEST(fabs(pm_den_omega(4.0) - M_PI * M_PI / 2.0) < 1e-13, "omega_4 %.17g", pm_den_omega(4.0));
  /* 1-D lattice of spacing 1 (points 0..N-1), d = 1: the kNN density of an interior point with
   * k = 2 neighbours at distance 1 is log(2) - log(2 * 1) - log N = -log N. */
  {
    pm_graph_t g = {0};
    const int  N = 9, k = 4;
    pm_gidx_t  ind[9 * 5];
    double     dist[9 * 5], ld[9], er[9];
    int64_t    kk[9];
    g.comm = PETSC_COMM_SELF, g.n_global = N, g.n_local = N, g.k = k, g.ncol = k + 1, g.ind = ind, g.dist = dist;
    for (int i = 0; i < N; i++) { /* neighbours by (distance, index) */
      int c = 0;
      for (int r = 0; r < N && c <= k; r++)
        for (int j = 0; j < N && c <= k; j++)
          if (abs(j - i) == r) ind[i * 5 + c] = j, dist[i * 5 + c] = r, c++;
      kk[i] = 2;
    }
    PetscCall(pm_den_knn(&g, 1.0, kk, ld, er));
    PM_TEST(fabs(ld[4] + log(9.0)) < 1e-14 && fabs(er[4] - 1 / sqrt(2.0)) < 1e-15, "kNN on a lattice: %.17g", ld[4]);
  }
  PetscCall(PetscFinalize());
  return pm_test_finish();
}
