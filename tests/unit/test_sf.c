/* Descriptor kernels on one rank: G2/G4 against a slow brute-force implementation written here
 * (2 species, all periodic images), invariance of Steinhardt + G2/G4 under translation, rotation
 * (of atoms and box together) and permutation, triclinic and tiny boxes (many images), Wigner 3j
 * values, and the spherical-harmonic addition theorem up to l = 20. */
#include <phasemap/descriptors.h>
#include "pm_test.h"
#include "descriptors/desc_impl.h"
#include <stdlib.h>
#include <string.h>

#define NA 60

static double urand(unsigned *s)
{
  *s = *s * 1103515245u + 12345u;
  return ((*s >> 8) & 0xffffff) / 16777216.0;
}

static pm_atoms_t *make_atoms(int n, const pm_box_t *box, const double *pos, const int *sp, const int64_t *id)
{
  pm_atoms_t *A = (pm_atoms_t *)calloc(1, sizeof *A);
  A->box        = *box;
  A->natoms = A->n_local = n;
  A->id                  = (int64_t *)malloc(sizeof(int64_t) * n);
  A->order               = (int64_t *)malloc(sizeof(int64_t) * n);
  A->species             = (int *)malloc(sizeof(int) * n);
  A->pos                 = (double *)malloc(sizeof(double) * 3 * n);
  for (int i = 0; i < n; i++) {
    A->id[i]      = id[i];
    A->order[i]   = id[i] - 1;
    A->species[i] = sp[i];
    memcpy(A->pos + 3 * i, pos + 3 * i, sizeof(double) * 3);
  }
  return A;
}

static void free_atoms(pm_atoms_t *A)
{
  free(A->id), free(A->order), free(A->species), free(A->pos), free(A);
}

/* Rows by order (n x dim) of the descriptor blocks given in -descriptor. */
static PetscErrorCode compute(const char *blocks, int n, const pm_box_t *box, const double *pos, const int *sp, const int64_t *id, int *dim, double **rows)
{
  pm_descriptors_t *d;
  pm_frame_rows_t   fr;
  pm_atoms_t       *A  = make_atoms(n, box, pos, sp, id);
  const char       *names[2] = {"A", "B"};

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsSetValue(NULL, "-descriptor", blocks));
  PetscCall(pm_descriptors_create(PETSC_COMM_SELF, &d));
  PetscCall(pm_descriptors_set_from_options(d));
  PetscCall(pm_descriptors_setup(d, 2, names, 0, NULL));
  PetscCall(pm_descriptors_compute_frame(d, PETSC_COMM_SELF, A, &fr));
  *dim  = d->dim;
  *rows = (double *)calloc((size_t)n * d->dim, sizeof(double));
  PM_TEST(fr.n == n, "owned %" PRId64 " of %d", fr.n, n);
  for (int64_t i = 0; i < fr.n; i++) memcpy(*rows + fr.order[i] * d->dim, fr.x + i * d->dim, sizeof(double) * d->dim);
  PetscCall(pm_frame_rows_free(&fr));
  PetscCall(pm_descriptors_destroy(&d));
  free_atoms(A);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Brute-force G2/G4 with the default parameters (eta 0.003,0.03,0.1,0.3; rs 0; zeta 1,2,4;
 * lambda -1,1), 2 species, cutoff rc, orthogonal box of side L, images -2..2. */
static void brute_sf(int n, double L, const double *pos, const int *sp, double rc, double *out)
{
  const double eta[4] = {0.003, 0.03, 0.1, 0.3}, zeta[3] = {1, 2, 4}, lam[2] = {-1, 1};
  enum { D = 2 * 4 + 3 * 4 * 3 * 2 };
  for (int i = 0; i < n; i++) {
    double nb[512][3];
    int    ns[512], m = 0;
    double *o = out + i * D;
    memset(o, 0, sizeof(double) * D);
    for (int j = 0; j < n; j++)
      for (int a = -2; a <= 2; a++)
        for (int b = -2; b <= 2; b++)
          for (int c = -2; c <= 2; c++) {
            double v[3] = {pos[3 * j] + a * L - pos[3 * i], pos[3 * j + 1] + b * L - pos[3 * i + 1], pos[3 * j + 2] + c * L - pos[3 * i + 2]};
            double r    = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
            if (r >= rc || (j == i && !a && !b && !c)) continue;
            memcpy(nb[m], v, sizeof v);
            ns[m++] = sp[j];
          }
    for (int j = 0; j < m; j++) {
      double r = sqrt(nb[j][0] * nb[j][0] + nb[j][1] * nb[j][1] + nb[j][2] * nb[j][2]), fc = 0.5 * (cos(M_PI * r / rc) + 1);
      for (int e = 0; e < 4; e++) o[ns[j] * 4 + e] += exp(-eta[e] * r * r) * fc;
    }
    for (int j = 0; j < m; j++)
      for (int k = j + 1; k < m; k++) {
        double rj = sqrt(nb[j][0] * nb[j][0] + nb[j][1] * nb[j][1] + nb[j][2] * nb[j][2]);
        double rk = sqrt(nb[k][0] * nb[k][0] + nb[k][1] * nb[k][1] + nb[k][2] * nb[k][2]);
        double dx = nb[k][0] - nb[j][0], dy = nb[k][1] - nb[j][1], dz = nb[k][2] - nb[j][2];
        double rjk = sqrt(dx * dx + dy * dy + dz * dz), cs, f;
        int    pa = ns[j] < ns[k] ? ns[j] : ns[k], pb = ns[j] < ns[k] ? ns[k] : ns[j], pair = pa == 0 ? pb : 2;
        if (rjk >= rc) continue;
        cs = (nb[j][0] * nb[k][0] + nb[j][1] * nb[k][1] + nb[j][2] * nb[k][2]) / (rj * rk);
        f  = 0.125 * (cos(M_PI * rj / rc) + 1) * (cos(M_PI * rk / rc) + 1) * (cos(M_PI * rjk / rc) + 1);
        for (int e = 0; e < 4; e++)
          for (int z = 0; z < 3; z++)
            for (int l = 0; l < 2; l++) {
              double base = 1 + lam[l] * cs;
              o[8 + pair * 24 + (e * 3 + z) * 2 + l] += pow(2, 1 - zeta[z]) * (base > 0 ? pow(base, zeta[z]) : 0) * exp(-eta[e] * (rj * rj + rk * rk + rjk * rjk)) * f;
            }
      }
  }
}

static double max_rel(int n, const double *a, const double *b)
{
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]) / fmax(1e-3, fabs(b[i])));
  return m;
}

/* Steinhardt with the nearest 12 within rc on a random cloud (exercises the inner search and its
 * fallback) against a brute-force selection over all images and pm_steinhardt_bonds. */
static PetscErrorCode test_nearest(double L, int n, unsigned seed)
{
  double          *pos = (double *)malloc(sizeof(double) * 3 * n), *r, rc = 4.8;
  int             *sp  = (int *)calloc(n, sizeof(int)), dim;
  int64_t         *id  = (int64_t *)malloc(sizeof(int64_t) * n);
  pm_box_t         box;
  pm_steinhardt_t *st;
  double           dev = 0.0;
  int              nzero = 0;

  PetscFunctionBeginUser;
  memset(&box, 0, sizeof box);
  for (int d = 0; d < 3; d++) box.h[d][d] = L, box.periodic[d] = 1;
  for (int i = 0; i < n; i++) {
    for (int d = 0; d < 3; d++) pos[3 * i + d] = L * urand(&seed);
    id[i] = i + 1;
  }
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_nnn", "12"));
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_cutoff", "4.8"));
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_wl", "1"));
  PetscCall(compute("steinhardt", n, &box, pos, sp, id, &dim, &r));
  PetscCall(pm_steinhardt_create(PETSC_COMM_SELF, &st));
  PetscCall(pm_steinhardt_set_from_options(st));
  for (int i = 0; i < n; i++) {
    double nb[4096][4], q[5], w[5], wh[5];
    int    m = 0;
    for (int j = 0; j < n; j++)
      for (int a = -1; a <= 1; a++)
        for (int b = -1; b <= 1; b++)
          for (int c = -1; c <= 1; c++) {
            double v[3] = {pos[3 * j] + a * L - pos[3 * i], pos[3 * j + 1] + b * L - pos[3 * i + 1], pos[3 * j + 2] + c * L - pos[3 * i + 2]};
            double r2   = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
            if (r2 >= rc * rc || (j == i && !a && !b && !c) || m == 4096) continue;
            nb[m][0] = v[0], nb[m][1] = v[1], nb[m][2] = v[2], nb[m][3] = r2;
            m++;
          }
    for (int a = 1; a < m; a++) /* sort by r^2 (no ties in random data) */
      for (int k = a; k > 0 && nb[k][3] < nb[k - 1][3]; k--)
        for (int t = 0; t < 4; t++) {
          double x = nb[k][t];
          nb[k][t] = nb[k - 1][t], nb[k - 1][t] = x;
        }
    if (m < 12) {
      nzero++;
      for (int c = 0; c < dim; c++) dev = fmax(dev, fabs(r[i * dim + c]));
      continue;
    }
    PetscCall(pm_steinhardt_bonds(st, 12, &nb[0][0], q, w, wh));
    for (int a = 0; a < 5; a++) dev = fmax(dev, fmax(fabs(r[i * dim + a] - q[a]), fmax(fabs(r[i * dim + 5 + a] - w[a]), fabs(r[i * dim + 10 + a] - wh[a]))));
  }
  PM_TEST(dev < 1e-12, "nearest-12 Steinhardt (L %g, n %d) vs brute force: %g", L, n, dev);
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "nearest 12 within %g, L %g, %d atoms (%d with fewer than 12): max dev %.2e\n", rc, L, n, nzero, dev));
  PetscCall(pm_steinhardt_destroy(&st));
  free(r), free(pos), free(sp), free(id);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_random_cloud(void)
{
  double   L = 11.0, pos[3 * NA], pos2[3 * NA], *r0, *r1, *ref, rc = 4.5, R[3][3];
  int      sp[NA], sp2[NA], dim;
  int64_t  id[NA], id2[NA];
  unsigned seed = 7;
  pm_box_t box, box2;

  PetscFunctionBeginUser;
  memset(&box, 0, sizeof box);
  for (int d = 0; d < 3; d++) box.h[d][d] = L, box.periodic[d] = 1, box.lo[d] = -1.0;
  for (int i = 0; i < NA; i++) {
    for (int d = 0; d < 3; d++) pos[3 * i + d] = box.lo[d] + L * urand(&seed);
    sp[i] = urand(&seed) < 0.4;
    id[i] = i + 1;
  }
  PetscCall(PetscOptionsSetValue(NULL, "-sf_cutoff", "4.5"));
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_nnn", "0"));
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_cutoff", "3.5"));
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_wl", "1"));
  PetscCall(compute("sf", NA, &box, pos, sp, id, &dim, &r0));
  PM_TEST(dim == 2 * 4 + 3 * 24, "sf dim %d", dim);
  ref = (double *)malloc(sizeof(double) * NA * dim);
  for (int i = 0; i < NA; i++) pos2[3 * i] = pos[3 * i] - box.lo[0], pos2[3 * i + 1] = pos[3 * i + 1] - box.lo[1], pos2[3 * i + 2] = pos[3 * i + 2] - box.lo[2];
  brute_sf(NA, L, pos2, sp, rc, ref);
  PM_TEST(max_rel(NA * dim, r0, ref) < 1e-10, "G2/G4 vs brute force: %g", max_rel(NA * dim, r0, ref));
  free(r0);
  free(ref);

  /* invariances of steinhardt + sf: translation (atoms leave the box and are wrapped) */
  PetscCall(compute("steinhardt,sf", NA, &box, pos, sp, id, &dim, &r0));
  for (int i = 0; i < 3 * NA; i++) pos2[i] = pos[i] + (i % 3 == 0 ? 3.3 : i % 3 == 1 ? -7.1 : 20.2);
  PetscCall(compute("steinhardt,sf", NA, &box, pos2, sp, id, &dim, &r1));
  PM_TEST(max_rel(NA * dim, r1, r0) < 1e-9, "translation changes descriptors by %g", max_rel(NA * dim, r1, r0));
  free(r1);
  /* rotation of atoms and box together (a general, non-LAMMPS cell) */
  {
    double ang[3] = {0.3, -1.1, 2.0}, c0 = cos(ang[0]), s0 = sin(ang[0]), c1 = cos(ang[1]), s1 = sin(ang[1]), c2 = cos(ang[2]), s2 = sin(ang[2]);
    double Rz[3][3] = {{c0, -s0, 0}, {s0, c0, 0}, {0, 0, 1}}, Ry[3][3] = {{c1, 0, s1}, {0, 1, 0}, {-s1, 0, c1}}, Rx[3][3] = {{1, 0, 0}, {0, c2, -s2}, {0, s2, c2}}, T[3][3];
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++) {
        T[a][b] = 0;
        for (int k = 0; k < 3; k++) T[a][b] += Rz[a][k] * Ry[k][b];
      }
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++) {
        R[a][b] = 0;
        for (int k = 0; k < 3; k++) R[a][b] += T[a][k] * Rx[k][b];
      }
    box2 = box;
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++) box2.h[a][b] = R[b][0] * box.h[a][0] + R[b][1] * box.h[a][1] + R[b][2] * box.h[a][2];
    for (int b = 0; b < 3; b++) box2.lo[b] = R[b][0] * box.lo[0] + R[b][1] * box.lo[1] + R[b][2] * box.lo[2];
    for (int i = 0; i < NA; i++)
      for (int b = 0; b < 3; b++) pos2[3 * i + b] = R[b][0] * pos[3 * i] + R[b][1] * pos[3 * i + 1] + R[b][2] * pos[3 * i + 2];
    box2.triclinic = 1;
    PetscCall(compute("steinhardt,sf", NA, &box2, pos2, sp, id, &dim, &r1));
    PM_TEST(max_rel(NA * dim, r1, r0) < 1e-9, "rotation changes descriptors by %g", max_rel(NA * dim, r1, r0));
    free(r1);
  }
  /* permutation of the input order: rows by id are bit-identical */
  for (int i = 0; i < NA; i++) {
    int k = (i * 37 + 11) % NA;
    memcpy(pos2 + 3 * i, pos + 3 * k, sizeof(double) * 3);
    sp2[i] = sp[k];
    id2[i] = id[k];
  }
  PetscCall(compute("steinhardt,sf", NA, &box, pos2, sp2, id2, &dim, &r1));
  PM_TEST(memcmp(r1, r0, sizeof(double) * NA * dim) == 0, "permutation changes descriptors");
  free(r1);
  free(r0);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* fcc as a triclinic primitive cell (4x4x4), as a sheared conventional cell, and a tiny 1x1x1 box */
static PetscErrorCode test_fcc_cells(void)
{
  const double a = 3.615, q4 = 0.19094065395649, q6 = 0.57452425971407;
  double       pos[3 * 128], *r;
  int          sp[128] = {0}, dim, n;
  int64_t      id[128];
  pm_box_t     box;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_nnn", "12"));
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_cutoff", "6.0"));
  PetscCall(PetscOptionsSetValue(NULL, "-steinhardt_wl", "0"));
  for (int cfg = 0; cfg < 3; cfg++) {
    memset(&box, 0, sizeof box);
    for (int d = 0; d < 3; d++) box.periodic[d] = 1;
    n = 0;
    if (cfg == 0) { /* primitive vectors (0,a/2,a/2), (a/2,0,a/2), (a/2,a/2,0), 4 x 4 x 4 */
      double p[3][3] = {{0, a / 2, a / 2}, {a / 2, 0, a / 2}, {a / 2, a / 2, 0}};
      for (int d = 0; d < 3; d++)
        for (int k = 0; k < 3; k++) box.h[d][k] = 4 * p[d][k];
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
          for (int k = 0; k < 4; k++, n++)
            for (int c = 0; c < 3; c++) pos[3 * n + c] = i * p[0][c] + j * p[1][c] + k * p[2][c];
    } else {
      int m = cfg == 1 ? 2 : 1; /* 2x2x2 conventional cells with tilts xy = xz = a; or one cell */
      double basis[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
      box.h[0][0] = box.h[1][1] = box.h[2][2] = m * a;
      if (cfg == 1) box.h[1][0] = box.h[2][0] = a, box.triclinic = 1;
      for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
          for (int k = 0; k < m; k++)
            for (int b = 0; b < 4; b++, n++) {
              pos[3 * n]     = (i + basis[b][0]) * a + 0.25;
              pos[3 * n + 1] = (j + basis[b][1]) * a - 0.5;
              pos[3 * n + 2] = (k + basis[b][2]) * a;
            }
    }
    for (int i = 0; i < n; i++) id[i] = i + 1;
    PetscCall(compute("steinhardt", n, &box, pos, sp, id, &dim, &r));
    for (int i = 0; i < n; i++) {
      PM_TEST(fabs(r[i * dim] - q4) < 1e-9 && fabs(r[i * dim + 1] - q6) < 1e-9, "fcc cell %d atom %d: q4 %.12f q6 %.12f", cfg, i, r[i * dim], r[i * dim + 1]);
    }
    free(r);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void test_ylm_3j(void)
{
  pm_ylm_t *Y;
  double    re[PM_LM(20, 20) + 1], im[PM_LM(20, 20) + 1], u[3] = {0.36, -0.48, 0.8};

  PM_TEST(fabs(pm_wigner3j(2, 2, 2, 0, 0, 0) + 0.23904572186687872) < 1e-14, "3j(222;000)");
  PM_TEST(fabs(pm_wigner3j(4, 4, 4, 0, 0, 0) - 0.13409704688030227) < 1e-14, "3j(444;000)");
  PM_TEST(fabs(pm_wigner3j(6, 6, 6, 2, -3, 1) - 0.045232086779460515) < 1e-14, "3j(666;2-31)");
  PM_TEST(fabs(pm_wigner3j(12, 12, 12, 5, -7, 2) - 0.05220380452638073) < 1e-14, "3j(12;5-72)");
  PM_TEST(fabs(pm_wigner3j(1, 1, 2, 1, -1, 0) - 0.18257418583505536) < 1e-14, "3j(112;1-10)");
  pm_ylm_create(20, &Y);
  memset(re, 0, sizeof re);
  memset(im, 0, sizeof im);
  pm_ylm_add(Y, u, re, im);
  for (int l = 0; l <= 20; l++) { /* addition theorem: sum_m |Y_lm|^2 = (2l+1)/(4 pi) */
    double s = re[PM_LM(l, 0)] * re[PM_LM(l, 0)];
    for (int m = 1; m <= l; m++) s += 2 * (re[PM_LM(l, m)] * re[PM_LM(l, m)] + im[PM_LM(l, m)] * im[PM_LM(l, m)]);
    PM_TEST(fabs(s - (2 * l + 1) / (4 * M_PI)) < 1e-12, "addition theorem l=%d: %g", l, s);
  }
  { /* explicit Y_2^1 = -sqrt(15/(8 pi)) sin cos e^{i phi}, Y_4^0 */
    double z = u[2], y21r = -sqrt(15 / (8 * M_PI)) * z * u[0], y21i = -sqrt(15 / (8 * M_PI)) * z * u[1];
    double y40 = 3 / (16 * sqrt(M_PI)) * (35 * z * z * z * z - 30 * z * z + 3);
    PM_TEST(fabs(re[PM_LM(2, 1)] - y21r) < 1e-14 && fabs(im[PM_LM(2, 1)] - y21i) < 1e-14, "Y_2^1");
    PM_TEST(fabs(re[PM_LM(4, 0)] - y40) < 1e-14, "Y_4^0");
  }
  pm_ylm_destroy(&Y);
}

int main(int argc, char **argv)
{
  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  test_ylm_3j();
  PetscCall(test_random_cloud());
  PetscCall(test_fcc_cells());
  PetscCall(test_nearest(14.0, 300, 3));
  PetscCall(test_nearest(14.0, 120, 5));
  {
    int fail = pm_test_finish_mpi(PETSC_COMM_WORLD);
    PetscCall(PetscFinalize());
    return fail;
  }
}
