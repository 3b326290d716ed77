/* SOAP radial part: Gauss-Legendre quadrature, scaled modified spherical Bessel functions, the
 * Loewdin-orthonormalised Gaussian radial basis and the table of radial integrals I_nl(d). */
#include "soap_impl.h"
#include <math.h>

void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work, const int *lwork, int *info);

void pm_soap_gauss_legendre(int n, double a, double b, double *x, double *w)
{
  for (int i = 0; i < n; i++) {
    double z = cos(PETSC_PI * (i + 0.75) / (n + 0.5)), dp = 1.0;
    for (int it = 0; it < 100; it++) {
      double p0 = 1.0, p1 = z, dz;
      for (int k = 2; k <= n; k++) {
        double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
        p0        = p1;
        p1        = p2;
      }
      dp = n * (z * p1 - p0) / (z * z - 1.0); /* P_n'(z) */
      dz = p1 / dp;
      z -= dz;
      if (fabs(dz) < 1e-16) break;
    }
    {
      double p0 = 1.0, p1 = z;
      for (int k = 2; k <= n; k++) {
        double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
        p0        = p1;
        p1        = p2;
      }
      dp = n * (z * p1 - p0) / (z * z - 1.0);
    }
    x[i] = 0.5 * (a + b) - 0.5 * (b - a) * z;
    w[i] = (b - a) / ((1.0 - z * z) * dp * dp);
  }
}

/* Power series of e^{-x} i_l(x); every term is positive, so it is accurate for any x < ~700. */
static double bessel_series(int l, double x)
{
  double t = 1.0, s, q = 0.5 * x * x;

  for (int k = 1; k <= l; k++) t *= x / (2 * k + 1);
  s = t;
  for (int k = 0; k < 100000; k++) {
    t *= q / ((k + 1.0) * (2.0 * l + 2.0 * k + 3.0));
    s += t;
    if (t < 1e-17 * s && 2.0 * k > x) break;
  }
  return s * exp(-x);
}

void pm_soap_bessel_scaled(int lmax, double x, double *out)
{
  if (x <= 0.0) {
    out[0] = 1.0;
    for (int l = 1; l <= lmax; l++) out[l] = 0.0;
  } else if (x < 1.0 || lmax == 0) {
    if (x > 600.0) out[0] = (1.0 - exp(-2.0 * x)) / (2.0 * x);
    else
      for (int l = 0; l <= lmax; l++) out[l] = bessel_series(l, x);
  } else if (x <= 600.0) {
    /* downward recurrence f_{l-1} = f_{l+1} + (2l+1)/x f_l is stable for the minimal solution i_l */
    double fp = bessel_series(lmax + 1, x), f = bessel_series(lmax, x);
    out[lmax] = f;
    for (int l = lmax; l >= 1; l--) {
      double fm = fp + (2.0 * l + 1.0) / x * f;
      out[l - 1] = fm;
      fp         = f;
      f          = fm;
    }
  } else {
    /* x >> l: upward recurrence from the closed forms of i_0, i_1 loses nothing */
    double e = exp(-2.0 * x);
    out[0]   = (1.0 - e) / (2.0 * x);
    if (lmax >= 1) out[1] = (1.0 + e) / (2.0 * x) - out[0] / x;
    for (int l = 1; l < lmax; l++) out[l + 1] = out[l - 1] - (2.0 * l + 1.0) / x * out[l];
  }
}

void pm_soap_basis_eval(int nmax, double rc, const double *W, double r, double *g)
{
  double b = rc / nmax, phi[PM_SOAP_NMAX_MAX];

  for (int k = 0; k < nmax; k++) {
    double u = (r - k * b) / b;
    phi[k]   = exp(-0.5 * u * u);
  }
  for (int n = 0; n < nmax; n++) {
    double s = 0.0;
    for (int k = 0; k < nmax; k++) s += W[n * nmax + k] * phi[k];
    g[n] = s;
  }
}

/* Composite Gauss-Legendre rule on [0, rc] with panels no wider than `panel`. */
static PetscErrorCode radial_rule(double rc, double panel, int *nq, double **x, double **w)
{
  const int order = 16;
  int       nseg  = (int)ceil(rc / panel);

  PetscFunctionBeginUser;
  if (nseg < 4) nseg = 4;
  *nq = nseg * order;
  PetscCall(PetscMalloc2(*nq, x, *nq, w));
  for (int s = 0; s < nseg; s++) pm_soap_gauss_legendre(order, rc * s / nseg, rc * (s + 1) / nseg, *x + s * order, *w + s * order);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_soap_basis_coefficients(int nmax, double rc, double *W)
{
  int     nq, info, lwork = 64 * nmax;
  double *xq, *wq, *S, *U, *ev, *work, b = rc / nmax;

  PetscFunctionBeginUser;
  PetscCall(radial_rule(rc, 0.25 * b, &nq, &xq, &wq));
  PetscCall(PetscCalloc4(nmax * nmax, &S, nmax * nmax, &U, nmax, &ev, lwork, &work));
  for (int q = 0; q < nq; q++) {
    double phi[PM_SOAP_NMAX_MAX], r = xq[q];
    for (int k = 0; k < nmax; k++) phi[k] = exp(-0.5 * (r - k * b) * (r - k * b) / (b * b));
    for (int k = 0; k < nmax; k++)
      for (int kk = 0; kk < nmax; kk++) S[k * nmax + kk] += wq[q] * r * r * phi[k] * phi[kk];
  }
  PetscCall(PetscArraycpy(U, S, nmax * nmax));
  dsyev_("V", "U", &nmax, U, &nmax, ev, work, &lwork, &info);
  PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "SOAP radial basis: LAPACK dsyev failed (info %d)", info);
  PetscCheck(ev[0] > 1e-13 * ev[nmax - 1], PETSC_COMM_SELF, PETSC_ERR_USER_INPUT, "SOAP radial basis with -soap_nmax %d is numerically singular; lower -soap_nmax", nmax);
  /* W = U diag(ev^-1/2) U^T; column j of U (column-major) is eigenvector j */
  for (int n = 0; n < nmax; n++)
    for (int k = 0; k < nmax; k++) {
      double s = 0.0;
      for (int j = 0; j < nmax; j++) s += U[j * nmax + n] * U[j * nmax + k] / sqrt(ev[j]);
      W[n * nmax + k] = s;
    }
  PetscCall(PetscFree4(S, U, ev, work));
  PetscCall(PetscFree2(xq, wq));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_soap_build_table(pm_soap_t *s)
{
  int     nq, L = s->lmax + 1, N = s->nmax, row = L * N;
  double *xq, *wq, *W, *G, *bes, s2 = s->sigma * s->sigma;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(s->ev_table, 0, 0, 0, 0));
  PetscCall(PetscFree(s->table));
  PetscCall(PetscMalloc1((size_t)(PM_SOAP_TABLE_N + 4) * row, &s->table));
  s->h = s->rc / PM_SOAP_TABLE_N;
  PetscCall(radial_rule(s->rc, PetscMin(0.5 * s->sigma, 0.25 * s->rc / N), &nq, &xq, &wq));
  PetscCall(PetscMalloc3(N * N, &W, (size_t)nq * N, &G, L, &bes));
  PetscCall(pm_soap_basis_coefficients(N, s->rc, W));
  for (int q = 0; q < nq; q++) {
    pm_soap_basis_eval(N, s->rc, W, xq[q], G + (size_t)q * N);
    for (int n = 0; n < N; n++) G[(size_t)q * N + n] *= 4.0 * PETSC_PI * wq[q] * xq[q] * xq[q];
  }
  for (int t = 1; t < PM_SOAP_TABLE_N + 4; t++) {
    double  d = (t - 1) * s->h, *T = s->table + (size_t)t * row;
    for (int i = 0; i < row; i++) T[i] = 0.0;
    for (int q = 0; q < nq; q++) {
      double r = xq[q], e = exp(-0.5 * (r - d) * (r - d) / s2);
      if (e == 0.0) continue;
      pm_soap_bessel_scaled(s->lmax, r * d / s2, bes);
      for (int l = 0; l < L; l++) {
        double f = e * bes[l];
        for (int n = 0; n < N; n++) T[l * N + n] += f * G[(size_t)q * N + n];
      }
    }
  }
  /* row 0 is d = -h: I_nl(-d) = (-1)^l I_nl(d) continues the table smoothly through d = 0 */
  for (int l = 0; l < L; l++)
    for (int n = 0; n < N; n++) s->table[l * N + n] = ((l % 2) ? -1.0 : 1.0) * s->table[2 * row + l * N + n];
  PetscCall(PetscFree3(W, G, bes));
  PetscCall(PetscFree2(xq, wq));
  PetscCall(PetscLogEventEnd(s->ev_table, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
