/* The -knn_method auto rule. Both methods give the identical graph, so this is only about speed.
 * Probe: every rank gathers a strided sample of m = min(N, PROBE_M) rows (knn_sample_fetch: the
 * same sample for any rank count; rank 0 keeps it for the cell cuts; only where the first probe
 * below leaves the choice open); every rank builds a kd-tree
 * over it and runs the real k-NN query, one row at a time, for its share of the PROBE_Q queries;
 * f = distances computed / (queries x m) is the fraction of a brute-force scan the tree needs at
 * that scale (it only falls as N grows, so the probe is pessimistic for the tree). Brute force
 * skips the tiles its bounds rule out, filters in single precision and starts from provisional
 * bounds, so on the benchmark sets the crossover lies near f = 0.1 (lowdim, f = 0.066: the tree
 * 2.4x faster; perf, f = 0.147: brute force 2.4x faster; docs/knn.md): the tree is chosen when
 * f < 1 / TREE_COST_RATIO = 0.1. f only grows with every query, so the probe stops as soon as it
 * reaches 0.1 (brute force is then certain).
 * A first probe on PRE_M = 1024 of the rows, with 64 queries, goes before: where the tree needs at
 * least PRE_F = 0.9 of the distances there, brute force is chosen at once (f falls as m grows,
 * but far less than ninefold from 1024 to 16384 rows where it starts that high: uniform 20-D has
 * f = 1.0 at both; lowdim 0.30-0.49 -> 0.066-0.079, perf 0.27-0.31 -> 0.145-0.148 at 20k-1M). It
 * saves the large probe's tree (10-15 ms at 20k) where brute force is clear.
 * The counts are summed over the ranks after every round of queries (8 queries per rank, then
 * twice as many each round up to 32: fewer collectives), so every rank reaches the same verdict,
 * and the same one for any rank count. The same queries estimate the k-th neighbour distance for
 * the cell cuts (knn_part.c), and their counts of distances the work of the rows around them (the
 * cuts' balance, cut_share). */
#include "graph/graph_impl.h"

#define PROBE_M         16384
#define PROBE_Q         256
#define PROBE_CHUNK     8  /* queries of a rank before the first check of the early stop (then twice as many each time, */
#define PROBE_CHUNK_MAX 32 /* ... up to this many) */
#define TREE_COST_RATIO 10.0
#define PRE_M           1024 /* the first probe: rows, queries, and the f from which brute force is certain */
#define PRE_Q           64
#define PRE_F           0.9

/* First sample index r (of m, row r N / m) at or after global row g: ceil(g m / N). */
static pm_gidx_t first_sample(pm_gidx_t g, pm_gidx_t m, pm_gidx_t N)
{
  return (g * m + N - 1) / N; /* g m < 2^63: m is at most a few million, N well below 2^40 */
}

/* The sample is strided (row r N / m), so every rank knows which of its rows belong to it and the
 * rows are gathered in sample order with one Gatherv (or Allgatherv): no request exchange, no sort. */
PetscErrorCode knn_sample_fetch(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t N, pm_gidx_t want, PetscBool all, knn_sample_t *s)
{
  int          rank, size, nsend, *cnt = NULL, *dsp = NULL, D = mine->dim;
  pm_gidx_t    r0, r1;
  double      *send;
  MPI_Datatype rowtype;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(knn->comm, &rank));
  PetscCallMPI(MPI_Comm_size(knn->comm, &size));
  *s        = KNN_SAMPLE_NONE;
  s->m      = PetscMin(N, want);
  PetscCheck(s->m <= INT32_MAX, knn->comm, PETSC_ERR_SUP, "kNN sample of %" PRId64 " rows exceeds the MPI count limit", s->m);
  r0    = first_sample(mine->start, s->m, N);
  r1    = first_sample(mine->start + mine->n, s->m, N);
  nsend = (int)(r1 - r0);
  if (all || rank == 0) { /* the receivers: this rank's rows packed in their place */
    PetscCall(pm_malloc_placed(sizeof(double) * (size_t)(s->m * D + 1), (void **)&s->x));
    PetscCall(PetscMalloc2(size, &cnt, size, &dsp));
    send = s->x + r0 * D;
  } else PetscCall(PetscMalloc1((size_t)nsend * D + 1, &send));
  for (pm_gidx_t r = r0; r < r1; r++) PetscCall(PetscArraycpy(send + (r - r0) * D, mine->x + (r * N / s->m - mine->start) * D, D));
  if (all) PetscCallMPI(MPI_Allgather(&nsend, 1, MPI_INT, cnt, 1, MPI_INT, knn->comm));
  else PetscCallMPI(MPI_Gather(&nsend, 1, MPI_INT, cnt, 1, MPI_INT, 0, knn->comm));
  if (all || rank == 0)
    for (int q = 0, off = 0; q < size; off += cnt[q++]) dsp[q] = off; /* the counts add up to m */
  PetscCallMPI(MPI_Type_contiguous(D, MPI_DOUBLE, &rowtype));
  PetscCallMPI(MPI_Type_commit(&rowtype));
  if (all) PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, nsend, rowtype, s->x, cnt, dsp, rowtype, knn->comm));
  else PetscCallMPI(MPI_Gatherv(rank == 0 ? MPI_IN_PLACE : send, nsend, rowtype, s->x, cnt, dsp, rowtype, 0, knn->comm));
  PetscCallMPI(MPI_Type_free(&rowtype));
  if (all || rank == 0) PetscCall(PetscFree2(cnt, dsp));
  else PetscCall(PetscFree(send));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_sample_free(knn_sample_t *s)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(s->x));
  PetscCall(PetscFree2(s->qrow, s->qcost));
  *s = KNN_SAMPLE_NONE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Median of the nq values at stride ld (scratch: nq indices). */
static double median(const double *v, pm_gidx_t nq, int ld, pm_gidx_t *perm)
{
  for (pm_gidx_t r = 0; r < nq; r++) perm[r] = r;
  knn_select_nth(perm, v, ld, 0, 0, nq, nq / 2);
  return v[perm[nq / 2] * ld];
}

/* The probe on at most mcap rows of the sample with at most qcap queries; the radius only when
 * asked for (and the probe ran to its end). */
static PetscErrorCode probe(MPI_Comm comm, knn_sample_t *s, int D, int leaf, pm_gidx_t N, int k, pm_gidx_t mcap, pm_gidx_t qcap, double stop_f, PetscBool radius, double *f)
{
  pm_gidx_t   m = PetscMin(s->m, mcap), nq = PetscMin(m, qcap), nmine, qmax, kp, *ind, *order;
  int         kk, rank, size;
  double     *xs, *xq, *dist;
  int64_t    *qev;
  knn_block_t b, q;
  knn_tree_t *t = NULL;
  knn_lists_t h;
  knn_buf_t   buf;
  int64_t     ev = 0, evall = 0;

  PetscFunctionBeginUser;
  *f = 1.0;
  if (m < 3) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  kk = (int)PetscMin((pm_gidx_t)k, m - 1);
  xs = s->x;
  if (m < s->m) { /* at most PROBE_M strided rows of the sample */
    PetscCall(PetscMalloc1(m * D, &xs));
    for (pm_gidx_t r = 0; r < m; r++) PetscCall(PetscArraycpy(xs + r * D, s->x + (r * s->m / m) * D, D));
  }
  /* this rank's queries: the strided query rows j (sample row j (m / nq)) with j % size == rank */
  nmine = nq > rank ? (nq - rank + size - 1) / size : 0;
  b     = (knn_block_t){0, m, D, xs, NULL};
  if (nmine) PetscCall(knn_tree_create(&b, leaf, &t)); /* the same tree on every rank that queries */
  qmax = (nq + size - 1) / size; /* the most queries of a rank: the same rounds on every rank */
  PetscCall(PetscMalloc3(nmine * (kk + 1) + 1, &ind, nmine * (kk + 1) + 1, &dist, nmine * D + 1, &xq));
  PetscCall(PetscMalloc2(nmine + 1, &order, nmine + 1, &qev));
  /* lists are indexed by query, so query through a block whose row r is this rank's r-th query */
  for (pm_gidx_t r = 0; r < nmine; r++) PetscCall(PetscArraycpy(xq + r * D, xs + (rank + r * size) * (m / nq) * D, D));
  q = (knn_block_t){0, nmine, D, xq, NULL};
  PetscCall(knn_lists_init(&h, nmine, -1 - m, kk, ind, dist)); /* row_start outside: the query itself is one of its kk */
  PetscCall(knn_buf_create(1, KNN_TREE_BUF, kk, &buf));
  for (pm_gidx_t r = 0; r < nmine; r++) order[r] = r;
  for (pm_gidx_t r0 = 0, len = PROBE_CHUNK; r0 < qmax; r0 += len, len = PetscMin(2 * len, (pm_gidx_t)PROBE_CHUNK_MAX)) { /* f only grows: stop once it reaches stop_f */
    for (pm_gidx_t r = r0; r < PetscMin(r0 + len, nmine); r++) { /* one at a time (as the one-row buffer has it anyway): each query's cost */
      int64_t e0 = ev;
      PetscCall(knn_tree_query(t, &q, order + r, 1, &h, &buf, &ev));
      qev[r] = ev - e0;
    }
    PetscCallMPI(MPI_Allreduce(&ev, &evall, 1, MPI_INT64_T, MPI_SUM, comm));
    *f = (double)evall / ((double)nq * (double)m);
    if (*f >= stop_f) break;
  }
  if (radius && *f < stop_f) { /* ran to the end (else f is only a lower bound, and there is no radius) */
    double    *mine, *all = NULL;
    pm_gidx_t *perm = NULL;
    int64_t   *cost = NULL;
    int       *cnt = NULL, *dsp = NULL, n = (int)nmine;
    PetscCall(knn_lists_finish(&h)); /* row r: column 1 the query itself (distance 0), then the others in order */
    kp = PetscMin(PetscMax((pm_gidx_t)1, ((pm_gidx_t)k * m + N - 1) / N), (pm_gidx_t)kk - 1);
    PetscCall(PetscMalloc1(nmine + 1, &mine));
    for (pm_gidx_t r = 0; r < nmine; r++) mine[r] = kp >= 1 ? dist[r * (kk + 1) + 1 + kp] : 0.0;
    if (rank == 0) PetscCall(PetscMalloc5(nq, &all, nq, &perm, size, &cnt, size, &dsp, nq, &cost));
    PetscCallMPI(MPI_Gather(&n, 1, MPI_INT, cnt, 1, MPI_INT, 0, comm));
    if (rank == 0)
      for (int p = 0, off = 0; p < size; off += cnt[p++]) dsp[p] = off;
    PetscCallMPI(MPI_Gatherv(mine, n, MPI_DOUBLE, all, cnt, dsp, MPI_DOUBLE, 0, comm));
    PetscCallMPI(MPI_Gatherv(qev, n, MPI_INT64_T, cost, cnt, dsp, MPI_INT64_T, 0, comm));
    if (rank == 0) { /* the median of all queries' k'-th distances: the same values for any rank count */
      s->radius = median(all, nq, 1, perm);
      PetscCall(PetscFree2(s->qrow, s->qcost));
      PetscCall(PetscMalloc2(nq, &s->qrow, nq, &s->qcost));
      s->nq = nq;
      for (int p = 0; p < size; p++) /* rank p's r-th query is query p + r size: sample row (p + r size) (m / nq) of xs */
        for (int r = 0; r < cnt[p]; r++) {
          pm_gidx_t j = p + (pm_gidx_t)r * size, x = j * (m / nq);
          s->qrow[j]  = m < s->m ? x * s->m / m : x;
          s->qcost[j] = cost[dsp[p] + r];
        }
      PetscCall(PetscFree5(all, perm, cnt, dsp, cost));
    }
    PetscCall(PetscFree(mine));
  }
  PetscCall(knn_buf_destroy(&buf));
  PetscCall(knn_lists_free(&h));
  PetscCall(PetscFree3(ind, dist, xq));
  PetscCall(PetscFree2(order, qev));
  if (xs != s->x) PetscCall(PetscFree(xs));
  PetscCall(knn_tree_destroy(&t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_sample_probe(MPI_Comm comm, knn_sample_t *s, int D, int leaf, pm_gidx_t N, int k, double stop_f, double *f)
{
  PetscFunctionBeginUser;
  PetscCall(probe(comm, s, D, leaf, N, k, PROBE_M, PROBE_Q, stop_f, PETSC_TRUE, f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_choose_method(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t n_global, int k, pm_knn_method_t *method, knn_sample_t *s)
{
  double    f;
  int       choice, rank;
  pm_gidx_t mp = PRE_M; /* the probe that decided: its rows */

  PetscFunctionBeginUser;
  if (knn->method != PM_KNN_AUTO) {
    *method = knn->method;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscLogEventBegin(knn->ev_probe, 0, 0, 0, 0));
  PetscCallMPI(MPI_Comm_rank(knn->comm, &rank));
  /* every rank gets the sample, builds the probe tree and runs its share of the queries; the first
     probe's rows first (rows r N / PRE_M: the same rows as every 16th of the large sample's, r
     (16 N / PRE_M) / 16), so where it settles on brute force the large sample is never gathered
     (2.6 MiB on every rank at D = 20) */
  PetscCall(knn_sample_fetch(knn, mine, n_global, PRE_M, PETSC_TRUE, s));
  PetscCall(probe(knn->comm, s, mine->dim, knn->leaf, n_global, k, PRE_M, PRE_Q, PRE_F, PETSC_FALSE, &f));
  if (f < PRE_F) {
    mp = PROBE_M;
    PetscCall(knn_sample_free(s));
    PetscCall(knn_sample_fetch(knn, mine, n_global, PROBE_M, PETSC_TRUE, s));
    PetscCall(knn_sample_probe(knn->comm, s, mine->dim, knn->leaf, n_global, k, 1.0 / TREE_COST_RATIO, &f));
  }
  if (rank) PetscCall(PetscFree(s->x)); /* the cuts use rank 0's */
  choice  = f < 1.0 / TREE_COST_RATIO ? PM_KNN_TREE : PM_KNN_BRUTE; /* f: the same on every rank (an integer sum) */
  *method = (pm_knn_method_t)choice;
  PetscCall(PetscInfo(NULL, "kNN auto: the tree needs %s%.4f of the brute-force distances on a %" PRId64 "-point probe -> %s\n", choice == PM_KNN_BRUTE ? "at least " : "", f, PetscMin(n_global, mp), pm_knn_method_names[choice]));
  PetscCall(PetscLogEventEnd(knn->ev_probe, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
