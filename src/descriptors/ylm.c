/* Spherical harmonics by stable recurrences and Wigner 3j symbols (l l l; m1 m2 m3) for w_l. */
#include "descriptors/desc_impl.h"
#include <math.h>

/* Normalised associated Legendre functions without the sin^m factor,
 * R_l^m(z) = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!) P_l^m(z) / sin^m(theta) (Condon-Shortley phase), so
 * Y_lm(u) = R_l^m(u_z) (u_x + i u_y)^m for a unit vector u: no division by sin(theta) anywhere.
 * Recurrences: R_m^m = -sqrt((2m+1)/(2m)) R_{m-1}^{m-1}, R_{m+1}^m = sqrt(2m+3) z R_m^m,
 * R_l^m = a_lm (z R_{l-1}^m - b_lm R_{l-2}^m). */
PetscErrorCode pm_ylm_create(int lmax, pm_ylm_t **ylm)
{
  pm_ylm_t *Y;
  int       n = (lmax + 1) * (lmax + 2) / 2;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&Y));
  Y->lmax = lmax;
  PetscCall(PetscCalloc3(n, &Y->a, n, &Y->b, lmax + 1, &Y->diag));
  Y->diag[0] = 1.0 / sqrt(4.0 * M_PI);
  for (int m = 1; m <= lmax; m++) Y->diag[m] = -sqrt((2.0 * m + 1.0) / (2.0 * m)) * Y->diag[m - 1];
  for (int l = 0; l <= lmax; l++)
    for (int m = 0; m <= l; m++) {
      int k = PM_LM(l, m);
      if (l >= m + 2) {
        Y->a[k] = sqrt((4.0 * l * l - 1.0) / ((double)l * l - (double)m * m));
        Y->b[k] = sqrt(((l - 1.0) * (l - 1.0) - (double)m * m) / (4.0 * (l - 1.0) * (l - 1.0) - 1.0));
      } else if (l == m + 1)
        Y->a[k] = sqrt(2.0 * m + 3.0); /* b = 0: the general step with R_{m-1}^m = 0 */
    }
  for (int l = 0; l <= lmax; l++) Y->use[l] = 1;
  *ylm = Y;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_ylm_destroy(pm_ylm_t **ylm)
{
  PetscFunctionBeginUser;
  if (!*ylm) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree3((*ylm)->a, (*ylm)->b, (*ylm)->diag));
  PetscCall(PetscFree(*ylm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* re/im[PM_LM(l, m)] += Y_lm(u) for 0 <= m <= l <= lmax with Y->use[l] set; u is a unit vector. */
void pm_ylm_add(const pm_ylm_t *Y, const double u[3], double *re, double *im)
{
  double z = u[2], cr = 1.0, ci = 0.0; /* (u_x + i u_y)^m */

  for (int m = 0; m <= Y->lmax; m++) {
    double r2 = 0.0, r1 = Y->diag[m], r0;
    int    k = PM_LM(m, m);
    if (Y->use[m]) {
      re[k] += r1 * cr;
      im[k] += r1 * ci;
    }
    for (int l = m + 1; l <= Y->lmax; l++) {
      k  = PM_LM(l, m);
      r0 = Y->a[k] * (z * r1 - Y->b[k] * r2);
      if (Y->use[l]) {
        re[k] += r0 * cr;
        im[k] += r0 * ci;
      }
      r2 = r1;
      r1 = r0;
    }
    {
      double t = cr * u[0] - ci * u[1];
      ci       = cr * u[1] + ci * u[0];
      cr       = t;
    }
  }
}

/* Same for two unit vectors at once (two independent recurrences interleave well); the sums get
 * Y_lm(u) then Y_lm(v), the order of two pm_ylm_add calls, so results are bit-identical. */
void pm_ylm_add2(const pm_ylm_t *Y, const double u[3], const double v[3], double *re, double *im)
{
  double zu = u[2], zv = v[2], cur = 1.0, cui = 0.0, cvr = 1.0, cvi = 0.0;

  for (int m = 0; m <= Y->lmax; m++) {
    double pu = 0.0, qu = Y->diag[m], pv = 0.0, qv = Y->diag[m];
    int    k = PM_LM(m, m);
    if (Y->use[m]) {
      re[k] += qu * cur;
      im[k] += qu * cui;
      re[k] += qv * cvr;
      im[k] += qv * cvi;
    }
    for (int l = m + 1; l <= Y->lmax; l++) {
      double a = Y->a[PM_LM(l, m)], b = Y->b[PM_LM(l, m)];
      double nu = a * (zu * qu - b * pu), nv = a * (zv * qv - b * pv);
      k  = PM_LM(l, m);
      pu = qu;
      qu = nu;
      pv = qv;
      qv = nv;
      if (Y->use[l]) {
        re[k] += qu * cur;
        im[k] += qu * cui;
        re[k] += qv * cvr;
        im[k] += qv * cvi;
      }
    }
    {
      double t = cur * u[0] - cui * u[1];
      cui      = cur * u[1] + cui * u[0];
      cur      = t;
      t        = cvr * v[0] - cvi * v[1];
      cvi      = cvr * v[1] + cvi * v[0];
      cvr      = t;
    }
  }
}

/* Wigner 3j symbol by the Racah formula in long double (exact factorials up to 25!, relative
 * rounding ~1e-19 above); adequate for l <= PM_STEINHARDT_LMAX. */
double pm_wigner3j(int j1, int j2, int j3, int m1, int m2, int m3)
{
  long double f[4 * PM_STEINHARDT_LMAX + 8], pre, sum = 0.0L;
  int         top = j1 + j2 + j3 + 1;

  if (m1 + m2 + m3 != 0 || abs(m1) > j1 || abs(m2) > j2 || abs(m3) > j3) return 0.0;
  if (j3 < abs(j1 - j2) || j3 > j1 + j2) return 0.0;
  if (top >= (int)(sizeof f / sizeof f[0])) return NAN;
  f[0] = 1.0L;
  for (int i = 1; i <= top; i++) f[i] = f[i - 1] * (long double)i;
  pre = f[j1 + j2 - j3] * f[j1 - j2 + j3] * f[-j1 + j2 + j3] / f[top];
  pre *= f[j1 + m1] * f[j1 - m1] * f[j2 + m2] * f[j2 - m2] * f[j3 + m3] * f[j3 - m3];
  pre = sqrtl(pre);
  for (int t = 0; t <= top; t++) {
    int d[6] = {t, j3 - j2 + t + m1, j3 - j1 + t - m2, j1 + j2 - j3 - t, j1 - t - m1, j2 - t + m2}, ok = 1;
    for (int i = 0; i < 6; i++) ok = ok && d[i] >= 0;
    if (!ok) continue;
    long double den = 1.0L;
    for (int i = 0; i < 6; i++) den *= f[d[i]];
    sum += ((t % 2) ? -1.0L : 1.0L) / den;
  }
  return (double)((((j1 - j2 - m3) % 2) ? -1.0L : 1.0L) * pre * sum);
}

/* The terms of w_l = sum_{m1+m2+m3=0} (l l l; m1 m2 m3) Re(q_m1 q_m2 q_m3), folded over the
 * permutations of (m1, m2, m3): the product is symmetric, so one term per sorted triple
 * m1 <= m2 <= m3 whose coefficient is the sum of the 3j symbols of its distinct permutations
 * (zero for odd l, where w_l vanishes identically). */
PetscErrorCode pm_w3j_table(int l, int *n, int **m, double **c)
{
  int     cnt = 0, *mm;
  double *cc;

  PetscFunctionBeginUser;
  for (int m1 = -l; m1 <= l; m1++)
    for (int m2 = m1; m2 <= l; m2++) {
      int m3 = -m1 - m2;
      if (m3 >= m2 && m3 <= l) cnt++;
    }
  PetscCall(PetscMalloc2(3 * cnt + 1, &mm, cnt + 1, &cc));
  cnt = 0;
  for (int m1 = -l; m1 <= l; m1++)
    for (int m2 = m1; m2 <= l; m2++) {
      int    m3 = -m1 - m2, p[6][3], np = 0;
      double s = 0.0;
      if (m3 < m2 || m3 > l) continue;
      /* sum the 3j symbol over the distinct permutations of (m1, m2, m3) */
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
          int v[3] = {m1, m2, m3}, q[3], dup = 0;
          if (a == b) continue;
          q[0] = v[a];
          q[1] = v[b];
          q[2] = v[3 - a - b];
          for (int k = 0; k < np; k++) dup = dup || (p[k][0] == q[0] && p[k][1] == q[1] && p[k][2] == q[2]);
          if (dup) continue;
          p[np][0] = q[0];
          p[np][1] = q[1];
          p[np][2] = q[2];
          np++;
          s += pm_wigner3j(l, l, l, q[0], q[1], q[2]);
        }
      mm[3 * cnt]     = m1;
      mm[3 * cnt + 1] = m2;
      mm[3 * cnt + 2] = m3;
      cc[cnt++]       = s;
    }
  *n = cnt;
  *m = mm;
  *c = cc;
  PetscFunctionReturn(PETSC_SUCCESS);
}
