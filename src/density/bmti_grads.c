/* BMTI gradients and their covariances (spec 3.4). The D x D covariance of a point is built once
 * as a temporary and immediately contracted with the vector differences of every edge touching the
 * point (outgoing and incoming), so no E x D x D array is ever stored. */
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

/* C_i = s (c^2/m^2 sum_e D_e D_e^T - g g^T / m) + 1e-10 I, s = k*_i / (k*_i - 1) (spec 3.4). */
static void covariance(const bmti_work_t *w, pm_gidx_t i, double *delta, double *C)
{
  const int     D  = w->D;
  const double *xi = w->x + i * D, *gi = w->grad + i * D;
  pm_gidx_t     m = w->eptr[i + 1] - w->eptr[i], last = w->eptr[i + 1] - 1;
  double        r2 = 0, c, s = (double)w->kstar[i] / (double)(w->kstar[i] - 1);

  for (int a = 0; a < D; a++) {
    double d = w->hx[w->eh[last] * D + a] - xi[a];
    r2 += d * d;
  }
  c = (w->id + 2.0) / r2;
  for (int a = 0; a < D * D; a++) C[a] = 0;
  for (pm_gidx_t e = w->eptr[i]; e < w->eptr[i + 1]; e++) {
    for (int a = 0; a < D; a++) delta[a] = w->hx[w->eh[e] * D + a] - xi[a];
    for (int a = 0; a < D; a++)
      for (int b = a; b < D; b++) C[a * D + b] += delta[a] * delta[b];
  }
  for (int a = 0; a < D; a++)
    for (int b = a; b < D; b++) {
      double v     = s * (c * c / ((double)m * (double)m) * C[a * D + b] - gi[a] * gi[b] / (double)m);
      C[a * D + b] = v;
      C[b * D + a] = v;
    }
  for (int a = 0; a < D; a++) C[a * D + a] += 1e-10;
}

/* d^T C d for symmetric C, from the upper triangle. */
static double quad(int D, const double *C, const double *d)
{
  double v = 0;
  for (int a = 0; a < D; a++) {
    const double *row = C + a * D;
    double        t   = 0;
    for (int b = a + 1; b < D; b++) t += row[b] * d[b];
    v += d[a] * (row[a] * d[a] + 2.0 * t);
  }
  return v;
}

/* v_src[e] = D_e^T C_i D_e and v_tgt[e] = D_e^T C_j D_e for every outgoing edge e = (i, j); the
 * second is evaluated by the owner of j on its incoming edges and sent back. Collective. */
PetscErrorCode bmti_variances(bmti_work_t *w)
{
  const int  D = w->D;
  pm_gidx_t *src, nsrc = 0;
  double    *sx, *C, *delta;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(w->n_in + 1, &src));
  for (pm_gidx_t r = 0; r < w->n_in; r++) src[r] = w->in_src[r];
  bmti_sort_gidx(src, w->n_in);
  for (pm_gidx_t r = 0; r < w->n_in; r++)
    if (nsrc == 0 || src[nsrc - 1] != src[r]) src[nsrc++] = src[r];
  PetscCall(PetscMalloc1(nsrc * D + 1, &sx));
  PetscCall(pm_fetch_rows(w->comm, w->N, w->row_start, w->n_local, w->x, sizeof(double), D, nsrc, src, sx));
  PetscCall(PetscMalloc3(w->n_out + 1, &w->v_src, w->n_out + 1, &w->v_tgt, w->n_in + 1, &w->v_in));
  PetscCall(PetscMalloc2(D * D, &C, D, &delta));
  for (pm_gidx_t j = 0; j < w->n_local; j++) {
    const double *xj = w->x + j * D;
    covariance(w, j, delta, C);
    for (pm_gidx_t e = w->eptr[j]; e < w->eptr[j + 1]; e++) {
      for (int a = 0; a < D; a++) delta[a] = w->hx[w->eh[e] * D + a] - xj[a];
      w->v_src[e] = quad(D, C, delta);
    }
    for (pm_gidx_t q = w->iptr[j]; q < w->iptr[j + 1]; q++) {
      pm_gidx_t     r  = w->iord[q];
      const double *xl = sx + bmti_find(src, nsrc, w->in_src[r]) * D;
      for (int a = 0; a < D; a++) delta[a] = xj[a] - xl[a];
      w->v_in[r] = quad(D, C, delta);
    }
  }
  PetscCall(PetscFree2(C, delta));
  PetscCall(PetscFree(sx));
  PetscCall(PetscFree(src));
  PetscCall(bmti_exchange_to_sources(w, w->v_in, w->v_tgt));
  PetscFunctionReturn(PETSC_SUCCESS);
}
