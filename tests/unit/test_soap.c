/* SOAP power spectrum: building blocks (Bessel functions, harmonics, basis), invariances (rotation,
 * translation, permutation of same-species atoms, periodic images) and, with --dump FILE, a few
 * small two-species clouds with their features for tests/tools/soap_ref.py. */
#include "descriptors/soap_impl.h"
#include "pm_test.h"
#include <math.h>
#include <string.h>

typedef struct {
  int     n;
  int    *sp;
  double *x;  /* n x 3 */
  int     pbc;
  double  L; /* cubic periodic box [0, L)^3 if pbc */
} cloud_t;

static uint64_t rng_state = 12345;
static double   urand(void)
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

/* O(n^2) neighbour list of every atom of the cloud (all periodic images within rc). */
static PetscErrorCode build_nlist(const cloud_t *c, double rc, int nspecies, pm_nlist_t *nl)
{
  int     cap = 0, ne = 0, img = c->pbc ? (int)ceil(rc / c->L) : 0;
  int64_t idx;

  PetscFunctionBeginUser;
  memset(nl, 0, sizeof *nl);
  nl->n = c->n;
  nl->rc = rc;
  nl->species = c->sp;
  nl->nspecies = nspecies;
  cap = c->n * 64;
  PetscCall(PetscMalloc1(c->n + 1, &nl->off));
  PetscCall(PetscMalloc1(cap, &nl->j));
  PetscCall(PetscMalloc1(4 * cap, &nl->d));
  for (int i = 0; i < c->n; i++) {
    nl->off[i] = ne;
    for (int j = 0; j < c->n; j++)
      for (int a = -img; a <= img; a++)
        for (int b = -img; b <= img; b++)
          for (int k = -img; k <= img; k++) {
            double dx = c->x[3 * j] - c->x[3 * i] + a * c->L, dy = c->x[3 * j + 1] - c->x[3 * i + 1] + b * c->L;
            double dz = c->x[3 * j + 2] - c->x[3 * i + 2] + k * c->L, r = sqrt(dx * dx + dy * dy + dz * dz);
            if ((j == i && a == 0 && b == 0 && k == 0) || r >= rc) continue;
            if (ne == cap) {
              int64_t *nj;
              double  *nd;
              PetscCall(PetscMalloc1(2 * cap, &nj));
              PetscCall(PetscMalloc1(8 * cap, &nd));
              PetscCall(PetscArraycpy(nj, nl->j, cap));
              PetscCall(PetscArraycpy(nd, nl->d, 4 * cap));
              PetscCall(PetscFree(nl->j));
              PetscCall(PetscFree(nl->d));
              nl->j = nj;
              nl->d = nd;
              cap *= 2;
            }
            idx = ne++;
            nl->j[idx] = j;
            nl->d[4 * idx] = dx;
            nl->d[4 * idx + 1] = dy;
            nl->d[4 * idx + 2] = dz;
            nl->d[4 * idx + 3] = r;
          }
  }
  nl->off[c->n] = ne;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode soap_of(const pm_soap_t *s, const cloud_t *c, int nsp, double **out, int *dim)
{
  pm_nlist_t nl;
  double     rc;

  PetscFunctionBeginUser;
  PetscCall(pm_soap_get_cutoff(s, &rc));
  PetscCall(pm_soap_get_dim(s, nsp, dim));
  PetscCall(build_nlist(c, rc, nsp, &nl));
  PetscCall(PetscMalloc1((size_t)c->n * *dim, out));
  PetscCall(pm_soap_compute(s, &nl, *out, *dim, 0));
  PetscCall(PetscFree(nl.off));
  PetscCall(PetscFree(nl.j));
  PetscCall(PetscFree(nl.d));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static double max_diff(int n, const double *a, const double *b)
{
  double m = 0.0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

/* n atoms uniformly in a ball of radius R (minimum separation dmin), species alternating at random. */
static PetscErrorCode random_cloud(int n, double R, double dmin, int nsp, cloud_t *c)
{
  PetscFunctionBeginUser;
  c->n = n;
  c->pbc = 0;
  c->L = 0;
  PetscCall(PetscMalloc2(n, &c->sp, 3 * n, &c->x));
  for (int i = 0; i < n;) {
    double p[3], ok = 1;
    for (int k = 0; k < 3; k++) p[k] = R * (2 * urand() - 1);
    if (p[0] * p[0] + p[1] * p[1] + p[2] * p[2] > R * R) continue;
    for (int j = 0; j < i; j++) {
      double dx = p[0] - c->x[3 * j], dy = p[1] - c->x[3 * j + 1], dz = p[2] - c->x[3 * j + 2];
      if (dx * dx + dy * dy + dz * dz < dmin * dmin) ok = 0;
    }
    if (!ok) continue;
    for (int k = 0; k < 3; k++) c->x[3 * i + k] = p[k];
    c->sp[i] = (int)(urand() * nsp);
    i++;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void random_rotation(double Q[3][3])
{
  double q[4], nq = 0;
  for (int k = 0; k < 4; k++) {
    q[k] = 2 * urand() - 1;
    nq += q[k] * q[k];
  }
  nq = sqrt(nq);
  for (int k = 0; k < 4; k++) q[k] /= nq;
  Q[0][0] = 1 - 2 * (q[2] * q[2] + q[3] * q[3]);
  Q[0][1] = 2 * (q[1] * q[2] - q[0] * q[3]);
  Q[0][2] = 2 * (q[1] * q[3] + q[0] * q[2]);
  Q[1][0] = 2 * (q[1] * q[2] + q[0] * q[3]);
  Q[1][1] = 1 - 2 * (q[1] * q[1] + q[3] * q[3]);
  Q[1][2] = 2 * (q[2] * q[3] - q[0] * q[1]);
  Q[2][0] = 2 * (q[1] * q[3] - q[0] * q[2]);
  Q[2][1] = 2 * (q[2] * q[3] + q[0] * q[1]);
  Q[2][2] = 1 - 2 * (q[1] * q[1] + q[2] * q[2]);
}

static PetscErrorCode test_building_blocks(void)
{
  double b[PM_SOAP_LMAX_MAX + 2], xs[] = {1e-6, 0.3, 1.0, 2.5, 17.0, 80.0, 400.0, 650.0};

  PetscFunctionBeginUser;
  for (int t = 0; t < 8; t++) { /* closed forms of i_0, i_1, i_2 and the recurrence for higher l */
    double x = xs[t], sh = -expm1(-2 * x) / 2, ch = 1 - sh; /* e^-x sinh, e^-x cosh */
    double i0 = sh / x, i1 = ch / x - sh / (x * x), i2 = (3 / (x * x) + 1) * sh / x - 3 * ch / (x * x);
    pm_soap_bessel_scaled(PM_SOAP_LMAX_MAX, x, b);
    PM_TEST(pm_test_close(b[0], i0, 1e-13), "i_0(%g) = %.16g, expected %.16g", x, b[0], i0);
    if (x > 0.2) PM_TEST(fabs(b[1] - i1) <= 1e-12 * fabs(i1), "i_1(%g) = %.16g, expected %.16g", x, b[1], i1);
    if (x > 0.2) PM_TEST(fabs(b[2] - i2) <= 1e-11 * fabs(i2), "i_2(%g) = %.16g, expected %.16g", x, b[2], i2);
    for (int l = 1; l < PM_SOAP_LMAX_MAX; l++)
      PM_TEST(fabs(b[l - 1] - b[l + 1] - (2 * l + 1) / x * b[l]) <= 1e-12 * b[l - 1], "Bessel recurrence at l=%d x=%g", l, x);
  }
  pm_soap_bessel_scaled(4, 1e-6, b);
  PM_TEST(pm_test_close(b[4], pow(1e-6, 4) / 945.0, 1e-9), "i_4 small-x limit");
  { /* harmonics orthonormal on the sphere (Gauss-Legendre in z, uniform in phi), lmax = 10 */
    int     L = 10, LL = (L + 1) * (L + 1), nz = 24, np = 48;
    double  zq[24], wz[24], coef[3 * 121], Y[121], G[121 * 121], err = 0;
    memset(G, 0, sizeof G);
    pm_soap_ylm_coefficients(L, coef);
    pm_soap_gauss_legendre(nz, -1, 1, zq, wz);
    for (int a = 0; a < nz; a++)
      for (int p = 0; p < np; p++) {
        double ph = 2 * PETSC_PI * p / np, st = sqrt(1 - zq[a] * zq[a]);
        pm_soap_ylm(L, coef, st * cos(ph), st * sin(ph), zq[a], Y);
        for (int i = 0; i < LL; i++)
          for (int j = 0; j < LL; j++) G[i * LL + j] += wz[a] * 2 * PETSC_PI / np * Y[i] * Y[j];
      }
    for (int i = 0; i < LL; i++)
      for (int j = 0; j < LL; j++) err = fmax(err, fabs(G[i * LL + j] - (i == j)));
    PM_TEST(err < 1e-12, "real harmonics orthonormal: max error %g", err);
  }
  { /* radial basis orthonormal with weight r^2 on [0, rc] */
    int    N = 8, nq = 400;
    double W[64], xq[400], wq[400], g[8], G[64] = {0}, err = 0, rc = 5.0;
    PetscCall(pm_soap_basis_coefficients(N, rc, W));
    for (int s = 0; s < 25; s++) pm_soap_gauss_legendre(16, rc * s / 25, rc * (s + 1) / 25, xq + 16 * s, wq + 16 * s);
    for (int q = 0; q < nq; q++) {
      pm_soap_basis_eval(N, rc, W, xq[q], g);
      for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) G[i * N + j] += wq[q] * xq[q] * xq[q] * g[i] * g[j];
    }
    for (int i = 0; i < N * N; i++) err = fmax(err, fabs(G[i] - (i % (N + 1) == 0)));
    PM_TEST(err < 1e-10, "radial basis orthonormal: max error %g", err);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_invariances(pm_soap_t *s)
{
  cloud_t c, c2;
  double *f0, *f1, Q[3][3], t[3] = {3.7, -11.2, 0.4}, nrm;
  int     dim, n = 40, perm[40];

  PetscFunctionBeginUser;
  PetscCall(random_cloud(n, 5.5, 1.6, 2, &c));
  PetscCall(random_cloud(n, 5.5, 1.6, 2, &c2)); /* storage for transformed copies */
  PetscCall(soap_of(s, &c, 2, &f0, &dim));
  PM_TEST(dim == (2 * 36 + 64) * 7, "two-species dimension %d", dim);
  nrm = 0;
  for (int k = 0; k < dim; k++) nrm += f0[k] * f0[k];
  PM_TEST(pm_test_close(nrm, 1.0, 1e-13), "unit norm: %g", nrm);
  for (int rep = 0; rep < 3; rep++) { /* rotation */
    random_rotation(Q);
    for (int i = 0; i < n; i++) {
      c2.sp[i] = c.sp[i];
      for (int a = 0; a < 3; a++) c2.x[3 * i + a] = Q[a][0] * c.x[3 * i] + Q[a][1] * c.x[3 * i + 1] + Q[a][2] * c.x[3 * i + 2];
    }
    PetscCall(soap_of(s, &c2, 2, &f1, &dim));
    PM_TEST(max_diff(n * dim, f0, f1) < 1e-12, "rotation %d changes SOAP by %g", rep, max_diff(n * dim, f0, f1));
    PetscCall(PetscFree(f1));
  }
  for (int i = 0; i < n; i++) /* translation */
    for (int a = 0; a < 3; a++) c2.x[3 * i + a] = c.x[3 * i + a] + t[a];
  PetscCall(soap_of(s, &c2, 2, &f1, &dim));
  PM_TEST(max_diff(n * dim, f0, f1) < 1e-12, "translation changes SOAP by %g", max_diff(n * dim, f0, f1));
  PetscCall(PetscFree(f1));
  for (int i = 0; i < n; i++) perm[i] = i; /* permutation of the atoms (neighbour order changes) */
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(urand() * (i + 1)), tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  for (int i = 0; i < n; i++) {
    c2.sp[i] = c.sp[perm[i]];
    for (int a = 0; a < 3; a++) c2.x[3 * i + a] = c.x[3 * perm[i] + a];
  }
  PetscCall(soap_of(s, &c2, 2, &f1, &dim));
  {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, max_diff(dim, f1 + (size_t)i * dim, f0 + (size_t)perm[i] * dim));
    PM_TEST(m < 1e-13, "permutation changes SOAP by %g", m);
  }
  PetscCall(PetscFree(f1));
  { /* swapping the species labels changes the two-species descriptor of a mixed environment */
    for (int i = 0; i < n; i++) {
      c2.sp[i] = 1 - c.sp[i];
      for (int a = 0; a < 3; a++) c2.x[3 * i + a] = c.x[3 * i + a];
    }
    PetscCall(soap_of(s, &c2, 2, &f1, &dim));
    PM_TEST(max_diff(n * dim, f0, f1) > 1e-3, "species labels matter");
    PetscCall(PetscFree(f1));
  }
  PetscCall(PetscFree(f0));
  PetscCall(PetscFree2(c.sp, c.x));
  PetscCall(PetscFree2(c2.sp, c2.x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A periodic cubic cell with 2 species (distorted fcc) against an explicit open cluster of its
 * images, and a 2x2x2 supercell whose copies of an atom must agree. */
static PetscErrorCode test_periodic(pm_soap_t *s)
{
  const double a = 3.6, base[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
  cloud_t      cell, clus, sup;
  double      *fp, *fc, *fs, m = 0;
  int          dim, R = 2, nimg = 2 * R + 1, nc = 4 * nimg * nimg * nimg, center = -1;

  PetscFunctionBeginUser;
  cell.n = 4;
  cell.pbc = 1;
  cell.L = a;
  PetscCall(PetscMalloc2(4, &cell.sp, 12, &cell.x));
  for (int i = 0; i < 4; i++) {
    cell.sp[i] = i % 2;
    for (int k = 0; k < 3; k++) cell.x[3 * i + k] = a * base[i][k] + 0.25 * (urand() - 0.5);
  }
  PetscCall(soap_of(s, &cell, 2, &fp, &dim));
  clus.n = nc;
  clus.pbc = 0;
  PetscCall(PetscMalloc2(nc, &clus.sp, 3 * nc, &clus.x));
  for (int ix = -R, q = 0; ix <= R; ix++)
    for (int iy = -R; iy <= R; iy++)
      for (int iz = -R; iz <= R; iz++)
        for (int i = 0; i < 4; i++, q++) {
          if (!ix && !iy && !iz && i == 0) center = q;
          clus.sp[q] = cell.sp[i];
          clus.x[3 * q] = cell.x[3 * i] + ix * a;
          clus.x[3 * q + 1] = cell.x[3 * i + 1] + iy * a;
          clus.x[3 * q + 2] = cell.x[3 * i + 2] + iz * a;
        }
  PetscCall(soap_of(s, &clus, 2, &fc, &dim));
  for (int i = 0; i < 4; i++) m = fmax(m, max_diff(dim, fp + (size_t)i * dim, fc + (size_t)(center + i) * dim));
  PM_TEST(m < 1e-12, "periodic cell vs explicit images: %g", m);
  sup.n = 32;
  sup.pbc = 1;
  sup.L = 2 * a;
  PetscCall(PetscMalloc2(32, &sup.sp, 96, &sup.x));
  for (int c8 = 0, q = 0; c8 < 8; c8++)
    for (int i = 0; i < 4; i++, q++) {
      sup.sp[q] = cell.sp[i];
      for (int k = 0; k < 3; k++) sup.x[3 * q + k] = cell.x[3 * i + k] + a * ((c8 >> k) & 1);
    }
  PetscCall(soap_of(s, &sup, 2, &fs, &dim));
  m = 0;
  for (int q = 0; q < 32; q++) m = fmax(m, max_diff(dim, fs + (size_t)q * dim, fp + (size_t)(q % 4) * dim));
  PM_TEST(m < 1e-12, "2x2x2 supercell vs cell: %g", m);
  PetscCall(PetscFree(fp));
  PetscCall(PetscFree(fc));
  PetscCall(PetscFree(fs));
  PetscCall(PetscFree2(cell.sp, cell.x));
  PetscCall(PetscFree2(clus.sp, clus.x));
  PetscCall(PetscFree2(sup.sp, sup.x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_errors(pm_soap_t *s)
{
  PetscErrorCode e1, e2, e3;

  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  e1 = pm_soap_set_params(s, 0, 6, 5.0, 0.5);
  e2 = pm_soap_set_params(s, 8, 6, -1.0, 0.5);
  e3 = pm_soap_set_params(s, 8, 99, 5.0, 0.5);
  PetscCall(PetscPopErrorHandler());
  PM_TEST(e1 && e2 && e3, "bad parameters rejected (%d %d %d)", (int)e1, (int)e2, (int)e3);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Clouds with their features, for the independent Python reference. */
static PetscErrorCode dump(const char *path)
{
  const struct {
    int    nmax, lmax, n;
    double rc, sigma, R;
  } cases[] = {
    {4, 4, 14, 4.0, 0.5, 4.0},
    {8, 6, 12, 5.0, 0.5, 4.5},
    {3, 8, 10, 3.5, 0.35, 3.5},
  };
  FILE *f = fopen(path, "w");

  PetscFunctionBeginUser;
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", path);
  for (int t = 0; t < 3; t++) {
    pm_soap_t *s;
    cloud_t    c;
    double    *feat;
    int        dim;
    PetscCall(pm_soap_create(PETSC_COMM_SELF, &s));
    PetscCall(pm_soap_set_params(s, cases[t].nmax, cases[t].lmax, cases[t].rc, cases[t].sigma));
    PetscCall(random_cloud(cases[t].n, cases[t].R, 1.2, 2, &c));
    PetscCall(soap_of(s, &c, 2, &feat, &dim));
    fprintf(f, "cloud %d 2 %d %d %.17g %.17g %d\n", c.n, cases[t].nmax, cases[t].lmax, cases[t].rc, cases[t].sigma, dim);
    for (int i = 0; i < c.n; i++) fprintf(f, "%d %.17g %.17g %.17g\n", c.sp[i], c.x[3 * i], c.x[3 * i + 1], c.x[3 * i + 2]);
    for (int i = 0; i < c.n; i++)
      for (int k = 0; k < dim; k++) fprintf(f, "%.17g%c", feat[(size_t)i * dim + k], k == dim - 1 ? '\n' : ' ');
    PetscCall(PetscFree(feat));
    PetscCall(PetscFree2(c.sp, c.x));
    PetscCall(pm_soap_destroy(&s));
  }
  PetscCheck(fclose(f) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write %s", path);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  pm_soap_t *s;
  char       path[PETSC_MAX_PATH_LEN];
  PetscBool  flg;
  int        rc;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-dump", path, sizeof path, &flg));
  if (flg) {
    PetscCall(dump(path));
    PetscCall(PetscFinalize());
    return 0;
  }
  PetscCall(test_building_blocks());
  PetscCall(pm_soap_create(PETSC_COMM_WORLD, &s));
  PetscCall(pm_soap_set_from_options(s)); /* defaults: nmax 8, lmax 6, rc 5, sigma 0.5 */
  PetscCall(test_invariances(s));
  PetscCall(test_periodic(s));
  PetscCall(test_errors(s));
  PetscCall(pm_soap_destroy(&s));
  rc = pm_test_finish();
  PetscCall(PetscFinalize());
  return rc;
}
