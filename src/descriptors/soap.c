/* SOAP power spectrum of every owned atom of a neighbour list (definitions in docs/soap.md).
 * Per atom: O(neighbours * nmax * (lmax+1)^2) for the expansion, O(S^2 nmax^2 (lmax+1)^2) for the
 * power spectrum. Radial integrals come from a table with cubic interpolation. */
#include "soap_impl.h"
#include <math.h>

PetscErrorCode pm_soap_create(MPI_Comm comm, pm_soap_t **s)
{
  pm_soap_t *S;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&S));
  S->comm  = comm;
  S->nmax  = 8;
  S->lmax  = 6;
  S->rc    = 5.0;
  S->sigma = 0.5;
  PetscCall(PetscLogEventRegister("PmSoapTable", PETSC_OBJECT_CLASSID, &S->ev_table));
  PetscCall(PetscLogEventRegister("PmSoapCompute", PETSC_OBJECT_CLASSID, &S->ev_compute));
  PetscCall(pm_soap_set_params(S, S->nmax, S->lmax, S->rc, S->sigma));
  *s = S;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_soap_set_params(pm_soap_t *s, int nmax, int lmax, double rc, double sigma)
{
  PetscFunctionBeginUser;
  PetscCheck(nmax >= 1 && nmax <= PM_SOAP_NMAX_MAX, s->comm, PETSC_ERR_USER_INPUT, "-soap_nmax %d is out of range; use 1..%d", nmax, PM_SOAP_NMAX_MAX);
  PetscCheck(lmax >= 0 && lmax <= PM_SOAP_LMAX_MAX, s->comm, PETSC_ERR_USER_INPUT, "-soap_lmax %d is out of range; use 0..%d", lmax, PM_SOAP_LMAX_MAX);
  PetscCheck(rc > 0.0 && isfinite(rc), s->comm, PETSC_ERR_USER_INPUT, "-soap_cutoff %g must be a positive length in Angstrom", rc);
  PetscCheck(sigma > 0.0 && sigma <= rc && isfinite(sigma), s->comm, PETSC_ERR_USER_INPUT, "-soap_sigma %g must be positive and not larger than -soap_cutoff %g", sigma, rc);
  PetscCheck(rc / sigma <= 200.0, s->comm, PETSC_ERR_USER_INPUT, "-soap_cutoff / -soap_sigma = %g is too large (at most 200); raise -soap_sigma", rc / sigma);
  if (s->table && nmax == s->nmax && lmax == s->lmax && rc == s->rc && sigma == s->sigma) PetscFunctionReturn(PETSC_SUCCESS);
  s->nmax  = nmax;
  s->lmax  = lmax;
  s->rc    = rc;
  s->sigma = sigma;
  s->width = PetscMin(1.0, 0.5 * rc);
  PetscCall(PetscFree(s->ycoef));
  PetscCall(PetscMalloc1(3 * (lmax + 1) * (lmax + 1), &s->ycoef));
  pm_soap_ylm_coefficients(lmax, s->ycoef);
  PetscCall(pm_soap_build_table(s));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_soap_set_from_options(pm_soap_t *s)
{
  PetscInt  nmax = s->nmax, lmax = s->lmax;
  PetscReal rc = s->rc, sigma = s->sigma;

  PetscFunctionBeginUser;
  PetscOptionsBegin(s->comm, NULL, "SOAP power spectrum", NULL);
  PetscCall(PetscOptionsInt("-soap_nmax", "radial basis functions", "pm_soap_set_params", nmax, &nmax, NULL));
  PetscCall(PetscOptionsInt("-soap_lmax", "largest angular momentum", "pm_soap_set_params", lmax, &lmax, NULL));
  PetscCall(PetscOptionsReal("-soap_cutoff", "cutoff radius (Angstrom)", "pm_soap_set_params", rc, &rc, NULL));
  PetscCall(PetscOptionsReal("-soap_sigma", "Gaussian width of the atom density (Angstrom)", "pm_soap_set_params", sigma, &sigma, NULL));
  PetscOptionsEnd();
  PetscCall(pm_soap_set_params(s, (int)nmax, (int)lmax, rc, sigma));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_soap_get_dim(const pm_soap_t *s, int nspecies, int *dim)
{
  int N = s->nmax;

  PetscFunctionBeginUser;
  *dim = (nspecies * N * (N + 1) / 2 + nspecies * (nspecies - 1) / 2 * N * N) * (s->lmax + 1);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_soap_get_cutoff(const pm_soap_t *s, double *rc)
{
  PetscFunctionBeginUser;
  *rc = s->rc;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Radial integrals times envelope, R[l*nmax + n], at distance r < rc (cubic Lagrange on the table). */
static inline void radial_at(const pm_soap_t *s, double r, double *R)
{
  int           row = (s->lmax + 1) * s->nmax, i;
  double        t = r / s->h, f, w0, w1, w2, w3, fc = pm_soap_envelope(r, s->rc, s->width);
  const double *T;

  i = (int)t;
  if (i > PM_SOAP_TABLE_N - 1) i = PM_SOAP_TABLE_N - 1;
  f  = t - i;
  w0 = -f * (f - 1.0) * (f - 2.0) / 6.0 * fc;
  w1 = (f + 1.0) * (f - 1.0) * (f - 2.0) / 2.0 * fc;
  w2 = -(f + 1.0) * f * (f - 2.0) / 2.0 * fc;
  w3 = (f + 1.0) * f * (f - 1.0) / 6.0 * fc;
  T  = s->table + (size_t)i * row; /* rows i..i+3 hold d = (i-1)h .. (i+2)h */
  for (int k = 0; k < row; k++) R[k] = w0 * T[k] + w1 * T[row + k] + w2 * T[2 * row + k] + w3 * T[3 * row + k];
}

/* Work space of one atom's expansion: neighbours inside the cutoff grouped by species (list order
 * kept within a species), their harmonics transposed (Yt[lm*cap + k]) and radial values. */
typedef struct {
  int64_t cap;
  double *Yt, *Rg, *Y;
  int64_t seg[PM_SPECIES_MAX + 1];
} expand_ws_t;

/* out[n] = sum_k yt[k] rg[k*ldr + n], k in list order, accumulators in registers (8 or 4 n at a time). */
static inline void contract(int N, int64_t cnt, const double *yt, const double *rg, int ldr, double *out)
{
  int n0 = 0;
  for (; n0 + 8 <= N; n0 += 8) { /* 4 independent SSE accumulators hide the add latency */
    double a[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    for (int64_t k = 0; k < cnt; k++) {
      const double y = yt[k], *r = rg + (size_t)k * ldr + n0;
      for (int q = 0; q < 8; q++) a[q] += y * r[q];
    }
    for (int q = 0; q < 8; q++) out[n0 + q] = a[q];
  }
  for (; n0 + 4 <= N; n0 += 4) {
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    for (int64_t k = 0; k < cnt; k++) {
      const double y = yt[k], *r = rg + (size_t)k * ldr + n0;
      a0 += y * r[0];
      a1 += y * r[1];
      a2 += y * r[2];
      a3 += y * r[3];
    }
    out[n0]     = a0;
    out[n0 + 1] = a1;
    out[n0 + 2] = a2;
    out[n0 + 3] = a3;
  }
  for (; n0 < N; n0++) {
    double a = 0.0;
    for (int64_t k = 0; k < cnt; k++) a += yt[k] * rg[(size_t)k * ldr + n0];
    out[n0] = a;
  }
}

/* Expansion coefficients c[(a*(lmax+1)^2 + lm)*nmax + n] of one atom. */
static void expand_atom(const pm_soap_t *s, const pm_nlist_t *nl, int64_t i, double *c, expand_ws_t *w)
{
  int     N = s->nmax, L = s->lmax + 1, LL = L * L, LN = L * N, nsp = nl->nspecies;
  int64_t cnt[PM_SPECIES_MAX] = {0}, pos[PM_SPECIES_MAX];

  for (int64_t e = nl->off[i]; e < nl->off[i + 1]; e++)
    if (nl->d[4 * e + 3] < s->rc) cnt[nl->species[nl->j[e]]]++;
  w->seg[0] = 0;
  for (int a = 0; a < nsp; a++) {
    pos[a]        = w->seg[a];
    w->seg[a + 1] = w->seg[a] + cnt[a];
  }
  for (int64_t e = nl->off[i]; e < nl->off[i + 1]; e++) {
    const double *d = nl->d + 4 * e;
    double        r = d[3];
    int64_t       k;
    if (r >= s->rc) continue;
    k = pos[nl->species[nl->j[e]]]++;
    if (r > 0.0) {
      double ir = 1.0 / r;
      pm_soap_ylm(s->lmax, s->ycoef, d[0] * ir, d[1] * ir, d[2] * ir, w->Y);
    }
    else pm_soap_ylm(s->lmax, s->ycoef, 0.0, 0.0, 1.0, w->Y); /* only l = 0 survives: I_nl(0) = 0 for l > 0 */
    for (int lm = 0; lm < LL; lm++) w->Yt[(size_t)lm * w->cap + k] = w->Y[lm];
    radial_at(s, r, w->Rg + (size_t)k * LN);
  }
  for (int a = 0; a < nsp; a++) {
    int64_t n0 = w->seg[a], na = w->seg[a + 1] - n0;
    for (int l = 0; l < L; l++)
      for (int lm = l * l; lm < (l + 1) * (l + 1); lm++) contract(N, na, w->Yt + (size_t)lm * w->cap + n0, w->Rg + (size_t)n0 * LN + l * N, LN, c + ((size_t)a * LL + lm) * N);
  }
}

/* Power spectrum of one atom into o[0..dim), normalised to unit length (zero if no neighbours). */
static void power_spectrum(const pm_soap_t *s, int nsp, const double *c, double *M, double *o)
{
  int    N = s->nmax, L = s->lmax + 1, LL = L * L, col = 0;
  double norm = 0.0, sq2 = sqrt(2.0);

  for (int a = 0; a < nsp; a++)
    for (int b = a; b < nsp; b++) {
      const double *ca = c + (size_t)a * LL * N, *cb = c + (size_t)b * LL * N;
      /* M[(l*N + n)*N + n'] = sum_m c^a_{nlm} c^b_{n'lm} */
      for (int l = 0; l < L; l++) {
        double *Ml = M + (size_t)l * N * N;
        for (int k = 0; k < N * N; k++) Ml[k] = 0.0;
        for (int lm = l * l; lm < (l + 1) * (l + 1); lm++)
          for (int n = 0; n < N; n++) {
            double x = ca[lm * N + n];
            for (int nn = 0; nn < N; nn++) Ml[n * N + nn] += x * cb[lm * N + nn];
          }
      }
      for (int n = 0; n < N; n++)
        for (int nn = (a == b ? n : 0); nn < N; nn++) {
          double w = (a == b && n == nn) ? 1.0 : sq2;
          for (int l = 0; l < L; l++) {
            double v = w * M[((size_t)l * N + n) * N + nn];
            o[col++] = v;
            norm += v * v;
          }
        }
    }
  if (norm > 0.0) {
    norm = 1.0 / sqrt(norm);
    for (int k = 0; k < col; k++) o[k] *= norm;
  }
}

PetscErrorCode pm_soap_compute(const pm_soap_t *s, const pm_nlist_t *nl, double *out, int ldo, int col0)
{
  int     N = s->nmax, L = s->lmax + 1, dim, nsp = nl->nspecies;
  double     *c, *M;
  int64_t     bad = -1;
  expand_ws_t w;

  PetscFunctionBeginUser;
  PetscCheck(nsp >= 1 && nsp <= PM_SPECIES_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "SOAP: %d species (1..%d supported)", nsp, PM_SPECIES_MAX);
  PetscCheck(nl->n == 0 || nl->rc >= s->rc * (1.0 - 1e-12), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "SOAP: neighbour list cutoff %g is below -soap_cutoff %g", nl->rc, s->rc);
  PetscCall(pm_soap_get_dim(s, nsp, &dim));
  PetscCheck(col0 >= 0 && col0 + dim <= ldo, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "SOAP: %d features at column %d do not fit a row of %d", dim, col0, ldo);
  for (int64_t e = 0; nl->n > 0 && e < nl->off[nl->n]; e++) {
    int a = nl->species[nl->j[e]];
    if (a < 0 || a >= nsp) {
      bad = e;
      break;
    }
  }
  PetscCheck(bad < 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "SOAP: neighbour %" PRId64 " has species %d outside 0..%d", bad, nl->species[nl->j[bad]], nsp - 1);
  PetscCall(PetscLogEventBegin(s->ev_compute, 0, 0, 0, 0));
  w.cap = 1;
  for (int64_t i = 0; i < nl->n; i++) w.cap = PetscMax(w.cap, nl->off[i + 1] - nl->off[i]);
  PetscCall(PetscMalloc3((size_t)L * L * w.cap, &w.Yt, (size_t)L * N * w.cap, &w.Rg, L * L, &w.Y));
  PetscCall(PetscMalloc2((size_t)nsp * L * L * N, &c, (size_t)L * N * N, &M));
  for (int64_t i = 0; i < nl->n; i++) {
    expand_atom(s, nl, i, c, &w);
    power_spectrum(s, nsp, c, M, out + (size_t)i * ldo + col0);
  }
  PetscCall(PetscLogFlops(2.0 * (nl->n > 0 ? (double)nl->off[nl->n] : 0.0) * L * L * N));
  PetscCall(PetscFree2(c, M));
  PetscCall(PetscFree3(w.Yt, w.Rg, w.Y));
  PetscCall(PetscLogEventEnd(s->ev_compute, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_soap_feature_names(const pm_soap_t *s, int nspecies, char ***names)
{
  int    dim, col = 0, N = s->nmax;
  char **nm;

  PetscFunctionBeginUser;
  PetscCall(pm_soap_get_dim(s, nspecies, &dim));
  PetscCall(PetscMalloc1(dim, &nm));
  for (int a = 0; a < nspecies; a++)
    for (int b = a; b < nspecies; b++)
      for (int n = 0; n < N; n++)
        for (int nn = (a == b ? n : 0); nn < N; nn++)
          for (int l = 0; l <= s->lmax; l++) {
            char buf[64];
            PetscCall(PetscSNPrintf(buf, sizeof buf, "soap_s%d_s%d_n%d_n%d_l%d", a, b, n, nn, l));
            PetscCall(PetscStrallocpy(buf, &nm[col++]));
          }
  *names = nm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_soap_destroy(pm_soap_t **s)
{
  PetscFunctionBeginUser;
  if (!*s) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*s)->table));
  PetscCall(PetscFree((*s)->ycoef));
  PetscCall(PetscFree(*s));
  PetscFunctionReturn(PETSC_SUCCESS);
}
