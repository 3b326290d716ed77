/* Serial twin of DPA (test oracle): the spec's sequential algorithm written as literally as possible
 * (visit in decreasing g, dense K x K saddle matrices, full pair scan at every merge). Same tie rule
 * as the distributed code: decreasing g, then increasing index. */
#include "dpa.h"
#include <stdlib.h>

typedef struct {
  pm_gidx_t        n;
  int              ncol;
  const pm_gidx_t *ind;
  const double    *err;
  const int64_t   *kstar;
  double           Z, m;
  double          *rc, *g;
  int64_t         *lab, *cen, Kp;
  pm_gidx_t       *hp; /* higher point of removed centres, -1 otherwise */
  char            *put;
} ref_t;

static int before(const ref_t *R, pm_gidx_t j, pm_gidx_t i)
{
  return R->g[j] > R->g[i] || (R->g[j] == R->g[i] && j < i);
}

static int cmp_visit(const void *x, const void *y, void *ctx)
{
  const ref_t *R = ctx;
  pm_gidx_t    a = *(const pm_gidx_t *)x, b = *(const pm_gidx_t *)y;
  return before(R, a, b) ? -1 : (before(R, b, a) ? 1 : 0);
}

static PetscErrorCode ref_centres(ref_t *R)
{
  pm_gidx_t n  = R->n;
  int       nc = R->ncol;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < n; i++) {
    R->put[i] = 1;
    R->hp[i]  = -1;
    for (int r = 1; r <= R->kstar[i]; r++)
      if (before(R, R->ind[i * nc + r], i)) R->put[i] = 0;
  }
  for (pm_gidx_t i = 0; i < n; i++)
    for (int r = 1; r <= R->kstar[i]; r++) {
      pm_gidx_t c = R->ind[i * nc + r];
      if (R->put[c] && before(R, i, c) && (R->hp[c] < 0 || before(R, i, R->hp[c]))) R->hp[c] = i;
    }
  R->Kp = 0;
  for (pm_gidx_t i = 0; i < n; i++) {
    R->lab[i] = -1;
    if (R->put[i] && R->hp[i] < 0) {
      R->cen[R->Kp] = i;
      R->lab[i]     = R->Kp++;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ref_assign(ref_t *R, int64_t *nfall)
{
  pm_gidx_t *order, n = R->n;
  int        nc = R->ncol;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(n, &order));
  for (pm_gidx_t i = 0; i < n; i++) order[i] = i;
  qsort_r(order, (size_t)n, sizeof *order, cmp_visit, R);
  *nfall = 0;
  for (pm_gidx_t q = 0; q < n; q++) {
    pm_gidx_t i = order[q], best = -1;
    for (int r = 1; r < nc && R->lab[i] < 0; r++) R->lab[i] = R->lab[R->ind[i * nc + r]];
    if (R->lab[i] >= 0) continue;
    for (int r = 0; r < nc; r++) {
      pm_gidx_t h = R->hp[R->ind[i * nc + r]];
      if (h >= 0 && (best < 0 || before(R, h, best))) best = h;
    }
    PM_ASSERT(best >= 0 && R->lab[best] >= 0);
    R->lab[i] = R->lab[best];
    (*nfall)++;
  }
  PetscCall(PetscFree(order));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Border points: clusters visited in order, members in increasing index, strict improvement. */
static void ref_borders(const ref_t *R, double *B, double *Berr, pm_gidx_t *P)
{
  int64_t K  = R->Kp;
  int     nc = R->ncol;

  for (int64_t x = 0; x < K * K; x++) {
    B[x]    = 0.0;
    Berr[x] = 0.0;
    P[x]    = -1;
  }
  for (int64_t c = 0; c < K; c++)
    for (pm_gidx_t p1 = 0; p1 < R->n; p1++) {
      pm_gidx_t p2 = -1;
      int64_t   c2;
      if (R->lab[p1] != c || R->cen[c] == p1 || (R->put[p1] && R->hp[p1] < 0)) continue;
      for (int r = 1; r <= R->kstar[p1]; r++)
        if (R->lab[R->ind[p1 * nc + r]] != c) {
          p2 = R->ind[p1 * nc + r];
          break;
        }
      if (p2 < 0) continue;
      c2 = R->lab[p2];
      for (int r = 1; r < nc; r++) {
        pm_gidx_t po = R->ind[p2 * nc + r];
        if (po == p1) break;
        if (R->lab[po] == c) {
          p2 = -1;
          break;
        }
      }
      if (p2 >= 0 && R->g[p1] > B[c * K + c2]) {
        B[c * K + c2] = B[c2 * K + c] = R->g[p1];
        P[c * K + c2] = P[c2 * K + c] = p1;
      }
    }
  for (int64_t x = 0; x < K * K; x++)
    if (P[x] >= 0) {
      B[x]    = R->rc[P[x]];
      Berr[x] = R->err[P[x]];
    }
  for (int64_t c = 0; c < K; c++) {
    B[c * K + c]    = -1.0;
    Berr[c * K + c] = 0.0;
  }
}

/* Merging exactly as the spec: full scan of pairs (i<j), highest qualifying saddle, first on ties. */
static void ref_merge(const ref_t *R, double *B, double *Berr, pm_gidx_t *P, int64_t *surv_of, pm_dpa_result_t *res)
{
  int64_t K = R->Kp;

  for (int64_t c = 0; c < K; c++) surv_of[c] = -1;
  res->n_merges = 0;
  for (;;) {
    int64_t bi = -1, bj = -1, s, r;
    double  best = -9999999999.0, c1, c2;
    for (int64_t i = 0; i < K - 1; i++)
      for (int64_t j = i + 1; j < K; j++) {
        double b = B[i * K + j], a1 = R->rc[R->cen[i]] - b, a2 = R->rc[R->cen[j]] - b;
        double e1 = R->Z * (R->err[R->cen[i]] + Berr[i * K + j]), e2 = R->Z * (R->err[R->cen[j]] + Berr[i * K + j]);
        if ((a1 < e1 || a2 < e2) && b > best) {
          best = b;
          bi   = i;
          bj   = j;
        }
      }
    if (bi < 0) break;
    c1                                 = (R->rc[R->cen[bi]] - B[bi * K + bj]) / (R->err[R->cen[bi]] + Berr[bi * K + bj]);
    c2                                 = (R->rc[R->cen[bj]] - B[bi * K + bj]) / (R->err[R->cen[bj]] + Berr[bi * K + bj]);
    s                                  = c1 < c2 ? bj : bi;
    r                                  = c1 < c2 ? bi : bj;
    res->merge_absorbed[res->n_merges] = R->cen[r];
    res->merge_survivor[res->n_merges] = R->cen[s];
    res->merge_saddle[res->n_merges]   = B[bi * K + bj] + R->m - 1.0;
    res->merge_margin[res->n_merges]   = c1 < c2 ? c1 : c2;
    res->n_merges++;
    surv_of[r]   = s;
    B[s * K + r] = B[r * K + s] = -1.0;
    Berr[s * K + r] = Berr[r * K + s] = 0.0;
    for (int64_t q = 0; q < K; q++) {
      if (q == s || q == r) continue;
      if (B[s * K + q] < B[r * K + q]) {
        B[s * K + q] = B[q * K + s] = B[r * K + q];
        Berr[s * K + q] = Berr[q * K + s] = Berr[r * K + q];
        P[s * K + q] = P[q * K + s] = P[r * K + q];
      }
      B[r * K + q] = B[q * K + r] = -1.0;
      Berr[r * K + q] = Berr[q * K + r] = 0.0;
    }
  }
}

static PetscErrorCode ref_output(const ref_t *R, const double *B, const double *Berr, const pm_gidx_t *P, const int64_t *surv_of, PetscBool halo, pm_dpa_result_t *res)
{
  int64_t Kp = R->Kp, K = 0, *fin;
  double *cut;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(Kp + 1, &fin, Kp + 1, &cut));
  for (int64_t c = 0; c < Kp; c++) fin[c] = surv_of[c] < 0 ? K++ : -1;
  res->K = K;
  PetscCall(PetscMalloc5(K + 1, &res->center, K + 1, &res->population, K + 1, &res->core_population, K + 1, &res->peak_log_den, K + 1, &res->peak_err));
  PetscCall(PetscMalloc3(K * K + 1, &res->saddle, K * K + 1, &res->saddle_err, K * K + 1, &res->border));
  for (int64_t c = 0; c < Kp; c++) {
    if (fin[c] < 0) continue;
    res->center[fin[c]]       = R->cen[c];
    res->peak_err[fin[c]]     = R->err[R->cen[c]];
    res->peak_log_den[fin[c]] = R->rc[R->cen[c]] + R->m - 1.0; /* overwritten by the caller with the input value */
    res->population[fin[c]] = res->core_population[fin[c]] = 0;
    cut[fin[c]]                                            = -PETSC_MAX_REAL;
    for (int64_t d = 0; d < Kp; d++) {
      if (fin[d] < 0) continue;
      res->saddle[fin[c] * K + fin[d]]     = B[c * Kp + d] + R->m - 1.0;
      res->saddle_err[fin[c] * K + fin[d]] = Berr[c * Kp + d];
      res->border[fin[c] * K + fin[d]]     = c == d ? -1 : P[c * Kp + d];
      if (B[c * Kp + d] > cut[fin[c]]) cut[fin[c]] = B[c * Kp + d];
    }
  }
  PetscCall(PetscMalloc1(R->n + 1, &res->label));
  for (pm_gidx_t i = 0; i < R->n; i++) {
    int64_t c = R->lab[i];
    while (surv_of[c] >= 0) c = surv_of[c];
    res->label[i] = fin[c];
    res->core_population[fin[c]]++;
    if (halo && R->rc[i] < cut[fin[c]])
      res->label[i] = -1;
    else
      res->population[fin[c]]++;
  }
  PetscCall(PetscFree2(fin, cut));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_dpa_ref(pm_gidx_t n, int ncol, const pm_gidx_t *ind, const double *log_den, const double *err, const int64_t *kstar, double Z, PetscBool halo, pm_dpa_result_t **resp)
{
  ref_t            R = {0};
  pm_dpa_result_t *res;
  double          *B, *Berr;
  pm_gidx_t       *P;
  int64_t         *surv_of;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&res));
  R.n     = n;
  R.ncol  = ncol;
  R.ind   = ind;
  R.err   = err;
  R.kstar = kstar;
  R.Z     = Z;
  R.m     = PETSC_MAX_REAL;
  for (pm_gidx_t i = 0; i < n; i++)
    if (log_den[i] - Z * err[i] < R.m) R.m = log_den[i] - Z * err[i];
  PetscCall(PetscMalloc4(n, &R.rc, n, &R.g, n, &R.lab, n, &R.cen));
  PetscCall(PetscMalloc2(n, &R.hp, n, &R.put));
  for (pm_gidx_t i = 0; i < n; i++) {
    R.rc[i] = log_den[i] - R.m + 1.0;
    R.g[i]  = R.rc[i] - err[i];
  }
  PetscCall(ref_centres(&R));
  for (pm_gidx_t i = 0; i < n; i++) res->n_putative += R.put[i];
  res->K_pre       = R.Kp;
  res->log_den_min = R.m;
  PetscCall(ref_assign(&R, &res->n_fallback));
  PetscCall(PetscMalloc4(R.Kp * R.Kp + 1, &B, R.Kp * R.Kp + 1, &Berr, R.Kp * R.Kp + 1, &P, R.Kp + 1, &surv_of));
  ref_borders(&R, B, Berr, P);
  PetscCall(PetscMalloc4(R.Kp + 1, &res->merge_absorbed, R.Kp + 1, &res->merge_survivor, R.Kp + 1, &res->merge_saddle, R.Kp + 1, &res->merge_margin));
  ref_merge(&R, B, Berr, P, surv_of, res);
  PetscCall(ref_output(&R, B, Berr, P, surv_of, halo, res));
  for (int64_t c = 0; c < res->K; c++) res->peak_log_den[c] = log_den[res->center[c]];
  PetscCall(PetscFree4(B, Berr, P, surv_of));
  PetscCall(PetscFree4(R.rc, R.g, R.lab, R.cen));
  PetscCall(PetscFree2(R.hp, R.put));
  *resp = res;
  PetscFunctionReturn(PETSC_SUCCESS);
}
