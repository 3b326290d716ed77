/* DPA steps 0-2 (ALGORITHMS.md 4.1): shifted density, putative centres within k*, pruning of centres
 * that lie within the k* neighbourhood of a higher point. Ties of g are broken by global index
 * (docs/clustering.md), so every choice is the same for any number of ranks. */
#include "dpa_impl.h"

/* Step 0: m = min(rho - Z eps), rho_c = rho - m + 1, g = rho_c - eps (same operation order as the spec). */
static PetscErrorCode shift_density(dpa_work_t *w)
{
  const pm_dpa_input_t *in   = w->in;
  double                mloc = PETSC_MAX_REAL;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    double v = in->log_den[i] - in->Z * in->err[i];
    if (v < mloc) mloc = v;
  }
  PetscCallMPI(MPI_Allreduce(&mloc, &w->m, 1, MPI_DOUBLE, MPI_MIN, w->comm));
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    w->rc[i] = in->log_den[i] - w->m + 1.0;
    w->g[i]  = w->rc[i] - in->err[i];
  }
  PetscCall(pm_dpa_nbr_refresh(w->nb, sizeof(double), w->g));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Step 1: i is a putative centre iff no neighbour of rank 1..k*_i comes before i in the visit order. */
static PetscErrorCode putative_centres(dpa_work_t *w, int64_t *put)
{
  const pm_gidx_t *ind = w->in->graph->ind;
  int              nc  = w->ncol;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    pm_gidx_t gi = w->row_start + i;
    put[i]       = 1;
    for (int r = 1; r <= w->in->kstar[i]; r++) {
      int32_t s = w->nb->slot[i * nc + r];
      if (dpa_ranks_higher(w->g[s], ind[i * nc + r], w->g[i], gi)) {
        put[i] = 0;
        break;
      }
    }
  }
  PetscCall(pm_dpa_nbr_refresh(w->nb, sizeof(int64_t), put));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Step 2: every point i tells the owners of the putative centres c within its k* that come after i
 * in the visit order: c is removed; c remembers the highest such i (fallback of step 3). */
static PetscErrorCode prune_centres(dpa_work_t *w, const int64_t *put)
{
  const pm_gidx_t *ind = w->in->graph->ind;
  int              nc  = w->ncol, *dest;
  pm_gidx_t        n   = 0, nrecv;
  int64_t         *rec, *recv;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < w->n_local; i++)
    for (int r = 1; r <= w->in->kstar[i]; r++) {
      int32_t s = w->nb->slot[i * nc + r];
      if (put[s] && dpa_ranks_higher(w->g[i], w->row_start + i, w->g[s], ind[i * nc + r])) n++;
    }
  PetscCall(PetscMalloc2(n + 1, &dest, 3 * n + 1, &rec));
  n = 0;
  for (pm_gidx_t i = 0; i < w->n_local; i++)
    for (int r = 1; r <= w->in->kstar[i]; r++) {
      int32_t   s = w->nb->slot[i * nc + r];
      pm_gidx_t c = ind[i * nc + r];
      if (put[s] && dpa_ranks_higher(w->g[i], w->row_start + i, w->g[s], c)) {
        dest[n]        = pm_dpa_owner(w->nb->starts, w->size, c);
        rec[3 * n]     = c;
        rec[3 * n + 1] = pm_dpa_d2i(w->g[i]);
        rec[3 * n + 2] = w->row_start + i;
        n++;
      }
    }
  PetscCall(pm_dpa_route(w->comm, n, 3, dest, rec, &recv, &nrecv, NULL));
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    w->higher[i]  = -1;
    w->ghigher[i] = 0.0;
  }
  for (pm_gidx_t q = 0; q < nrecv; q++) {
    pm_gidx_t c = recv[3 * q] - w->row_start, p = recv[3 * q + 2];
    double    gp = pm_dpa_i2d(recv[3 * q + 1]);
    PM_ASSERT(c >= 0 && c < w->n_local && put[c]);
    if (w->higher[c] < 0 || dpa_ranks_higher(gp, p, w->ghigher[c], w->higher[c])) {
      w->higher[c]  = p;
      w->ghigher[c] = gp;
    }
  }
  PetscCall(PetscFree(recv));
  PetscCall(PetscFree2(dest, rec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Surviving centres numbered 0..K_pre-1 by global index; their data replicated on every rank. */
static PetscErrorCode number_centres(dpa_work_t *w, const int64_t *put)
{
  int64_t  nloc = 0, first = 0, nput = 0;
  int     *cnt, *dsp;
  double  *loc3, *all3;
  int64_t *locidx;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    nput += put[i] ? 1 : 0;
    w->clab[i] = (put[i] && w->higher[i] < 0) ? nloc++ : -1;
  }
  PetscCallMPI(MPI_Allreduce(&nput, &w->n_putative, 1, MPI_INT64_T, MPI_SUM, w->comm));
  PetscCallMPI(MPI_Exscan(&nloc, &first, 1, MPI_INT64_T, MPI_SUM, w->comm));
  if (w->rank == 0) first = 0;
  PetscCallMPI(MPI_Allreduce(&nloc, &w->K_pre, 1, MPI_INT64_T, MPI_SUM, w->comm));
  PetscCheck(w->K_pre < INT32_MAX, w->comm, PETSC_ERR_SUP, "DPA: %" PRId64 " putative clusters; the density is too noisy (use a smoother estimator or larger k)", w->K_pre);
  for (pm_gidx_t i = 0; i < w->n_local; i++)
    if (w->clab[i] >= 0) w->clab[i] += first;
  PetscCall(PetscMalloc5(w->size, &cnt, w->size + 1, &dsp, 3 * nloc + 1, &loc3, nloc + 1, &locidx, 3 * w->K_pre + 1, &all3));
  PetscCall(PetscMalloc4(w->K_pre + 1, &w->cen, w->K_pre + 1, &w->cen_rc, w->K_pre + 1, &w->cen_err, w->K_pre + 1, &w->cen_logden));
  nloc = 0;
  for (pm_gidx_t i = 0; i < w->n_local; i++)
    if (w->clab[i] >= 0) {
      locidx[nloc]       = w->row_start + i;
      loc3[3 * nloc]     = w->rc[i];
      loc3[3 * nloc + 1] = w->in->err[i];
      loc3[3 * nloc + 2] = w->in->log_den[i];
      nloc++;
    }
  {
    int n1 = (int)nloc;
    PetscCallMPI(MPI_Allgather(&n1, 1, MPI_INT, cnt, 1, MPI_INT, w->comm));
  }
  dsp[0] = 0;
  for (int p = 0; p < w->size; p++) dsp[p + 1] = dsp[p] + cnt[p];
  PetscCallMPI(MPI_Allgatherv(locidx, (int)nloc, MPI_INT64_T, w->cen, cnt, dsp, MPI_INT64_T, w->comm));
  for (int p = 0; p <= w->size; p++) {
    if (p < w->size) cnt[p] *= 3;
    dsp[p] *= 3;
  }
  PetscCallMPI(MPI_Allgatherv(loc3, 3 * (int)nloc, MPI_DOUBLE, all3, cnt, dsp, MPI_DOUBLE, w->comm));
  for (int64_t c = 0; c < w->K_pre; c++) {
    w->cen_rc[c]     = all3[3 * c];
    w->cen_err[c]    = all3[3 * c + 1];
    w->cen_logden[c] = all3[3 * c + 2];
  }
  PetscCall(PetscFree5(cnt, dsp, loc3, locidx, all3));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode dpa_find_centres(dpa_work_t *w)
{
  int64_t *put;

  PetscFunctionBeginUser;
  PetscCall(shift_density(w));
  PetscCall(PetscMalloc1(w->n_local + w->nb->nghost + 1, &put));
  PetscCall(putative_centres(w, put));
  PetscCall(prune_centres(w, put));
  PetscCall(number_centres(w, put));
  PetscCall(PetscFree(put));
  PetscFunctionReturn(PETSC_SUCCESS);
}
