/* Classic density peaks (ALGORITHMS.md 4.2), distributed. delta_i = distance to the nearest point of
 * strictly higher log density: the first such point of i's kNN row when there is one (rows are sorted
 * by distance), otherwise an exact search over the higher-density points only: the "orphans" are
 * broadcast in bounded batches, every rank scans its own points of higher density (visited in
 * decreasing density, so the scan stops early), and the minimum (distance, index) is reduced. */
#include "dpa.h"
#include <stdlib.h>

#define DP_BATCH 4096 /* orphans per exchange round, over all ranks */

static int cmp_desc(const void *x, const void *y, void *ctx)
{
  const double *ld = ctx;
  pm_gidx_t     a = *(const pm_gidx_t *)x, b = *(const pm_gidx_t *)y;
  if (ld[a] != ld[b]) return ld[a] > ld[b] ? -1 : 1;
  return (a > b) - (a < b);
}

/* Exact nearest higher-density point for the orphans of this rank (ref[i] = -2 marks an orphan). */
static PetscErrorCode search_orphans(const pm_dp_input_t *in, const pm_gidx_t *order, double *delta, pm_gidx_t *ref)
{
  const pm_rows_t *X = in->X;
  int              size, D = X->dim, *cnt, *dsp, chunk;
  pm_gidx_t        nl = X->n_local, mine = 0, done = 0, *oidx;
  double          *buf, *all, *best, *gbest;
  int64_t         *bidx, *gidx;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(X->comm, &size));
  chunk = PetscMax(1, DP_BATCH / size);
  for (pm_gidx_t i = 0; i < nl; i++) mine += ref[i] == -2;
  PetscCall(PetscMalloc1(mine + 1, &oidx));
  mine = 0;
  for (pm_gidx_t i = 0; i < nl; i++)
    if (ref[i] == -2) oidx[mine++] = i;
  PetscCall(PetscMalloc4(size, &cnt, size + 1, &dsp, (size_t)chunk * (D + 1) + 1, &buf, (size_t)chunk * size * (D + 1) + 1, &all));
  PetscCall(PetscMalloc4((size_t)chunk * size + 1, &best, (size_t)chunk * size + 1, &gbest, (size_t)chunk * size + 1, &bidx, (size_t)chunk * size + 1, &gidx));
  for (;;) {
    pm_gidx_t left = mine - done, gleft;
    int       nb   = (int)PetscMin(left, (pm_gidx_t)chunk), tot;
    PetscCallMPI(MPI_Allreduce(&left, &gleft, 1, MPI_INT64_T, MPI_SUM, X->comm));
    if (!gleft) break;
    for (int q = 0; q < nb; q++) {
      pm_gidx_t i = oidx[done + q];
      PetscCall(PetscArraycpy(buf + (size_t)q * (D + 1), X->x + i * D, D));
      buf[(size_t)q * (D + 1) + D] = in->log_den[i];
    }
    PetscCallMPI(MPI_Allgather(&nb, 1, MPI_INT, cnt, 1, MPI_INT, X->comm));
    dsp[0] = 0;
    for (int p = 0; p < size; p++) dsp[p + 1] = dsp[p] + cnt[p];
    tot = dsp[size];
    {
      MPI_Datatype rt;
      PetscCallMPI(MPI_Type_contiguous(D + 1, MPI_DOUBLE, &rt));
      PetscCallMPI(MPI_Type_commit(&rt));
      PetscCallMPI(MPI_Allgatherv(buf, nb, rt, all, cnt, dsp, rt, X->comm));
      PetscCallMPI(MPI_Type_free(&rt));
    }
    for (int o = 0; o < tot; o++) {
      const double *xo = all + (size_t)o * (D + 1);
      best[o]          = PETSC_MAX_REAL;
      bidx[o]          = INT64_MAX;
      for (pm_gidx_t q = 0; q < nl && in->log_den[order[q]] > xo[D]; q++) {
        pm_gidx_t j  = order[q];
        double    d2 = 0.0;
        for (int k = 0; k < D; k++) d2 += (X->x[j * D + k] - xo[k]) * (X->x[j * D + k] - xo[k]);
        if (d2 < best[o] || (d2 == best[o] && X->row_start + j < bidx[o])) {
          best[o] = d2;
          bidx[o] = X->row_start + j;
        }
      }
    }
    PetscCallMPI(MPI_Allreduce(best, gbest, tot, MPI_DOUBLE, MPI_MIN, X->comm));
    for (int o = 0; o < tot; o++)
      if (best[o] != gbest[o]) bidx[o] = INT64_MAX;
    PetscCallMPI(MPI_Allreduce(bidx, gidx, tot, MPI_INT64_T, MPI_MIN, X->comm));
    for (int q = 0; q < nb; q++) {
      int       rank;
      pm_gidx_t i = oidx[done + q];
      PetscCallMPI(MPI_Comm_rank(X->comm, &rank));
      delta[i] = PetscSqrtReal(gbest[dsp[rank] + q]);
      ref[i]   = gidx[dsp[rank] + q];
    }
    done += nb;
  }
  PetscCall(PetscFree4(cnt, dsp, buf, all));
  PetscCall(PetscFree4(best, gbest, bidx, gidx));
  PetscCall(PetscFree(oidx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* delta and ref of every local point; global maxima get ref -1 and delta 1.05 max(delta). */
static PetscErrorCode decision_graph(const pm_dp_input_t *in, double *delta, pm_gidx_t *ref, pm_gidx_t *n_orphans)
{
  const pm_graph_t *G = in->graph;
  pm_dpa_nbr_t     *nb;
  double           *ld, lmax = -PETSC_MAX_REAL, gmax, dmax = 0.0, gdmax;
  pm_gidx_t        *order, no = 0;
  int               nc = G->ncol;

  PetscFunctionBeginUser;
  PetscCall(pm_dpa_nbr_create(G, &nb));
  PetscCall(PetscMalloc2(G->n_local + nb->nghost + 1, &ld, G->n_local + 1, &order));
  for (pm_gidx_t i = 0; i < G->n_local; i++) {
    ld[i]    = in->log_den[i];
    order[i] = i;
    lmax     = PetscMax(lmax, ld[i]);
  }
  PetscCall(pm_dpa_nbr_refresh(nb, sizeof(double), ld));
  PetscCallMPI(MPI_Allreduce(&lmax, &gmax, 1, MPI_DOUBLE, MPI_MAX, G->comm));
  for (pm_gidx_t i = 0; i < G->n_local; i++) {
    ref[i] = ld[i] == gmax ? -1 : -2;
    for (int r = 1; r < nc && ref[i] == -2; r++)
      if (ld[nb->slot[i * nc + r]] > ld[i]) {
        ref[i]   = G->ind[i * nc + r];
        delta[i] = G->dist[i * nc + r];
      }
    no += ref[i] == -2;
  }
  PetscCallMPI(MPI_Allreduce(&no, n_orphans, 1, MPI_INT64_T, MPI_SUM, G->comm));
  qsort_r(order, (size_t)G->n_local, sizeof *order, cmp_desc, ld);
  PetscCall(search_orphans(in, order, delta, ref));
  for (pm_gidx_t i = 0; i < G->n_local; i++)
    if (ref[i] >= 0) dmax = PetscMax(dmax, delta[i]);
  PetscCallMPI(MPI_Allreduce(&dmax, &gdmax, 1, MPI_DOUBLE, MPI_MAX, G->comm));
  for (pm_gidx_t i = 0; i < G->n_local; i++)
    if (ref[i] < 0) delta[i] = 1.05 * gdmax;
  PetscCall(PetscFree2(ld, order));
  PetscCall(pm_dpa_nbr_destroy(&nb));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Automatic rule: delta above mean + 5 sd of delta and log density above its mean (sums over all
 * points with a reproducible reduction, so the cuts do not depend on the rank count). */
static PetscErrorCode auto_cuts(const pm_dp_input_t *in, const double *delta, double *rho_cut, double *delta_cut)
{
  pm_gidx_t nl = in->graph->n_local, N = in->graph->n_global;
  double   *v, s[3];

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(3 * nl + 1, &v));
  for (pm_gidx_t i = 0; i < nl; i++) {
    v[i]          = delta[i];
    v[nl + i]     = delta[i] * delta[i];
    v[2 * nl + i] = in->log_den[i];
  }
  PetscCall(pm_sum_repro(in->graph->comm, nl, 3, v, s));
  PetscCall(PetscFree(v));
  *delta_cut = s[0] / N + 5.0 * PetscSqrtReal(PetscMax(0.0, s[1] / N - (s[0] / N) * (s[0] / N)));
  *rho_cut   = s[2] / N;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Centres numbered in decreasing log density (ties: increasing index), as in the sequential visit. */
static PetscErrorCode number_centres(const pm_dp_input_t *in, const double *delta, const pm_gidx_t *ref, double rc, double dc, int64_t *root_label, pm_dpa_result_t *res)
{
  const pm_graph_t *G = in->graph;
  int               size, *cnt, *dsp, n1 = 0;
  double           *mine, *all;
  pm_gidx_t        *order;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(G->comm, &size));
  for (pm_gidx_t i = 0; i < G->n_local; i++) n1 += (ref[i] < 0 || (in->log_den[i] > rc && delta[i] > dc));
  PetscCall(PetscMalloc3(size, &cnt, size + 1, &dsp, 2 * n1 + 1, &mine));
  n1 = 0;
  for (pm_gidx_t i = 0; i < G->n_local; i++)
    if (ref[i] < 0 || (in->log_den[i] > rc && delta[i] > dc)) {
      mine[2 * n1]     = in->log_den[i];
      mine[2 * n1 + 1] = (double)(G->row_start + i);
      n1++;
    }
  n1 *= 2;
  PetscCallMPI(MPI_Allgather(&n1, 1, MPI_INT, cnt, 1, MPI_INT, G->comm));
  dsp[0] = 0;
  for (int p = 0; p < size; p++) dsp[p + 1] = dsp[p] + cnt[p];
  res->K = dsp[size] / 2;
  PetscCheck(res->K <= 1000000, G->comm, PETSC_ERR_USER_INPUT, "density peaks: %" PRId64 " centres pass -dp_rho_cut/-dp_delta_cut; raise the cuts", res->K);
  PetscCall(PetscMalloc2(2 * res->K + 1, &all, res->K + 1, &order));
  PetscCallMPI(MPI_Allgatherv(mine, n1, MPI_DOUBLE, all, cnt, dsp, MPI_DOUBLE, G->comm));
  {
    double *ldc;
    PetscCall(PetscMalloc1(res->K + 1, &ldc));
    for (int64_t c = 0; c < res->K; c++) {
      order[c] = c;
      ldc[c]   = all[2 * c];
    }
    qsort_r(order, (size_t)res->K, sizeof *order, cmp_desc, ldc); /* ties: gathered order = index order */
    PetscCall(PetscFree(ldc));
  }
  PetscCall(PetscMalloc5(res->K + 1, &res->center, res->K + 1, &res->population, res->K + 1, &res->core_population, res->K + 1, &res->peak_log_den, res->K + 1, &res->peak_err));
  for (int64_t c = 0; c < res->K; c++) {
    res->center[c]       = (pm_gidx_t)all[2 * order[c] + 1];
    res->peak_log_den[c] = all[2 * order[c]];
    res->peak_err[c]     = 0.0;
  }
  for (pm_gidx_t i = 0; i < G->n_local; i++) root_label[i] = -1;
  for (int64_t c = 0; c < res->K; c++)
    if (res->center[c] >= G->row_start && res->center[c] < G->row_start + G->n_local) root_label[res->center[c] - G->row_start] = c;
  PetscCall(PetscFree2(all, order));
  PetscCall(PetscFree3(cnt, dsp, mine));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_dp_compute(const pm_dp_input_t *in, double *delta, pm_gidx_t *ref, double *rho_cut_used, double *delta_cut_used, pm_dpa_result_t **resp)
{
  const pm_graph_t *G = in->graph;
  pm_dpa_result_t  *res;
  pm_gidx_t        *parent;
  int64_t          *root_label, *pop;
  pm_gidx_t         n_orphans;

  PetscFunctionBeginUser;
  PetscCheck(in->X && in->X->n_local == G->n_local && in->X->row_start == G->row_start, G->comm, PETSC_ERR_ARG_INCOMP, "density peaks needs the coordinates in the layout of the graph");
  PetscCall(PetscNew(&res));
  PetscCall(decision_graph(in, delta, ref, &n_orphans));
  res->n_fallback = n_orphans; /* points whose delta needed the exact search */
  *rho_cut_used   = in->rho_cut;
  *delta_cut_used = in->delta_cut;
  if (in->auto_cut) PetscCall(auto_cuts(in, delta, rho_cut_used, delta_cut_used));
  PetscCall(PetscMalloc2(G->n_local + 1, &parent, G->n_local + 1, &root_label));
  PetscCall(number_centres(in, delta, ref, *rho_cut_used, *delta_cut_used, root_label, res));
  for (pm_gidx_t i = 0; i < G->n_local; i++) parent[i] = root_label[i] >= 0 ? G->row_start + i : ref[i];
  PetscCall(PetscMalloc1(G->n_local + 1, &res->label));
  PetscCall(pm_dpa_resolve_forest(G->comm, G->row_start, G->n_local, parent, root_label, res->label, &res->jump_rounds));
  PetscCall(PetscCalloc1(res->K + 1, &pop));
  for (pm_gidx_t i = 0; i < G->n_local; i++) pop[res->label[i]]++;
  PetscCallMPI(MPI_Allreduce(pop, res->population, (int)res->K, MPI_INT64_T, MPI_SUM, G->comm));
  for (int64_t c = 0; c < res->K; c++) res->core_population[c] = res->population[c];
  res->K_pre = res->n_putative = res->K;
  PetscCall(PetscFree(pop));
  PetscCall(PetscFree2(parent, root_label));
  *resp = res;
  PetscFunctionReturn(PETSC_SUCCESS);
}
