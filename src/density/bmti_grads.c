/* BMTI gradients and their covariances (spec 3.4). The covariance of a point is never stored: it
 * is contracted on the fly with the vector differences of every edge touching the point (outgoing
 * and incoming), so no E x D x D (or even N x D x D) array exists. */
#include "density/bmti_impl.h"

/* Gradients of local points from the halo coordinates (fetched here, kept in w->hx). Collective. */
PetscErrorCode bmti_grads(bmti_work_t *w)
{
  const int D = w->D;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(w->n_halo * D + 1, &w->hx));
  PetscCall(pm_fetch_rows(w->comm, w->N, w->row_start, w->n_local, w->x, sizeof(double), D, w->n_halo, w->halo, w->hx));
  PetscCall(PetscCalloc1(w->n_local * D + 1, &w->grad));
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    const double *xi = w->x + i * D;
    double       *gi = w->grad + i * D;
    pm_gidx_t     m = w->eptr[i + 1] - w->eptr[i], last = w->eptr[i + 1] - 1;
    double        r2 = 0, c;
    for (int a = 0; a < D; a++) {
      double d = w->hx[w->eh[last] * D + a] - xi[a];
      r2 += d * d;
    }
    c = (w->id + 2.0) / r2;
    for (pm_gidx_t e = w->eptr[i]; e < w->eptr[i + 1]; e++)
      for (int a = 0; a < D; a++) gi[a] += w->hx[w->eh[e] * D + a] - xi[a];
    for (int a = 0; a < D; a++) gi[a] = c * (gi[a] / (double)m);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Fortran BLAS (OpenBLAS) */
extern void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k, const double *alpha, const double *a, const int *lda, const double *b, const int *ldb, const double *beta, double *c, const int *ldc);

/* For every vector V_r (rows of V, nv x D) of point i: V_r^T C_i V_r with
 * C_i = s (c^2/m^2 sum_e D_e D_e^T - g g^T / m) + 1e-10 I, s = k*_i / (k*_i - 1) (spec 3.4), evaluated
 * as s (c^2/m^2 sum_e (D_e.V_r)^2 - (g.V_r)^2 / m) + 1e-10 |V_r|^2: the m outgoing edge vectors D_e
 * are the first m rows of V, and the products D_e.V_r are one small matrix product (dgemm). */
static void quad_forms(const bmti_work_t *w, pm_gidx_t i, int nv, const double *V, double *P, double *out)
{
  const int     D = w->D, m = (int)(w->eptr[i + 1] - w->eptr[i]);
  const double *gi = w->grad + i * D, *last = V + (size_t)(m - 1) * D, one = 1.0, zero = 0.0;
  double        r2 = 0, c, s = (double)w->kstar[i] / (double)(w->kstar[i] - 1), f;

  for (int a = 0; a < D; a++) r2 += last[a] * last[a];
  c = (w->id + 2.0) / r2;
  f = c * c / ((double)m * (double)m);
  dgemm_("T", "N", &m, &nv, &D, &one, V, &D, V, &D, &zero, P, &m); /* P[r*m + e] = D_e . V_r */
  for (int r = 0; r < nv; r++) {
    const double *vr = V + (size_t)r * D, *pr = P + (size_t)r * m;
    double        sp = 0, gv = 0, vv = 0;
    for (int e = 0; e < m; e++) sp += pr[e] * pr[e];
    for (int a = 0; a < D; a++) {
      gv += gi[a] * vr[a];
      vv += vr[a] * vr[a];
    }
    out[r] = s * (f * sp - gv * gv / (double)m) + 1e-10 * vv;
  }
}

/* v_src[e] = D_e^T C_i D_e and v_tgt[e] = D_e^T C_j D_e for every outgoing edge e = (i, j); the
 * second is evaluated by the owner of j on its incoming edges and sent back. Collective. */
PetscErrorCode bmti_variances(bmti_work_t *w)
{
  const int D    = w->D;
  pm_gidx_t maxv = 1;
  double   *sx, *V, *P, *vals;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(w->n_usrc * D + 1, &sx));
  PetscCall(pm_fetch_rows(w->comm, w->N, w->row_start, w->n_local, w->x, sizeof(double), D, w->n_usrc, w->usrc, sx));
  PetscCall(PetscMalloc3(w->n_out + 1, &w->v_src, w->n_out + 1, &w->v_tgt, w->n_in + 1, &w->v_in));
  for (pm_gidx_t j = 0; j < w->n_local; j++) maxv = PetscMax(maxv, w->eptr[j + 1] - w->eptr[j] + w->iptr[j + 1] - w->iptr[j]);
  PetscCall(PetscMalloc3(maxv * D, &V, maxv * w->ncol, &P, maxv, &vals));
  for (pm_gidx_t j = 0; j < w->n_local; j++) {
    const double *xj = w->x + j * D;
    int           nv = 0, m = (int)(w->eptr[j + 1] - w->eptr[j]);
    for (pm_gidx_t e = w->eptr[j]; e < w->eptr[j + 1]; e++, nv++)
      for (int a = 0; a < D; a++) V[nv * D + a] = w->hx[w->eh[e] * D + a] - xj[a];
    for (pm_gidx_t q = w->iptr[j]; q < w->iptr[j + 1]; q++, nv++) {
      const double *xl = sx + w->in_u[w->iord[q]] * D;
      for (int a = 0; a < D; a++) V[nv * D + a] = xj[a] - xl[a];
    }
    quad_forms(w, j, nv, V, P, vals);
    for (int r = 0; r < m; r++) w->v_src[w->eptr[j] + r] = vals[r];
    for (pm_gidx_t q = w->iptr[j]; q < w->iptr[j + 1]; q++) w->v_in[w->iord[q]] = vals[m + (q - w->iptr[j])];
  }
  PetscCall(PetscFree3(V, P, vals));
  PetscCall(PetscFree(sx));
  PetscCall(bmti_exchange_to_sources(w, w->v_in, w->v_tgt));
  PetscFunctionReturn(PETSC_SUCCESS);
}
