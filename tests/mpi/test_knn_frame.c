/* kd-tree in the principal-axes frame (knn_frame.c): data on a low-dimensional linear subspace of
 * a higher-dimensional space must give the oracle's graph bit for bit, with the rotated tree and
 * with the input-coordinate tree alike (tree level, every rank on its own), and through
 * pm_knn_build with the tree method on any number of ranks (spatial cells, ring). Sets: a 9x9x9
 * integer lattice embedded in 12-D by exact copies and sign flips (every distance tied many
 * times), a random 4-D set in 16-D through an orthonormal map and offset by 1e6 (large norms
 * against the frame's rounding margin), the same with duplicated rows, and integer points on a
 * line in 8-D. Cell cuts: two clusters on a plane in 8-D, separated along a diagonal direction, where
 * every coordinate cuts through both clusters; the first cut must follow the principal axis through
 * the gap, on 2 ranks far fewer points must have neighbours in the other cell than with a cut at
 * the median of the widest coordinate, and the cells must hold N / P rows each (also with 40000
 * points, more than the cut sample). */
#include <phasemap/graph.h>
#include "graph/knn_frame.h"
#include "pm_test.h"
#include <string.h>

static double hash01(uint64_t seed, int64_t i)
{
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

typedef struct {
  const char *name;
  int64_t     n;
  int         dim, m; /* m: expected frame dimension */
  double     *x;
  int64_t    *ri; /* the oracle's graph (k = K) */
  double     *rd;
} set_t;

#define K 30

/* Lattice (a, b, c) in 0..8, scrambled, as (a, b, c, a, b, c, -a, -b, -c, c, a, b): exact ties. */
static PetscErrorCode set_lattice(set_t *s)
{
  PetscFunctionBeginUser;
  *s = (set_t){"lattice 3-D in 12-D", 729, 12, 3, NULL, NULL, NULL};
  PetscCall(PetscMalloc1(s->n * s->dim, &s->x));
  for (int64_t i = 0; i < s->n; i++) {
    int64_t c = (i * 412) % 729;
    double  a = (double)(c % 9), b = (double)((c / 9) % 9), e = (double)(c / 81), v[12] = {a, b, e, a, b, e, -a, -b, -e, e, a, b};
    memcpy(s->x + 12 * i, v, sizeof v);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* n random 4-D points through a 16 x 4 orthonormal map (Gram-Schmidt of random columns) + 1e6;
 * with dup, some rows are copies of others. */
static PetscErrorCode set_subspace(set_t *s, PetscBool dup)
{
  double Q[16 * 4];

  PetscFunctionBeginUser;
  *s = (set_t){dup ? "4-D in 16-D + 1e6, duplicates" : "4-D in 16-D + 1e6", 800, 16, 4, NULL, NULL, NULL};
  for (int j = 0; j < 4; j++) {
    for (int d = 0; d < 16; d++) Q[d * 4 + j] = hash01(5, d * 4 + j) - 0.5;
    for (int i = 0; i < j; i++) {
      double p = 0.0;
      for (int d = 0; d < 16; d++) p += Q[d * 4 + i] * Q[d * 4 + j];
      for (int d = 0; d < 16; d++) Q[d * 4 + j] -= p * Q[d * 4 + i];
    }
    {
      double nn = 0.0;
      for (int d = 0; d < 16; d++) nn += Q[d * 4 + j] * Q[d * 4 + j];
      for (int d = 0; d < 16; d++) Q[d * 4 + j] /= sqrt(nn);
    }
  }
  PetscCall(PetscMalloc1(s->n * s->dim, &s->x));
  for (int64_t i = 0; i < s->n; i++)
    for (int d = 0; d < 16; d++) {
      double v = 1e6;
      for (int j = 0; j < 4; j++) v += Q[d * 4 + j] * (hash01(9, i * 4 + j) - 0.5) * 10.0;
      s->x[i * 16 + d] = v;
    }
  if (dup)
    for (int64_t i = 0; i < 40; i++) memcpy(s->x + (i * 17 + 3) * 16, s->x + (i * 5 + 400) * 16, sizeof(double) * 16);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* 300 integer points t = 0..299 (scrambled) on the line t (1, -2, 0, 3, 1, 1, -1, 2) in 8-D. */
static PetscErrorCode set_line(set_t *s)
{
  const double v[8] = {1, -2, 0, 3, 1, 1, -1, 2};

  PetscFunctionBeginUser;
  *s = (set_t){"line in 8-D", 300, 8, 1, NULL, NULL, NULL};
  PetscCall(PetscMalloc1(s->n * s->dim, &s->x));
  for (int64_t i = 0; i < s->n; i++)
    for (int d = 0; d < 8; d++) s->x[i * 8 + d] = (double)((i * 7) % 300) * v[d];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Entries of (ind, dist) (nr x (K+1), from row r0 on) that differ from the oracle's. */
static int64_t count_diff(const set_t *s, int64_t r0, int64_t nr, const int64_t *ind, const double *dist)
{
  int64_t bad = 0;
  int     nc  = K + 1;

  for (int64_t e = 0; e < nr * nc; e++) bad += ind[e] != s->ri[r0 * nc + e] || dist[e] != s->rd[r0 * nc + e];
  return bad;
}

/* One tree over the whole set, queried by every row in tree order (as the ring does). */
static PetscErrorCode tree_level(const set_t *s, int leaf, PetscBool rotate)
{
  knn_block_t b = {0, s->n, s->dim, s->x, NULL};
  knn_tree_t *t;
  knn_lists_t L;
  knn_buf_t   B;
  int64_t    *ind, cnt = 0, bad;
  double     *dist;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(s->n * (K + 1), &ind, s->n * (K + 1), &dist));
  PetscCall(knn_lists_init(&L, s->n, 0, K, ind, dist));
  PetscCall(knn_buf_create(leaf, KNN_TREE_BUF, K, &B));
  PetscCall(knn_tree_create_frame(&b, leaf, rotate, &t));
  PM_TEST(knn_tree_frame_dims(t) == (rotate ? s->m : 0), "%s: frame of %d axes, expected %d", s->name, knn_tree_frame_dims(t), rotate ? s->m : 0);
  PetscCall(knn_tree_query(t, &b, knn_tree_order(t), s->n, &L, &B, &cnt));
  PetscCall(knn_lists_finish(&L));
  bad = count_diff(s, 0, s->n, ind, dist);
  PM_TEST(bad == 0, "%s: tree (leaf %d, %s) differs from the oracle in %" PRId64 " entries", s->name, leaf, rotate ? "rotated" : "input frame", bad);
  PM_TEST(cnt < s->n * s->n, "%s: the tree pruned nothing (%" PRId64 " distances)", s->name, cnt);
  PetscCall(knn_tree_destroy(&t));
  PetscCall(knn_buf_destroy(&B));
  PetscCall(knn_lists_free(&L));
  PetscCall(PetscFree2(ind, dist));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* pm_knn_build, tree method, block rows of the set on the ranks of comm. */
static PetscErrorCode full_build(MPI_Comm comm, const set_t *s)
{
  pm_rows_t  *X;
  pm_knn_t   *knn;
  pm_graph_t *g;
  int64_t     bad;

  PetscFunctionBeginUser;
  PetscCall(pm_rows_create(comm, s->n, s->dim, &X));
  memcpy(X->x, s->x + X->row_start * s->dim, sizeof(double) * (size_t)(X->n_local * s->dim));
  PetscCall(pm_knn_create(comm, &knn));
  PetscCall(pm_knn_set_from_options(knn)); /* -knn_simd of the list entries */
  PetscCall(pm_knn_set_k(knn, K));
  PetscCall(pm_knn_set_method(knn, PM_KNN_TREE));
  PetscCall(pm_knn_set_duplicates(knn, PM_DUP_KEEP));
  PetscCall(pm_knn_build(knn, &X, &g));
  bad = count_diff(s, g->row_start, g->n_local, g->ind, g->dist);
  PM_TEST(bad == 0, "%s: pm_knn_build (tree) differs from the oracle in %" PRId64 " entries", s->name, bad);
  PetscCall(pm_graph_destroy(&g));
  PetscCall(pm_knn_destroy(&knn));
  PetscCall(pm_rows_destroy(&X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Two clusters on the plane of u = (1, ..., 1) / sqrt 8 and v = (1, -1, 1, ...) / sqrt 8: a = +-3 +
 * 0.5 g (the gap), b uniform in [-4, 4]. Every coordinate is (a +- b) / sqrt 8. */
static PetscErrorCode set_clusters(set_t *s, int64_t n)
{
  PetscFunctionBeginUser;
  *s = (set_t){"two clusters on a diagonal plane in 8-D", n, 8, 2, NULL, NULL, NULL};
  PetscCall(PetscMalloc1(s->n * s->dim, &s->x));
  for (int64_t i = 0; i < s->n; i++) {
    double g = PetscSqrtReal(-2.0 * PetscLogReal(1.0 - hash01(11, i))) * PetscCosReal(2.0 * PETSC_PI * hash01(12, i));
    double a = (i % 2 ? 3.0 : -3.0) + 0.5 * g, b = 8.0 * hash01(13, i) - 4.0;
    for (int d = 0; d < 8; d++) s->x[8 * i + d] = (a + (d % 2 ? -b : b)) / PetscSqrtReal(8.0);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Points whose oracle neighbours (K) are not all in their own part; part[i] of every point. */
static int64_t straddling(const set_t *s, const int *part)
{
  int64_t c = 0;
  for (int64_t i = 0; i < s->n; i++) {
    PetscBool out = PETSC_FALSE;
    for (int j = 1; j <= K; j++) out = out || part[s->ri[i * (K + 1) + j]] != part[i];
    c += out;
  }
  return c;
}

/* The cell layout of the clusters set on the ranks of comm (with the oracle graph in s, when there
 * is one, the points with neighbours across the cells). */
static PetscErrorCode cell_cuts(MPI_Comm comm, const set_t *s)
{
  pm_rows_t  *X;
  pm_knn_t   *knn;
  knn_cell_t  cell;
  int         size, rank, *part, *mine;
  int64_t     cut_n, wide_n;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (size < 2) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pm_rows_create(comm, s->n, s->dim, &X));
  memcpy(X->x, s->x + X->row_start * s->dim, sizeof(double) * (size_t)(X->n_local * s->dim));
  PetscCall(pm_knn_create(comm, &knn));
  {
    knn_block_t b = {X->row_start, X->n_local, X->dim, X->x, NULL};
    PetscCall(knn_cell_create(knn, &b, s->n, K, NULL, &cell));
  }
  PM_TEST(cell.cut_dir >= s->dim, "%s: the first cut is along input coordinate %d, not a principal axis", s->name, cell.cut_dir);
  { /* the cuts sit at exact quantiles of all rows: each cell holds the share of the rows the cuts
       meant for it (N / P, or moved by the probe's costs), up to one row per level of cuts */
    pm_gidx_t nsum;
    double    ssum, dev = PetscAbsReal((double)cell.n - cell.share * (double)s->n), devmax;
    PetscCallMPI(MPI_Allreduce(&cell.n, &nsum, 1, MPI_INT64_T, MPI_SUM, comm));
    PetscCallMPI(MPI_Allreduce(&cell.share, &ssum, 1, MPI_DOUBLE, MPI_SUM, comm));
    PetscCallMPI(MPI_Allreduce(&dev, &devmax, 1, MPI_DOUBLE, MPI_MAX, comm));
    PM_TEST(nsum == s->n && PetscAbsReal(ssum - 1.0) < 1e-12, "%s: the cells hold %" PRId64 " of %" PRId64 " rows, their shares add up to %g", s->name, nsum, s->n, ssum);
    PM_TEST(devmax <= 2.0 + size / 2, "%s: a cell is %g rows off the share of the rows the cuts meant for it", s->name, devmax);
    PM_TEST(cell.share >= 0.5 / size && cell.share <= 1.5 / size, "%s: a cell meant for a share %g of the rows, not about 1 / %d", s->name, cell.share, size);
  }
  if (s->ri) { /* with the oracle: the points whose neighbours lie in other cells */
    PetscCall(PetscCalloc2(s->n, &part, s->n, &mine));
    for (pm_gidx_t r = 0; r < cell.n; r++) mine[cell.gidx[r]] = 1 + rank;
    PetscCallMPI(MPI_Allreduce(mine, part, (int)s->n, MPI_INT, MPI_SUM, comm));
    cut_n = straddling(s, part);
    { /* the old rule: the median of the widest coordinate (all coordinates are equally wide here: 0) */
      double *v;
      PetscCall(PetscMalloc1(s->n, &v));
      for (int64_t i = 0; i < s->n; i++) v[i] = s->x[8 * i];
      PetscCall(PetscSortReal((PetscInt)s->n, v));
      for (int64_t i = 0; i < s->n; i++) part[i] = s->x[8 * i] < v[s->n / 2];
      PetscCall(PetscFree(v));
    }
    wide_n = straddling(s, part);
    if (size == 2) PM_TEST(4 * cut_n < wide_n, "%s: %" PRId64 " points have neighbours across the cut, against %" PRId64 " for the median of a coordinate", s->name, cut_n, wide_n);
    PetscCall(PetscInfo(NULL, "%s: %" PRId64 " points straddle the cells, %" PRId64 " a coordinate median\n", s->name, cut_n, wide_n));
    PetscCall(PetscFree2(part, mine));
  }
  PetscCall(knn_cell_destroy(&cell));
  PetscCall(pm_knn_destroy(&knn));
  PetscCall(pm_rows_destroy(&X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  int   err;
  set_t s[4];

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(set_lattice(&s[0]));
  PetscCall(set_subspace(&s[1], PETSC_FALSE));
  PetscCall(set_subspace(&s[2], PETSC_TRUE));
  PetscCall(set_line(&s[3]));
  for (int i = 0; i < 4; i++) {
    PetscCall(PetscMalloc2(s[i].n * (K + 1), &s[i].ri, s[i].n * (K + 1), &s[i].rd));
    PetscCall(knn_ref_graph(s[i].n, s[i].dim, s[i].x, K, s[i].ri, s[i].rd));
    for (int r = 0; r < 2; r++) {
      PetscCall(tree_level(&s[i], 5, r ? PETSC_TRUE : PETSC_FALSE));
      PetscCall(tree_level(&s[i], PM_KNN_LEAF_DEFAULT, r ? PETSC_TRUE : PETSC_FALSE));
    }
    PetscCall(full_build(PETSC_COMM_WORLD, &s[i]));
    PetscCall(PetscFree2(s[i].ri, s[i].rd));
    PetscCall(PetscFree(s[i].x));
  }
  {
    set_t c;
    PetscCall(set_clusters(&c, 40000)); /* more rows than the cut sample (16384): cell sizes only */
    PetscCall(cell_cuts(PETSC_COMM_WORLD, &c));
    PetscCall(PetscFree(c.x));
    PetscCall(set_clusters(&c, 2000));
    PetscCall(PetscMalloc2(c.n * (K + 1), &c.ri, c.n * (K + 1), &c.rd));
    PetscCall(knn_ref_graph(c.n, c.dim, c.x, K, c.ri, c.rd));
    PetscCall(cell_cuts(PETSC_COMM_WORLD, &c));
    PetscCall(full_build(PETSC_COMM_WORLD, &c));
    PetscCall(PetscFree2(c.ri, c.rd));
    PetscCall(PetscFree(c.x));
  }
  err = pm_test_finish_mpi(PETSC_COMM_WORLD);
  PetscCall(PetscFinalize());
  return err;
}
