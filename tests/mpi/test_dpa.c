/* DPA against DADApy on a reference set (raw arrays written by tests/e2e/test_dpa_refdata.py):
 * Z = 1.65 and 3, with and without halo, PAk density. Checks on any number of ranks:
 *  - distributed result == serial twin (labels, centres, saddle matrices, merge history), so labels
 *    are identical on 1, 2, 3 ranks;
 *  - serial/distributed result == DADApy: K, centres, labels (ARI 1), log_den_bord (1e-9), errors,
 *    border indices;
 *  - invariance under a random permutation of the input rows.
 * Usage: test_dpa <dir of one set> */
#include "cluster/dpa.h"
#include "pm_test.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  pm_gidx_t n;
  int       ncol;
  int64_t  *ind, *kstar;
  double   *dist, *ld, *err;
} set_t;

static void *read_raw(const char *dir, const char *name, size_t bytes)
{
  char  path[PM_PATH_MAX];
  void *buf = malloc(bytes + 8);
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "rb");
  if (!f || fread(buf, 1, bytes, f) != bytes) {
    fprintf(stderr, "cannot read %s (run tests/e2e/test_dpa_refdata.py first)\n", path);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  fclose(f);
  return buf;
}

/* Adjusted Rand index of two labelings (labels >= -1; -1 is a class of its own). */
static double ari(pm_gidx_t n, const int64_t *a, const int64_t *b)
{
  int64_t ka = 0, kb = 0;
  double  sij = 0, sa = 0, sb = 0, tot, exp_, mx;
  for (pm_gidx_t i = 0; i < n; i++) {
    if (a[i] + 2 > ka) ka = a[i] + 2;
    if (b[i] + 2 > kb) kb = b[i] + 2;
  }
  double *t = calloc((size_t)(ka * kb), sizeof *t), *ra = calloc((size_t)ka, sizeof *ra), *rb = calloc((size_t)kb, sizeof *rb);
  for (pm_gidx_t i = 0; i < n; i++) {
    t[(a[i] + 1) * kb + b[i] + 1] += 1;
    ra[a[i] + 1] += 1;
    rb[b[i] + 1] += 1;
  }
  for (int64_t x = 0; x < ka * kb; x++) sij += t[x] * (t[x] - 1) / 2;
  for (int64_t x = 0; x < ka; x++) sa += ra[x] * (ra[x] - 1) / 2;
  for (int64_t x = 0; x < kb; x++) sb += rb[x] * (rb[x] - 1) / 2;
  tot  = (double)n * (n - 1) / 2;
  exp_ = sa * sb / tot;
  mx   = 0.5 * (sa + sb);
  free(t);
  free(ra);
  free(rb);
  return mx == exp_ ? 1.0 : (sij - exp_) / (mx - exp_);
}

/* Run distributed DPA on the rows of perm-ordered data (perm NULL = identity); return the labels of
 * all points in ORIGINAL order on rank 0 (gathered: test only) and the result. */
static PetscErrorCode run_dist(MPI_Comm comm, const set_t *S, const pm_gidx_t *perm, const pm_gidx_t *inv, double Z, PetscBool halo, int64_t *lab_all, pm_dpa_result_t **res)
{
  int            rank, size;
  pm_gidx_t      start, cnt;
  pm_graph_t     G = {0};
  double        *ld, *err;
  int64_t       *ks, *lab_perm = NULL;
  pm_dpa_input_t in;

  PetscFunctionBeginUser;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  pm_block_range(S->n, size, rank, &start, &cnt);
  G.comm      = comm;
  G.n_global  = S->n;
  G.row_start = start;
  G.n_local   = cnt;
  G.ncol      = S->ncol;
  G.k         = S->ncol - 1;
  PetscCall(PetscMalloc5(cnt * S->ncol + 1, &G.ind, cnt * S->ncol + 1, &G.dist, cnt + 1, &ld, cnt + 1, &err, cnt + 1, &ks));
  for (pm_gidx_t i = 0; i < cnt; i++) {
    pm_gidx_t o = perm ? perm[start + i] : start + i; /* new row start+i is old row o */
    for (int r = 0; r < S->ncol; r++) {
      pm_gidx_t j             = S->ind[o * S->ncol + r];
      G.ind[i * S->ncol + r]  = perm ? inv[j] : j;
      G.dist[i * S->ncol + r] = S->dist[o * S->ncol + r];
    }
    ld[i]  = S->ld[o];
    err[i] = S->err[o];
    ks[i]  = S->kstar[o];
  }
  in = (pm_dpa_input_t){&G, ld, err, ks, Z, halo, NULL};
  PetscCall(pm_dpa_compute(&in, res));
  {
    int *rc = NULL, *rd = NULL, c = (int)cnt;
    if (rank == 0) {
      PetscCall(PetscMalloc2(size, &rc, size + 1, &rd));
      PetscCall(PetscMalloc1(S->n, &lab_perm));
    }
    PetscCallMPI(MPI_Gather(&c, 1, MPI_INT, rc, 1, MPI_INT, 0, comm));
    if (rank == 0) {
      rd[0] = 0;
      for (int p = 0; p < size; p++) rd[p + 1] = rd[p] + rc[p];
    }
    PetscCallMPI(MPI_Gatherv((*res)->label, c, MPI_INT64_T, lab_perm, rc, rd, MPI_INT64_T, 0, comm));
    if (rank == 0) {
      for (pm_gidx_t j = 0; j < S->n; j++) lab_all[perm ? perm[j] : j] = lab_perm[j];
      PetscCall(PetscFree2(rc, rd));
      PetscCall(PetscFree(lab_perm));
    }
  }
  PetscCall(PetscFree5(G.ind, G.dist, ld, err, ks));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void compare_with_ref(const char *tag, pm_gidx_t n, const int64_t *lab, const pm_dpa_result_t *D, const pm_dpa_result_t *R)
{
  pm_gidx_t bad = 0;
  int64_t   K   = R->K;
  PM_TEST(D->K == R->K && D->K_pre == R->K_pre && D->n_merges == R->n_merges, "%s: K %" PRId64 "/%" PRId64 " pre %" PRId64 "/%" PRId64 " merges %" PRId64 "/%" PRId64, tag, D->K, R->K, D->K_pre, R->K_pre, D->n_merges, R->n_merges);
  if (D->K != R->K) return;
  for (pm_gidx_t i = 0; i < n; i++) bad += lab[i] != R->label[i];
  PM_TEST(bad == 0, "%s: %" PRId64 " labels differ from the serial twin", tag, bad);
  PM_TEST(D->n_fallback == R->n_fallback, "%s: fallback %" PRId64 " vs %" PRId64, tag, D->n_fallback, R->n_fallback);
  for (int64_t c = 0; c < K; c++) {
    PM_TEST(D->center[c] == R->center[c] && D->population[c] == R->population[c] && D->peak_log_den[c] == R->peak_log_den[c], "%s: cluster %" PRId64 " centre/population/peak", tag, c);
    for (int64_t d = 0; d < K; d++)
      PM_TEST(D->saddle[c * K + d] == R->saddle[c * K + d] && D->saddle_err[c * K + d] == R->saddle_err[c * K + d] && D->border[c * K + d] == R->border[c * K + d], "%s: saddle (%" PRId64 ",%" PRId64 ") %.17g vs %.17g", tag, c, d, D->saddle[c * K + d], R->saddle[c * K + d]);
  }
  if (D->n_merges == R->n_merges)
    for (int64_t q = 0; q < D->n_merges; q++)
      PM_TEST(D->merge_absorbed[q] == R->merge_absorbed[q] && D->merge_survivor[q] == R->merge_survivor[q] && D->merge_margin[q] == R->merge_margin[q], "%s: merge %" PRId64, tag, q);
}

/* Our result (labels of all points, replicated cluster data) against DADApy's group files. */
static void compare_with_dadapy(const char *tag, const char *dir, const char *grp, int64_t Kd, pm_gidx_t n, const int64_t *lab, const pm_dpa_result_t *R)
{
  char     nm[512];
  int64_t *dl, *dc, *dbi, *map, K = R->K;
  double  *db, *dbe, a;
  PM_TEST(K == Kd, "%s: %" PRId64 " clusters, DADApy %" PRId64, tag, K, Kd);
  if (K != Kd) return;
  snprintf(nm, sizeof nm, "%s_label.i64", grp);
  dl = read_raw(dir, nm, n * 8);
  snprintf(nm, sizeof nm, "%s_center.i64", grp);
  dc = read_raw(dir, nm, K * 8);
  snprintf(nm, sizeof nm, "%s_bord.f64", grp);
  db = read_raw(dir, nm, K * K * 8);
  snprintf(nm, sizeof nm, "%s_bord_err.f64", grp);
  dbe = read_raw(dir, nm, K * K * 8);
  snprintf(nm, sizeof nm, "%s_bord_idx.i64", grp);
  dbi = read_raw(dir, nm, K * K * 8);
  map = malloc((size_t)K * sizeof *map);
  for (int64_t c = 0; c < K; c++) {
    map[c] = -1;
    for (int64_t d = 0; d < K; d++)
      if (dc[d] == R->center[c]) map[c] = d;
    PM_TEST(map[c] >= 0, "%s: centre %" PRId64 " of cluster %" PRId64 " is not a DADApy centre", tag, R->center[c], c);
  }
  a = ari(n, lab, dl);
  PM_TEST(a == 1.0, "%s: ARI vs DADApy %.6f", tag, a);
  printf("# %s: K=%" PRId64 " ARI=%.6f\n", tag, K, a);
  for (int64_t c = 0; c < K; c++)
    for (int64_t d = 0; d < K; d++) {
      int64_t x = map[c], y = map[d];
      if (x < 0 || y < 0) continue;
      PM_TEST(fabs(R->saddle[c * K + d] - db[x * K + y]) <= 1e-9, "%s: log_den_bord (%" PRId64 ",%" PRId64 ") %.12g vs DADApy %.12g", tag, c, d, R->saddle[c * K + d], db[x * K + y]);
      PM_TEST(fabs(R->saddle_err[c * K + d] - dbe[x * K + y]) <= 1e-12, "%s: log_den_bord_err (%" PRId64 ",%" PRId64 ")", tag, c, d);
      PM_TEST(R->border[c * K + d] == dbi[x * K + y], "%s: bord_indices (%" PRId64 ",%" PRId64 ") %" PRId64 " vs %" PRId64, tag, c, d, R->border[c * K + d], dbi[x * K + y]);
    }
  free(map);
  free(dl);
  free(dc);
  free(db);
  free(dbe);
  free(dbi);
}

int main(int argc, char **argv)
{
  MPI_Comm    comm;
  int         rank;
  set_t       S;
  char        line[256], grp[4][64];
  int64_t     Kd[4];
  const char *dir;
  FILE       *f;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  MPI_Comm_rank(comm, &rank);
  if (argc < 2) {
    fprintf(stderr, "usage: test_dpa <dir>\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  dir = argv[1];
  snprintf(line, sizeof line, "%s/meta.txt", dir);
  f = fopen(line, "r");
  if (!f || fscanf(f, "%" SCNd64 " %d", &S.n, &S.ncol) != 2) MPI_Abort(MPI_COMM_WORLD, 2);
  for (int q = 0; q < 4; q++)
    if (fscanf(f, "%63s %" SCNd64, grp[q], &Kd[q]) != 2) MPI_Abort(MPI_COMM_WORLD, 2);
  fclose(f);
  S.ind   = read_raw(dir, "ind.i64", S.n * S.ncol * 8);
  S.dist  = read_raw(dir, "dist.f64", S.n * S.ncol * 8);
  S.ld    = read_raw(dir, "log_den.f64", S.n * 8);
  S.err   = read_raw(dir, "err.f64", S.n * 8);
  S.kstar = read_raw(dir, "kstar.i64", S.n * 8);

  for (int q = 0; q < 4; q++) {
    double           Z    = strncmp(grp[q], "Z3", 2) == 0 ? 3.0 : 1.65;
    PetscBool        halo = strstr(grp[q], "halo") ? PETSC_TRUE : PETSC_FALSE;
    int64_t         *lab = malloc(S.n * sizeof *lab), *labp = malloc(S.n * sizeof *labp);
    pm_dpa_result_t *D, *R                                  = NULL, *Dp;
    char             tag[600];
    snprintf(tag, sizeof tag, "%s %s", dir, grp[q]);
    PetscCall(run_dist(comm, &S, NULL, NULL, Z, halo, lab, &D));
    if (rank == 0) {
      PetscCall(pm_dpa_ref(S.n, S.ncol, S.ind, S.ld, S.err, S.kstar, Z, halo, &R));
      compare_with_ref(tag, S.n, lab, D, R);
      compare_with_dadapy(tag, dir, grp[q], Kd[q], S.n, lab, R);
      printf("# %s: putative %" PRId64 " pre-merge %" PRId64 " merges %" PRId64 " fallback %" PRId64 " rounds %d\n", tag, D->n_putative, D->K_pre, D->n_merges, D->n_fallback, D->jump_rounds);
    }
    { /* random permutation of the rows (same seed on every rank) */
      pm_gidx_t *perm = malloc(S.n * sizeof *perm), *inv = malloc(S.n * sizeof *inv);
      uint64_t   s = 12345 + q;
      for (pm_gidx_t i = 0; i < S.n; i++) perm[i] = i;
      for (pm_gidx_t i = S.n - 1; i > 0; i--) {
        pm_gidx_t j, t;
        s       = s * 6364136223846793005ULL + 1442695040888963407ULL;
        j       = (pm_gidx_t)((s >> 33) % (uint64_t)(i + 1));
        t       = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
      }
      for (pm_gidx_t i = 0; i < S.n; i++) inv[perm[i]] = i;
      PetscCall(run_dist(comm, &S, perm, inv, Z, halo, labp, &Dp));
      if (rank == 0) {
        double a = ari(S.n, lab, labp);
        PM_TEST(Dp->K == D->K && a == 1.0, "%s: permuted rows: K %" PRId64 " vs %" PRId64 ", ARI %.6f", tag, Dp->K, D->K, a);
        for (int64_t c = 0; c < Dp->K && Dp->K == D->K; c++) {
          int found = 0;
          for (int64_t d = 0; d < D->K; d++) found |= perm[Dp->center[c]] == D->center[d];
          PM_TEST(found, "%s: permuted centre %" PRId64, tag, c);
        }
      }
      PetscCall(pm_dpa_result_destroy(&Dp));
      free(perm);
      free(inv);
    }
    PetscCall(pm_dpa_result_destroy(&D));
    PetscCall(pm_dpa_result_destroy(&R));
    free(lab);
    free(labp);
  }
  free(S.ind);
  free(S.dist);
  free(S.ld);
  free(S.err);
  free(S.kstar);
  {
    int bad = pm_test_finish_mpi(comm);
    PetscCall(PetscFinalize());
    return bad;
  }
}
