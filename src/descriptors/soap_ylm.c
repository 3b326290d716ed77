/* Real spherical harmonics by recurrences (no trigonometric calls):
 * Y_l0 = N_l0 Q_l^0(z), Y_lm = sqrt2 N_lm Q_l^m(z) Re (x + i y)^m, Y_l,-m = sqrt2 N_lm Q_l^m(z) Im (x + i y)^m,
 * where P_l^m(cos t) = sin^m(t) Q_l^m(cos t) (no Condon-Shortley phase) and
 * N_lm = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!). Orthonormal on the unit sphere. */
#include "soap_impl.h"
#include <math.h>

void pm_soap_ylm_coefficients(int lmax, double *ycoef)
{
  int     LL = (lmax + 1) * (lmax + 1);
  double *A = ycoef + LL, *B = ycoef + 2 * LL; /* Q_l^m = A z Q_{l-1}^m - B Q_{l-2}^m */

  for (int l = 0; l <= lmax; l++)
    for (int m = 0; m < l; m++) {
      A[l * l + l + m] = (2.0 * l - 1.0) / (l - m);
      B[l * l + l + m] = (l + m - 1.0) / (l - m);
    }
  for (int l = 0; l <= lmax; l++)
    for (int m = 0; m <= l; m++) {
      double r = 1.0; /* (l-m)!/(l+m)! */
      for (int k = l - m + 1; k <= l + m; k++) r /= k;
      r = sqrt((2 * l + 1) / (4.0 * PETSC_PI) * r);
      if (m > 0) r *= sqrt(2.0);
      ycoef[l * l + l + m] = r;
      ycoef[l * l + l - m] = r;
    }
}

void pm_soap_ylm(int lmax, const double *ycoef, double x, double y, double z, double *Y)
{
  int           LL = (lmax + 1) * (lmax + 1);
  const double *A = ycoef + LL, *B = ycoef + 2 * LL;
  double        c = 1.0, s = 0.0, qmm = 1.0; /* Re, Im (x+iy)^m; Q_m^m = (2m-1)!! */

  for (int m = 0; m <= lmax; m++) {
    double q0 = qmm, q1;
    if (m == 0) Y[0] = ycoef[0] * q0;
    else {
      Y[m * m + m + m] = ycoef[m * m + m + m] * q0 * c;
      Y[m * m + m - m] = ycoef[m * m + m - m] * q0 * s;
    }
    if (m < lmax) {
      q1 = (2 * m + 1) * z * q0;
      for (int l = m + 1; l <= lmax; l++) {
        if (l > m + 1) {
          double q2 = A[l * l + l + m] * z * q1 - B[l * l + l + m] * q0;
          q0        = q1;
          q1        = q2;
        }
        if (m == 0) Y[l * l + l] = ycoef[l * l + l] * q1;
        else {
          Y[l * l + l + m] = ycoef[l * l + l + m] * q1 * c;
          Y[l * l + l - m] = ycoef[l * l + l - m] * q1 * s;
        }
      }
    }
    {
      double cn = c * x - s * y, sn = c * y + s * x;
      c = cn;
      s = sn;
    }
    qmm *= (2 * m + 1);
  }
}
