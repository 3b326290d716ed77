/* Steinhardt bond-order parameters q_l, w_l, w^_l as LAMMPS compute orientorder/atom defines them,
 * and the Lechner-Dellago averages (q_lm averaged over the atom and its neighbours). */
#include "descriptors/desc_impl.h"
#include <math.h>
#include <string.h>

#define PM_STEINHARDT_NL_MAX 16

struct pm_steinhardt {
  MPI_Comm  comm; /* borrowed */
  int       nl, l[PM_STEINHARDT_NL_MAX], lmax;
  PetscBool wl, average;
  double    rc;
  int       nnn;
  pm_ylm_t *ylm;
  int       ntri[PM_STEINHARDT_NL_MAX];
  int      *tri_m[PM_STEINHARDT_NL_MAX];
  double   *tri_c[PM_STEINHARDT_NL_MAX];
  int       qw, qoff[PM_STEINHARDT_NL_MAX]; /* q_lm storage: per l, re[0..l] then im[0..l] */
  double   *re, *im;                        /* scratch, PM_LM(lmax, lmax) + 1 */
  /* per frame, averaging only */
  double  *qlm;             /* n_all x qw */
  int64_t *nb_off, *nb_idx; /* neighbour env indices of owned atoms (CSR) */
  int64_t  nb_cap, n_done;
};

PetscErrorCode pm_steinhardt_create(MPI_Comm comm, pm_steinhardt_t **st)
{
  pm_steinhardt_t *S;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&S));
  S->comm = comm;
  S->nl   = 5;
  for (int a = 0; a < 5; a++) S->l[a] = 4 + 2 * a;
  S->rc  = 6.0;
  S->nnn = 12;
  *st    = S;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode setup(pm_steinhardt_t *S)
{
  PetscFunctionBeginUser;
  PetscCall(pm_ylm_destroy(&S->ylm));
  PetscCall(PetscFree2(S->re, S->im));
  S->lmax = 0;
  S->qw   = 0;
  for (int a = 0; a < S->nl; a++) {
    S->lmax    = PetscMax(S->lmax, S->l[a]);
    S->qoff[a] = S->qw;
    S->qw += 2 * (S->l[a] + 1);
    PetscCall(PetscFree2(S->tri_m[a], S->tri_c[a]));
    if (S->wl) PetscCall(pm_w3j_table(S->l[a], &S->ntri[a], &S->tri_m[a], &S->tri_c[a]));
  }
  PetscCall(pm_ylm_create(S->lmax, &S->ylm));
  for (int l = 0; l <= S->lmax; l++) S->ylm->use[l] = 0;
  for (int a = 0; a < S->nl; a++) S->ylm->use[S->l[a]] = 1;
  PetscCall(PetscMalloc2(PM_LM(S->lmax, S->lmax) + 1, &S->re, PM_LM(S->lmax, S->lmax) + 1, &S->im));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_steinhardt_set_from_options(pm_steinhardt_t *S)
{
  PetscInt  nnn = S->nnn;
  PetscBool set;
  char      list[256] = "";

  PetscFunctionBeginUser;
  for (int a = 0; a < S->nl; a++) { /* the current list, shown by -help */
    char v[16];
    PetscCall(PetscSNPrintf(v, sizeof v, "%s%d", a ? "," : "", S->l[a]));
    PetscCall(PetscStrlcat(list, v, sizeof list));
  }
  PetscOptionsBegin(S->comm, NULL, "Steinhardt bond-order parameters (descriptor block steinhardt)", NULL);
  PetscCall(PetscOptionsString("-steinhardt_l", "degrees l (comma list, at most 16, each 1..20)", "", list, list, sizeof list, &set));
  PetscCall(PetscOptionsBool("-steinhardt_wl", "also w_l and normalised w^_l", "", S->wl, &S->wl, NULL));
  PetscCall(PetscOptionsReal("-steinhardt_cutoff", "neighbour cutoff (length units of the input)", "", S->rc, &S->rc, NULL));
  PetscCall(PetscOptionsInt("-steinhardt_nnn", "nearest neighbours used (0: all within the cutoff)", "", nnn, &nnn, NULL));
  PetscCall(PetscOptionsBool("-steinhardt_average", "Lechner-Dellago averaged q_l (and w_l)", "", S->average, &S->average, NULL));
  PetscOptionsEnd();
  if (set) {
    int l[PM_STEINHARDT_NL_MAX], n;
    PetscCall(pm_parse_int_list(S->comm, "-steinhardt_l", list, PM_STEINHARDT_NL_MAX, l, &n));
    PetscCheck(n > 0, S->comm, PETSC_ERR_USER_INPUT, "-steinhardt_l: give at least one degree, e.g. 4,6,8,10,12");
    for (int a = 0; a < n; a++) {
      PetscCheck(l[a] >= 1 && l[a] <= PM_STEINHARDT_LMAX, S->comm, PETSC_ERR_USER_INPUT, "-steinhardt_l: degree %d is outside 1..%d", l[a], PM_STEINHARDT_LMAX);
      for (int b = 0; b < a; b++) PetscCheck(l[a] != l[b], S->comm, PETSC_ERR_USER_INPUT, "-steinhardt_l: degree %d is given twice", l[a]);
      S->l[a] = l[a];
    }
    S->nl = n;
  }
  PetscCheck(S->rc > 0.0, S->comm, PETSC_ERR_USER_INPUT, "-steinhardt_cutoff %g must be positive", S->rc);
  PetscCheck(nnn >= 0, S->comm, PETSC_ERR_USER_INPUT, "-steinhardt_nnn %d must be >= 0 (0 = every neighbour within -steinhardt_cutoff)", (int)nnn);
  S->nnn = (int)nnn;
  PetscCall(setup(S));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_steinhardt_get_dim(const pm_steinhardt_t *S, int *dim)
{
  PetscFunctionBeginUser;
  *dim = S->nl * (S->wl ? 3 : 1);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_steinhardt_get_neighbours(const pm_steinhardt_t *S, double *rc, int *nnn)
{
  PetscFunctionBeginUser;
  *rc  = S->rc;
  *nnn = S->nnn;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_steinhardt_feature_names(const pm_steinhardt_t *S, char ***names)
{
  int         dim, k = 0;
  const char *p = S->average ? "bar" : "";

  PetscFunctionBeginUser;
  PetscCall(pm_steinhardt_get_dim(S, &dim));
  PetscCall(PetscMalloc1(dim, names));
  for (int t = 0; t < (S->wl ? 3 : 1); t++)
    for (int a = 0; a < S->nl; a++) {
      char buf[64];
      if (t == 0)
        PetscCall(PetscSNPrintf(buf, sizeof buf, "q%s%d", p, S->l[a]));
      else if (t == 1)
        PetscCall(PetscSNPrintf(buf, sizeof buf, "w%s%d", p, S->l[a]));
      else
        PetscCall(PetscSNPrintf(buf, sizeof buf, "w%s%dhat", p, S->l[a]));
      PetscCall(PetscStrallocpy(buf, &(*names)[k++]));
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* q_lm (m >= 0) of nb bonds into v (qw doubles); the bonds are d[4e..4e+2]. */
static void bond_qlm(pm_steinhardt_t *S, int64_t nb, const double *d, double *v)
{
  int nlm = PM_LM(S->lmax, S->lmax) + 1;

  memset(S->re, 0, sizeof(double) * nlm);
  memset(S->im, 0, sizeof(double) * nlm);
  for (int64_t e = 0; e < nb; e += 2) {
    double u[2][3];
    for (int k = 0; k < 2 && e + k < nb; k++) {
      const double *x = d + 4 * (e + k);
      double        r = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
      u[k][0]         = x[0] / r;
      u[k][1]         = x[1] / r;
      u[k][2]         = x[2] / r;
    }
    if (e + 1 < nb)
      pm_ylm_add2(S->ylm, u[0], u[1], S->re, S->im);
    else
      pm_ylm_add(S->ylm, u[0], S->re, S->im);
  }
  for (int a = 0; a < S->nl; a++) {
    int l = S->l[a];
    for (int m = 0; m <= l; m++) {
      v[S->qoff[a] + m]         = S->re[PM_LM(l, m)] / (double)nb;
      v[S->qoff[a] + l + 1 + m] = S->im[PM_LM(l, m)] / (double)nb;
    }
  }
}

/* q_l, w_l, w^_l from the q_lm of v; out gets nl or 3 nl values (q..., w..., w^...). */
static void invariants(const pm_steinhardt_t *S, const double *v, double *out)
{
  for (int a = 0; a < S->nl; a++) {
    int           l  = S->l[a];
    const double *re = v + S->qoff[a], *im = re + l + 1;
    double        s2 = re[0] * re[0] + im[0] * im[0], q;
    for (int m = 1; m <= l; m++) s2 += 2.0 * (re[m] * re[m] + im[m] * im[m]);
    q      = sqrt(4.0 * M_PI / (2.0 * l + 1.0) * s2);
    out[a] = q;
    if (S->wl) {
      double w = 0.0;
      for (int t = 0; t < S->ntri[a]; t++) {
        double pr = 1.0, pi = 0.0;
        for (int k = 0; k < 3; k++) {
          int    m = S->tri_m[a][3 * t + k], am = m < 0 ? -m : m;
          double xr = re[am], xi = im[am], tr;
          if (m < 0) { /* q_{l,-m} = (-1)^m conj(q_lm) */
            double sg = (am % 2) ? -1.0 : 1.0;
            xr *= sg;
            xi *= -sg;
          }
          tr = pr * xr - pi * xi;
          pi = pr * xi + pi * xr;
          pr = tr;
        }
        w += S->tri_c[a][t] * pr;
      }
      out[S->nl + a]     = w;
      out[2 * S->nl + a] = q < 1e-6 ? 0.0 : w / (s2 * sqrt(s2));
    }
  }
}

/* Neighbours of row i that count: the nnn nearest within rc (0 if fewer), or all within rc. */
static int64_t bonds_used(const pm_steinhardt_t *S, const pm_nlist_t *nl, int64_t i)
{
  int64_t n = 0, e0 = nl->off[i], e1 = nl->off[i + 1];
  double  rc2 = S->rc * S->rc;

  for (int64_t e = e0; e < e1; e++) {
    const double *x = nl->d + 4 * e;
    if (!(x[0] * x[0] + x[1] * x[1] + x[2] * x[2] < rc2)) break; /* sorted by r */
    n++;
  }
  if (S->nnn > 0) return n >= S->nnn ? S->nnn : 0;
  return n;
}

PetscErrorCode pm_steinhardt_frame_begin(pm_steinhardt_t *S, const pm_domain_t *dom)
{
  PetscFunctionBeginUser;
  S->n_done = 0;
  if (!S->average) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(S->qlm));
  PetscCall(PetscFree(S->nb_off));
  PetscCall(PetscCalloc1((size_t)dom->n_all * S->qw + 1, &S->qlm));
  PetscCall(PetscMalloc1(dom->n_own + 1, &S->nb_off));
  S->nb_off[0] = 0;
  if (!S->nb_idx) {
    S->nb_cap = 1024;
    PetscCall(PetscMalloc1(S->nb_cap, &S->nb_idx));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_steinhardt_compute(pm_steinhardt_t *S, const pm_nlist_t *nl, double *out, int ldo, int col0)
{
  double v[2 * (PM_STEINHARDT_LMAX + 1) * PM_STEINHARDT_NL_MAX], vals[3 * PM_STEINHARDT_NL_MAX];
  int    dim;

  PetscFunctionBeginUser;
  PetscCall(pm_steinhardt_get_dim(S, &dim));
  PM_ASSERT(!S->average || nl->first == S->n_done);
  for (int64_t i = 0; i < nl->n; i++) {
    int64_t nb = bonds_used(S, nl, i);
    if (nb > 0)
      bond_qlm(S, nb, nl->d + 4 * nl->off[i], v);
    else
      memset(v, 0, sizeof(double) * S->qw);
    if (S->average) {
      int64_t a = nl->first + i, base = S->nb_off[a];
      memcpy(S->qlm + (size_t)a * S->qw, v, sizeof(double) * S->qw);
      if (base + nb > S->nb_cap) {
        int64_t *t, cap = 2 * S->nb_cap;
        while (cap < base + nb) cap *= 2;
        PetscCall(PetscMalloc1(cap, &t));
        memcpy(t, S->nb_idx, sizeof *t * (size_t)base);
        PetscCall(PetscFree(S->nb_idx));
        S->nb_idx = t;
        S->nb_cap = cap;
      }
      for (int64_t e = 0; e < nb; e++) S->nb_idx[base + e] = nl->j[nl->off[i] + e];
      S->nb_off[a + 1] = base + nb;
      continue;
    }
    if (nb > 0)
      invariants(S, v, vals);
    else
      memset(vals, 0, sizeof(double) * dim);
    memcpy(out + (size_t)i * ldo + col0, vals, sizeof(double) * dim);
  }
  S->n_done = nl->first + nl->n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_steinhardt_frame_end(pm_steinhardt_t *S, const pm_domain_t *dom, double *out, int ldo, int col0)
{
  double v[2 * (PM_STEINHARDT_LMAX + 1) * PM_STEINHARDT_NL_MAX], vals[3 * PM_STEINHARDT_NL_MAX];
  int    dim;

  PetscFunctionBeginUser;
  if (!S->average) PetscFunctionReturn(PETSC_SUCCESS);
  PM_ASSERT(S->n_done == dom->n_own);
  PetscCall(pm_steinhardt_get_dim(S, &dim));
  PetscCall(pm_domain_halo(dom, S->qw, S->qlm));
  for (int64_t i = 0; i < dom->n_own; i++) {
    int64_t b0 = S->nb_off[i], b1 = S->nb_off[i + 1];
    if (b1 == b0) {
      memset(out + (size_t)i * ldo + col0, 0, sizeof(double) * dim);
      continue;
    }
    /* fixed order: the atom itself, then its neighbours sorted by (r, id) */
    memcpy(v, S->qlm + (size_t)i * S->qw, sizeof(double) * S->qw);
    for (int64_t b = b0; b < b1; b++) {
      const double *w = S->qlm + (size_t)S->nb_idx[b] * S->qw;
      for (int k = 0; k < S->qw; k++) v[k] += w[k];
    }
    for (int k = 0; k < S->qw; k++) v[k] /= (double)(b1 - b0 + 1);
    invariants(S, v, vals);
    memcpy(out + (size_t)i * ldo + col0, vals, sizeof(double) * dim);
  }
  PetscCall(PetscFree(S->qlm));
  PetscCall(PetscFree(S->nb_off));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_steinhardt_bonds(pm_steinhardt_t *S, int nb, const double *d, double *q, double *w, double *what)
{
  double v[2 * (PM_STEINHARDT_LMAX + 1) * PM_STEINHARDT_NL_MAX], vals[3 * PM_STEINHARDT_NL_MAX];

  PetscFunctionBeginUser;
  if (!S->ylm) PetscCall(setup(S));
  bond_qlm(S, nb, d, v);
  invariants(S, v, vals);
  for (int a = 0; a < S->nl; a++) {
    q[a] = vals[a];
    if (w) w[a] = S->wl ? vals[S->nl + a] : 0.0;
    if (what) what[a] = S->wl ? vals[2 * S->nl + a] : 0.0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_steinhardt_destroy(pm_steinhardt_t **st)
{
  pm_steinhardt_t *S = *st;

  PetscFunctionBeginUser;
  if (!S) PetscFunctionReturn(PETSC_SUCCESS);
  for (int a = 0; a < PM_STEINHARDT_NL_MAX; a++) PetscCall(PetscFree2(S->tri_m[a], S->tri_c[a]));
  PetscCall(pm_ylm_destroy(&S->ylm));
  PetscCall(PetscFree2(S->re, S->im));
  PetscCall(PetscFree(S->qlm));
  PetscCall(PetscFree(S->nb_off));
  PetscCall(PetscFree(S->nb_idx));
  PetscCall(PetscFree(*st));
  PetscFunctionReturn(PETSC_SUCCESS);
}
