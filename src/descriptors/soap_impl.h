/* Private parts of the SOAP power spectrum (soap.c, soap_radial.c, soap_ylm.c). See docs/soap.md
 * for the definitions (basis, envelope, normalisation). */
#pragma once
#include "desc_impl.h"

#define PM_SOAP_LMAX_MAX 20 /* real harmonics and Bessel recurrences are tested up to here */
#define PM_SOAP_NMAX_MAX 32
#define PM_SOAP_TABLE_N  2048 /* radial table intervals on [0, rc] */

struct pm_soap {
  MPI_Comm      comm; /* borrowed */
  int           nmax, lmax;
  double        rc, sigma, width; /* cutoff, Gaussian width, envelope width (min(1, rc/2)) */
  double        h;                /* table spacing rc / PM_SOAP_TABLE_N */
  double       *table;            /* (PM_SOAP_TABLE_N + 4) x (lmax+1) x nmax; row t is d = (t-1) h */
  double       *ycoef;            /* real harmonics: normalisation and recurrence factors, 3 (lmax+1)^2 */
  PetscLogEvent ev_table, ev_compute;
};

/* Set n_max (1..32), l_max (0..20), cutoff and Gaussian width (Angstrom) and rebuild the radial
 * table (a few 0.1 s). Collective (same values on every rank; errors name the option). */
PetscErrorCode pm_soap_set_params(pm_soap_t *s, int nmax, int lmax, double rc, double sigma);

/* e^{-x} i_l(x) for l = 0..lmax (modified spherical Bessel function of the first kind), x >= 0. */
void pm_soap_bessel_scaled(int lmax, double x, double *out);
/* Gauss-Legendre nodes and weights of order n on [a, b]. */
void pm_soap_gauss_legendre(int n, double a, double b, double *x, double *w);
/* Orthonormal radial basis g_n(r) = sum_k W[n*nmax+k] phi_k(r) on [0, rc] (weight r^2), with
 * phi_k(r) = exp(-(r - k rc/nmax)^2 / (2 b^2)), b = rc/nmax, W = S^{-1/2} (Loewdin). */
PetscErrorCode pm_soap_basis_coefficients(int nmax, double rc, double *W);
/* Evaluate the nmax basis functions at r. */
void pm_soap_basis_eval(int nmax, double rc, const double *W, double r, double *g);
/* Fill s->table with I_nl(d) = 4 pi int_0^rc r^2 g_n(r) e^{-(r^2+d^2)/(2 sigma^2)} i_l(r d / sigma^2) dr. */
PetscErrorCode pm_soap_build_table(pm_soap_t *s);
/* Real spherical harmonics Y_lm (index l*l + l + m) of the unit vector (x, y, z), l = 0..lmax;
 * ycoef (3 (lmax+1)^2 doubles) from pm_soap_ylm_coefficients. */
void pm_soap_ylm_coefficients(int lmax, double *ycoef);
void pm_soap_ylm(int lmax, const double *ycoef, double x, double y, double z, double *Y);
/* Smooth envelope: 1 below rc - width, cosine switch to 0 at rc. */
static inline double pm_soap_envelope(double r, double rc, double width)
{
  if (r <= rc - width) return 1.0;
  if (r >= rc) return 0.0;
  return 0.5 * (1.0 + cos(PETSC_PI * (r - rc + width) / width));
}
