/* kNN builder: options, k rules, method choice, then the ring search and the duplicates policy. */
#include "graph/graph_impl.h"
#include <cblas.h>

PetscErrorCode pm_knn_create(MPI_Comm comm, pm_knn_t **knn)
{
  pm_knn_t *n;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&n));
  PetscCallMPI(MPI_Comm_dup(comm, &n->comm));
  n->k      = PM_KNN_K_DEFAULT;
  n->method = PM_KNN_AUTO;
  n->dup    = PM_DUP_ERROR;
  n->tile   = PM_KNN_TILE_DEFAULT;
  n->leaf   = PM_KNN_LEAF_DEFAULT;
  n->prebound = PETSC_TRUE;
  n->filter32 = PETSC_TRUE;
  n->symmetric = PETSC_TRUE;
  n->half_min_rows = PM_KNN_HALF_MIN_ROWS;
  PetscCall(PetscLogEventRegister("PmKnnBuild", PETSC_OBJECT_CLASSID, &n->ev_build));
  PetscCall(PetscLogEventRegister("PmKnnRing", PETSC_OBJECT_CLASSID, &n->ev_ring));
  PetscCall(PetscLogEventRegister("PmKnnTile", PETSC_OBJECT_CLASSID, &n->ev_tile));
  PetscCall(PetscLogEventRegister("PmKnnTree", PETSC_OBJECT_CLASSID, &n->ev_tree));
  PetscCall(PetscLogEventRegister("PmKnnProbe", PETSC_OBJECT_CLASSID, &n->ev_probe));
  PetscCall(PetscLogEventRegister("PmKnnFinish", PETSC_OBJECT_CLASSID, &n->ev_final));
  PetscCall(PetscLogEventRegister("PmKnnCells", PETSC_OBJECT_CLASSID, &n->ev_cells));
  PetscCall(PetscLogEventRegister("PmKnnReturn", PETSC_OBJECT_CLASSID, &n->ev_return));
  PetscCall(PetscLogEventRegister("PmKnnPrebound", PETSC_OBJECT_CLASSID, &n->ev_prebound));
  *knn = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_knn_destroy(pm_knn_t **knn)
{
  PetscFunctionBeginUser;
  if (!*knn) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_free(&(*knn)->comm));
  PetscCall(PetscFree(*knn));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_knn_set_k(pm_knn_t *knn, int k)
{
  PetscFunctionBeginUser;
  PetscCheck(k >= 2, knn->comm, PETSC_ERR_USER_INPUT, "-knn_k %d: at least 2 neighbours are needed (the intrinsic dimension uses the first two); use -knn_k 2 or more", k);
  knn->k          = k;
  knn->k_explicit = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_knn_set_method(pm_knn_t *knn, pm_knn_method_t method)
{
  PetscFunctionBeginUser;
  knn->method = method;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_knn_set_duplicates(pm_knn_t *knn, pm_dup_mode_t mode)
{
  PetscFunctionBeginUser;
  knn->dup = mode;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Widest vector instructions the kNN kernels may use: 3 AVX-512, 2 AVX2, 1 SSE2; what the
 * processor has, capped by -knn_simd (so the narrower code paths can be tested on any machine). */
static int knn_simd_cap = 3;

int knn_simd(void)
{
  int hw = __builtin_cpu_supports("avx512f") ? 3 : __builtin_cpu_supports("avx2") ? 2 : 1;
  return hw < knn_simd_cap ? hw : knn_simd_cap;
}

PetscErrorCode pm_knn_set_from_options(pm_knn_t *knn)
{
  static const char *const simd_names[] = {"auto", "avx512", "avx2", "sse2"};
  static const char *const filter_names[] = {"single", "double"};
  PetscInt                 simd         = 0, filter = knn->filter32 ? 0 : 1;
  PetscInt  k = knn->k, tile = knn->tile, leaf = knn->leaf, prank = knn->prebound_rank, half_min = (PetscInt)PetscMin(knn->half_min_rows, (pm_gidx_t)PETSC_MAX_INT);
  PetscBool kset;

  PetscFunctionBeginUser;
  PetscOptionsBegin(knn->comm, NULL, "k-nearest-neighbour graph (stage knn)", NULL);
  PetscCall(PetscOptionsInt("-knn_k", "neighbours per point (default 100, clipped to N-1 only when not given)", "pm_knn_set_k", k, &k, &kset));
  PetscCall(PetscOptionsEnum("-knn_method", "exact search: auto (probe decides), brute (dgemm tiles) or tree (kd-tree per block)", "pm_knn_set_method", pm_knn_method_names, (PetscEnum)knn->method, (PetscEnum *)&knn->method, NULL));
  PetscCall(PetscOptionsInt("-knn_tile", "rows and columns of one brute-force distance tile (a multiple of 16 (AVX-512) or 8 (AVX2) runs the fused kernels)", "", tile, &tile, NULL));
  PetscCall(PetscOptionsInt("-knn_leaf", "points per kd-tree leaf (tree method)", "", leaf, &leaf, NULL));
  PetscCall(PetscOptionsBool("-knn_prebound", "brute force: start each row's bound at a sampled estimate of its k-th distance (rows it cuts short are searched again; results never change)", "", knn->prebound, &knn->prebound, NULL));
  PetscCall(PetscOptionsInt("-knn_prebound_rank", "the sample rank j of those estimates, 1..128 (0: from k, N and the sample size; a small j tests the re-search)", "", prank, &prank, NULL));
  PetscCall(PetscOptionsBool("-knn_symmetric", "brute force: search the own row block once for both sides of each pair, and on P > 1 ranks each pair of blocks by one of its ranks (about half the products; results never change)", "", knn->symmetric, &knn->symmetric, NULL));
  PetscCall(PetscOptionsInt("-knn_symmetric_min_rows", "brute force on P > 1 ranks: pairs of blocks once only for blocks of at least this many rows (smaller ones lose to the candidates' return)", "", half_min, &half_min, NULL));
  PetscCall(PetscOptionsEList("-knn_filter", "precision of brute force's filter products: single (twice the rate on AVX-512 and AVX2 + FMA, with a proven margin) or double; the neighbours are measured in double either way", "", filter_names, 2, filter_names[filter], &filter, NULL));
  PetscCall(PetscOptionsEList("-knn_simd", "widest vector instructions of the kNN kernels (auto: what the processor has)", "", simd_names, 4, simd_names[simd], &simd, NULL));
  PetscCall(PetscOptionsEnum("-duplicates", "identical points: error (default), keep, or drop later copies", "pm_knn_set_duplicates", pm_dup_mode_names, (PetscEnum)knn->dup, (PetscEnum *)&knn->dup, NULL));
  PetscOptionsEnd();
  /* checked after the options block, so that an error leaves nothing half-open */
  if (kset) PetscCall(pm_knn_set_k(knn, (int)k));
  PetscCheck(tile >= 8 && tile <= 2048, knn->comm, PETSC_ERR_USER_INPUT, "-knn_tile %d is outside [8, 2048]; the default %d suits most caches", (int)tile, PM_KNN_TILE_DEFAULT);
  PetscCheck(leaf >= 2 && leaf <= 4096, knn->comm, PETSC_ERR_USER_INPUT, "-knn_leaf %d is outside [2, 4096]; the default is %d", (int)leaf, PM_KNN_LEAF_DEFAULT);
  PetscCheck(prank >= 0 && prank <= 128, knn->comm, PETSC_ERR_USER_INPUT, "-knn_prebound_rank %d is outside [0, 128]; 0 (the default) chooses it", (int)prank);
  PetscCheck(half_min >= 0, knn->comm, PETSC_ERR_USER_INPUT, "-knn_symmetric_min_rows %d is negative; the default is %d", (int)half_min, PM_KNN_HALF_MIN_ROWS);
  knn->half_min_rows = half_min;
  knn->prebound_rank = (int)prank;
  knn->filter32      = filter == 0 ? PETSC_TRUE : PETSC_FALSE;
  knn->tile    = (int)tile;
  knn->leaf    = (int)leaf;
  knn_simd_cap = simd == 0 ? 3 : 4 - (int)simd;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The k to use for N points: the default is clipped with a warning, an explicit k must be < N. */
static PetscErrorCode resolve_k(pm_knn_t *knn, pm_gidx_t N, int *k)
{
  PetscFunctionBeginUser;
  PetscCheck(N >= 3, knn->comm, PETSC_ERR_USER_INPUT, "kNN graph: only %" PRId64 " points; at least 3 are needed", N);
  *k = knn->k;
  if (knn->k_explicit) {
    PetscCheck((pm_gidx_t)knn->k < N, knn->comm, PETSC_ERR_USER_INPUT, "-knn_k %d must be below the number of points, %" PRId64 "; lower -knn_k", knn->k, N);
  } else if ((pm_gidx_t)knn->k > N - 1) {
    *k = (int)(N - 1);
    PetscCall(PetscPrintf(knn->comm, "phasemap: warning: only %" PRId64 " points: -knn_k lowered from its default %d to %d\n", N, knn->k, *k));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The lists of n rows (ncol columns), written whole. The tree's queries run in tree order, so
 * they fill list rows scattered over the whole graph: on 2 MiB pages that costs fewer TLB misses
 * and page faults (lowdim, 1 rank: 20k 0.279 -> 0.257 s, 100k 2.11 -> 2.02 s; the cells of 2
 * ranks: 20k 0.168 -> 0.158 s), and so are the output rows the cells' return fills (lowdim 20k,
 * 2 ranks, 10 alternating runs: finish and return 0.0206 -> 0.0170 s, min; 100k unchanged); all
 * of them, first and last 2 MiB too (pm_malloc_placed: lowdim 20k, 1 rank 1440 -> 20 faults in
 * the search, 2 ranks 1260 -> 60 in the return). */
static PetscErrorCode alloc_lists(pm_gidx_t n, int ncol, pm_gidx_t **ind, double **dist)
{
  PetscFunctionBeginUser;
  PetscCall(pm_malloc_placed(sizeof(pm_gidx_t) * (size_t)(n * ncol + 1), (void **)ind));
  PetscCall(pm_malloc_placed(sizeof(double) * (size_t)(n * ncol + 1), (void **)dist));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Tree method on several ranks: search in the spatial cell layout (cut on the probe's sample s
 * when it has the size the cuts need; freed here), then return the rows. */
static PetscErrorCode search_cells(pm_knn_t *knn, const knn_block_t *mine, pm_gidx_t n_global, knn_sample_t *s, pm_graph_t *g)
{
  knn_cell_t  cell;
  knn_lists_t h;
  pm_gidx_t  *ind;
  double     *dist;
  knn_block_t cb;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(knn->ev_cells, 0, 0, 0, 0));
  PetscCall(knn_cell_create(knn, mine, n_global, g->k, s, &cell));
  PetscCall(knn_sample_free(s)); /* used up by the cuts */
  PetscCall(PetscLogEventEnd(knn->ev_cells, 0, 0, 0, 0));
  cb = (knn_block_t){0, cell.n, mine->dim, cell.x, cell.gidx};
  /* the cell graph apart from the output: writing own rows in place would touch every page of the
     output during the search (they are scattered there) and raise the peak by half a graph */
  PetscCall(alloc_lists(cell.n, g->ncol, &ind, &dist));
  PetscCall(knn_lists_init(&h, cell.n, 0, g->k, ind, dist));
  h.self = cell.gidx;
  PetscCall(knn_ring_search(knn, &cb, PM_KNN_TREE, &h));
  PetscCall(PetscLogEventBegin(knn->ev_final, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(knn->ev_return, 0, 0, 0, 0));
  PetscCall(knn_cell_return(knn, &cell, &h, mine, g->ind, g->dist)); /* sorts the rows as it sends them; frees ind, dist */
  PetscCall(PetscLogEventEnd(knn->ev_return, 0, 0, 0, 0));
  PetscCall(PetscLogEventEnd(knn->ev_final, 0, 0, 0, 0));
  PetscCall(knn_lists_free(&h));
  PetscCall(knn_cell_destroy(&cell));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Exact graph of X (no duplicates policy). Brute force reorders the rows of X in place for the
 * search and restores them. */
static PetscErrorCode build_graph(pm_knn_t *knn, pm_rows_t *X, int k, pm_graph_t **graph)
{
  pm_graph_t     *g;
  knn_lists_t     h;
  pm_knn_method_t method;
  knn_block_t     mine   = {X->row_start, X->n_local, X->dim, X->x, NULL};
  knn_sample_t    sample = KNN_SAMPLE_NONE;
  int             size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(knn->comm, &size));
  knn->n_researched = 0;
  PetscCall(knn_choose_method(knn, &mine, X->n_global, k, &method, &sample));
  if (method != PM_KNN_TREE || size == 1) PetscCall(knn_sample_free(&sample)); /* only the cell cuts reuse it (search_cells frees it) */
  PetscCall(PetscNew(&g));
  g->comm      = X->comm;
  g->n_global  = X->n_global;
  g->n_input   = X->n_global;
  g->row_start = X->row_start;
  g->n_local   = X->n_local;
  g->k         = k;
  g->ncol      = k + 1;
  g->method    = method;
  PetscCall(alloc_lists(X->n_local, g->ncol, &g->ind, &g->dist));
  if (method == PM_KNN_TREE && size > 1) {
    PetscCall(search_cells(knn, &mine, X->n_global, &sample, g));
  } else if (method == PM_KNN_BRUTE) { /* in kd order (knn_order.c), then back to the input order */
    knn_block_t kd = mine;
    pm_gidx_t  *gp;
    /* the rows are reordered in place and restored after the ring: no second copy of the block */
    PetscCall(knn_kd_order(&mine, knn->tile, &gp));
    PetscCall(knn_rows_permute(X->x, X->dim, X->n_local, gp, X->row_start, PETSC_FALSE));
    kd.gidx = gp;
    PetscCall(knn_lists_init(&h, X->n_local, X->row_start, k, g->ind, g->dist));
    h.self = gp;
    PetscCall(knn_ring_search(knn, &kd, method, &h));
    PetscCall(knn_rows_permute(X->x, X->dim, X->n_local, gp, X->row_start, PETSC_TRUE));
    PetscCall(PetscLogEventBegin(knn->ev_final, 0, 0, 0, 0));
    PetscCall(knn_lists_finish(&h));
    PetscCall(knn_rows_unpermute(g->ind, g->dist, g->ncol, X->n_local, gp, X->row_start));
    PetscCall(PetscLogEventEnd(knn->ev_final, 0, 0, 0, 0));
    PetscCall(knn_lists_free(&h));
    PetscCall(PetscFree(gp));
  } else { /* the tree on one rank */
    PetscCall(knn_lists_init(&h, X->n_local, X->row_start, k, g->ind, g->dist));
    PetscCall(knn_ring_search(knn, &mine, method, &h));
    PetscCall(PetscLogEventBegin(knn->ev_final, 0, 0, 0, 0));
    PetscCall(knn_lists_finish(&h));
    PetscCall(PetscLogEventEnd(knn->ev_final, 0, 0, 0, 0));
    PetscCall(knn_lists_free(&h));
  }
  PetscCall(knn_duplicates_count(knn, g, &g->n_duplicates));
  g->n_researched = knn->n_researched;
  *graph = g;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_knn_build(pm_knn_t *knn, pm_rows_t **X, pm_graph_t **graph)
{
  pm_graph_t *g = NULL;
  int         k;

  PetscFunctionBeginUser;
  *graph = NULL;
  PetscCheck((*X)->dim >= 1, knn->comm, PETSC_ERR_USER_INPUT, "kNN graph: the input has no columns");
  openblas_set_num_threads(1); /* one BLAS thread per rank: the ranks already use every core */
  PetscCall(resolve_k(knn, (*X)->n_global, &k));
  PetscCall(PetscLogEventBegin(knn->ev_build, 0, 0, 0, 0));
  PetscCall(build_graph(knn, *X, k, &g));
  if (g->n_duplicates > 0 && knn->dup == PM_DUP_DROP) {
    pm_gidx_t *kept = NULL, n_input = g->n_global, ndup = g->n_duplicates;
    PetscCall(knn_duplicates_drop(knn, g, X, &kept));
    PetscCall(pm_graph_destroy(&g));
    PetscCall(PetscPrintf(knn->comm, "phasemap: warning: -duplicates drop: %" PRId64 " repeated rows removed, %" PRId64 " points remain; graph indices refer to the remaining rows (/graph/kept_rows)\n", n_input - (*X)->n_global, (*X)->n_global));
    PetscCall(resolve_k(knn, (*X)->n_global, &k));
    PetscCall(build_graph(knn, *X, k, &g));
    PM_ASSERT(g->n_duplicates == 0);
    g->kept_rows    = kept;
    g->n_input      = n_input;
    g->n_duplicates = ndup;
  } else if (g->n_duplicates > 0 && knn->dup == PM_DUP_ERROR) {
    PetscErrorCode ierr               = PETSC_SUCCESS;
    char           msg[PM_REASON_MAX] = "";
    PetscBool      ok                 = PETSC_TRUE;
    for (pm_gidx_t i = 0; i < g->n_local && ok; i++)
      if (g->dist[i * g->ncol + 1] == 0.0) {
        ok = PETSC_FALSE;
        PetscCall(PetscSNPrintf(msg, sizeof msg, "%" PRId64 " points have an exact duplicate (first: rows %" PRId64 " and %" PRId64 " are identical, 0-based); use -duplicates drop to remove the later copies or -duplicates keep to keep them", g->n_duplicates, g->row_start + i, g->ind[i * g->ncol + 1]));
      }
    ierr = pm_agree(knn->comm, ok, msg);
    if (ierr) {
      PetscCall(pm_graph_destroy(&g));
      PetscCall(PetscLogEventEnd(knn->ev_build, 0, 0, 0, 0));
    }
    PetscCall(ierr);
  } else if (g->n_duplicates > 0) {
    PetscCall(PetscPrintf(knn->comm, "phasemap: warning: %" PRId64 " points have an exact duplicate (kept: -duplicates keep)\n", g->n_duplicates));
  }
  PetscCall(PetscLogEventEnd(knn->ev_build, 0, 0, 0, 0));
  *graph = g;
  PetscFunctionReturn(PETSC_SUCCESS);
}
