/* Ring exchange: at step s every rank holds the row block of rank (rank + s) % P (brute force: in
 * that rank's kd order, with the rows' global indices), or
 * that rank's packed kd-tree (tree method), searches it for its own rows, and meanwhile receives
 * the next one from its right neighbour and passes the current one to its left neighbour
 * (MPI_Isend/Irecv posted before the compute, tested between chunks so the transfer progresses
 * during the compute). Memory: two blocks of ceil(N/P) rows, or two packed trees. */
#include "graph/graph_impl.h"

#define RING_CHUNK_ROWS 4096 /* queries (tree) between MPI_Testall */
#define SYM_MAX_SKIP    0.25 /* the own block is searched symmetrically after the first group if that skipped at most this share of its tile pairs */

typedef struct {
  pm_knn_t          *knn;
  const knn_block_t *mine;                     /* the query rows */
  const knn_block_t *own;                      /* the block this rank sends around (brute: = mine but on a re-search) */
  knn_lists_t       *h;
  double            *pre;                      /* brute: the provisional bounds of the rows (knn_prebound.c) */
  knn_buf_t          buf;
  double            *mu, *qc, *qn, *work, *ba; /* brute */
  float             *qf, *bf;                  /* brute: their float copies for the single-precision filter (NULL: off) */
  double            *tmax, s;                  /* brute: the block tiles' largest |y - mu|^2; the float scale */
  double            *cent, *tbox, *gbox;       /* brute: centroids and boxes of the block's tiles, the group's box */
  double            *qbox;                     /* brute: the boxes of the query row tiles */
  PetscBool          sym_on;                   /* brute: the own block went symmetric (knn_rows.c) */
  double            *qb, *bqa, *bqn;           /* half ring: the own rows packed as block rows; a block's rows as queries, their norms */
  float             *qbf, *bqf;                /* half ring: their float copies */
  double            *qtmax;                    /* half ring: the own tiles' largest |x - mu|^2 */
  int64_t            tskip, ttot, tpairs;      /* brute: tiles skipped for whole groups, tiles in all, row tile pairs skipped */
  int               *tiles;                    /* brute: the tile order of one row group */
  void              *tscratch;
  pm_gidx_t         *order;                    /* tree: query order (own tree order) */
  double             bmax;                     /* tree: largest bound of the local rows (< 0: stale) */
  pm_progress_t     *prog;
  int64_t            done, evals;
} ring_ctx_t;

/* The query rows augmented, centred and packed per tile, [x - mu, 1], and |x - mu|^2 (knn_tile.c). */
static PetscErrorCode pack_queries(ring_ctx_t *c)
{
  const knn_block_t *q = c->mine;

  PetscFunctionBeginUser;
  PetscCall(PetscFree(c->qc));
  PetscCall(PetscFree(c->qn));
  PetscCall(PetscMalloc1(knn_brute_pack_size(q->n, q->dim, c->knn->tile), &c->qc));
  PetscCall(PetscMalloc1(q->n + 1, &c->qn));
  knn_brute_pack_queries(q, c->mu, c->knn->tile, c->qc, c->qn);
  PetscCall(PetscFree(c->qbox));
  PetscCall(PetscMalloc1(2 * q->dim * ((q->n + c->knn->tile - 1) / c->knn->tile) + 1, &c->qbox));
  for (pm_gidx_t r0 = 0; r0 < q->n; r0 += c->knn->tile) knn_rows_box(q->x + r0 * q->dim, PetscMin(q->n - r0, (pm_gidx_t)c->knn->tile), q->dim, c->qbox + 2 * q->dim * (r0 / c->knn->tile));
  if (c->bf) {
    PetscCall(PetscFree(c->qf));
    PetscCall(PetscMalloc1(knn_f32_pack_size(q->n, q->dim, c->knn->tile), &c->qf));
    knn_f32_pack(c->qc, q->n, q->dim, c->knn->tile, c->s, 1.0, c->qf, NULL);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode brute_setup(ring_ctx_t *c, pm_gidx_t nmax)
{
  const knn_block_t *q = c->own;
  int                D = q->dim;
  double            *loc;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(D, &loc));
  PetscCall(PetscMalloc1(D, &c->mu));
  for (pm_gidx_t i = 0; i < q->n; i++)
    for (int d = 0; d < D; d++) loc[d] += q->x[i * D + d];
  /* The centre only conditions the dgemm pre-selection; results never depend on its bits. */
  PetscCallMPI(MPI_Allreduce(loc, c->mu, D, MPI_DOUBLE, MPI_SUM, c->knn->comm));
  {
    pm_gidx_t n = 0, nl = q->n;
    PetscCallMPI(MPI_Allreduce(&nl, &n, 1, MPI_INT64_T, MPI_SUM, c->knn->comm));
    for (int d = 0; d < D; d++) c->mu[d] /= (double)(n > 0 ? n : 1);
  }
  { /* the float scale (the provisional bounds' products, and the float filter) */
    double mx = 0.0, gmx = 0.0;
    for (pm_gidx_t i = 0; i < q->n; i++)
      for (int d = 0; d < D; d++) mx = PetscMax(mx, PetscAbsReal(q->x[i * D + d] - c->mu[d]));
    PetscCallMPI(MPI_Allreduce(&mx, &gmx, 1, MPI_DOUBLE, MPI_MAX, c->knn->comm));
    c->s = knn_f32_scale(gmx);
  }
  if (c->knn->filter32 && knn_f32_usable(c->knn->tile)) { /* the float filter's block copy */
    PetscCall(PetscMalloc1(knn_f32_pack_size(nmax, D, c->knn->tile), &c->bf));
    PetscCall(PetscMalloc1((nmax + c->knn->tile - 1) / c->knn->tile + 1, &c->tmax));
  }
  PetscCall(PetscFree(loc));
  PetscCall(pack_queries(c));
  PetscCall(PetscMalloc1(knn_brute_work_size(c->knn), &c->work));
  PetscCall(PetscMalloc1(knn_brute_pack_size(nmax, D, c->knn->tile), &c->ba));
  {
    pm_gidx_t nt = (nmax + c->knn->tile - 1) / c->knn->tile;
    PetscCheck(nt <= INT32_MAX, c->knn->comm, PETSC_ERR_SUP, "kNN: %" PRId64 " tiles in one block; raise -knn_tile or use more ranks", nt);
    PetscCall(PetscMalloc3(nt * D + 1, &c->cent, 2 * nt * D + 1, &c->tbox, 2 * D, &c->gbox));
    PetscCall(PetscMalloc1(nt + 1, &c->tiles));
    PetscCall(PetscMalloc(knn_tile_order_scratch((int)nt, D) + 1, &c->tscratch));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_requests(int nreq, MPI_Request *req)
{
  int flag;

  PetscFunctionBeginUser;
  if (nreq) PetscCallMPI(MPI_Testall(nreq, req, &flag, MPI_STATUSES_IGNORE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Query every local row in tree t (of a block of bn points), chunk by chunk, progressing the
 * pending messages. */
static PetscErrorCode search_tree(ring_ctx_t *c, const knn_tree_t *t, pm_gidx_t bn, int nreq, MPI_Request *req)
{
  const knn_block_t *q = c->mine;

  PetscFunctionBeginUser;
  for (pm_gidx_t r0 = 0; r0 < q->n; r0 += RING_CHUNK_ROWS) {
    pm_gidx_t nq = q->n - r0 < RING_CHUNK_ROWS ? q->n - r0 : RING_CHUNK_ROWS;
    PetscCall(knn_tree_query(t, q, c->order + r0, nq, c->h, &c->buf, &c->evals));
    PetscCall(test_requests(nreq, req));
    c->done += nq * bn;
    PetscCall(pm_progress_step(c->prog, c->done));
  }
  c->bmax = -1.0; /* the bounds may have fallen */
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The tree of the own block; its order is a cache-friendly query order. */
static PetscErrorCode own_tree(ring_ctx_t *c, knn_tree_t **t)
{
  const knn_block_t *q = c->mine;

  PetscFunctionBeginUser;
  PetscCall(knn_tree_create(q, c->knn->leaf, t));
  PetscCall(PetscMalloc1(q->n + 1, &c->order));
  for (pm_gidx_t i = 0; i < q->n; i++) c->order[i] = knn_tree_order(*t)[i];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Search block b for the local rows [0, nrows) by brute force (sym: b is the own block, searched
 * symmetrically; rsm: b is another rank's, searched for both sides, knn_rows.c). */
static PetscErrorCode search_block(ring_ctx_t *c, const knn_block_t *b, PetscBool sym, const knn_sym_t *rsm, pm_gidx_t nrows, int nreq, MPI_Request *req)
{
  const knn_block_t *q = c->mine;
  int                G = knn_brute_group(c->knn);
  int                T = c->knn->tile, nt = (int)((b->n + T - 1) / T);
  knn_f32_t          f = {c->qf, c->bf, c->tmax, c->s * c->s, knn_f32_tau(q->dim)};
  knn_buf_t          bc     = {0};
  PetscBool          on     = PETSC_FALSE; /* symmetric: from the second group on, if the first lets it */
  pm_gidx_t          tone = 0, tfirst = 0;

  PetscFunctionBeginUser;
  knn_brute_augment(b, c->mu, T, c->ba);
  if (c->bf) knn_f32_pack(c->ba, b->n, q->dim, T, c->s, c->s * c->s, c->bf, c->tmax);
  knn_tile_centroids(b, T, c->cent, c->tbox);
  for (pm_gidx_t i0 = 0; i0 < nrows; i0 += G) { /* a group of rows against the whole block */
    int        ni   = (int)(nrows - i0 < G ? nrows - i0 : G);
    knn_plan_t plan = {c->tiles, c->tbox, c->gbox, c->qbox, 0, 0};
    knn_sym_t  own  = {&bc, on, tone, tfirst, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0};
    /* the rows are in kd order, so a group is compact: the tiles nearest it first */
    knn_tile_order(c->cent, nt, q->dim, q->x + i0 * q->dim, ni, c->tiles, c->tscratch, c->gbox);
    if (on) own.tfirst = tfirst = i0 / T;
    PetscCall(knn_brute_rows(c->knn, q, c->qc, c->qn, i0, ni, b, c->ba, c->bf ? &f : NULL, &plan, c->h, &c->buf, rsm ? rsm : on ? &own : NULL, c->work));
    /* the bounds of rows whose own group has not come are loose: where many tile pairs are out of
       reach (clustered data), the symmetric search skips fewer of them and the candidates cost
       more than its products save (perf 20k: 0.235 -> 0.245 s); so the first group searches
       one-sidedly, and the rest symmetrically only if it skipped at most SYM_MAX_SKIP of its pairs */
    if (sym && i0 == 0 && (double)(plan.skipped * ((ni + T - 1) / T) + plan.pairs) <= SYM_MAX_SKIP * (double)nt * ((ni + T - 1) / T) && i0 + ni < q->n) {
      on = PETSC_TRUE;
      tone = tfirst = (i0 + ni + T - 1) / T;
      PetscCall(knn_buf_create((int)q->n, KNN_SYM_CAP, c->h->k, &bc)); /* the columns' candidates: 1 KiB per row */
    }
    c->tskip += plan.skipped;
    c->tpairs += plan.pairs;
    c->ttot += nt;
    PetscCall(test_requests(nreq, req));
    c->done += ni * b->n;
    PetscCall(pm_progress_step(c->prog, c->done));
  }
  if (on) PetscCall(knn_buf_destroy(&bc));
  if (sym) c->sym_on = on;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ctx_free(ring_ctx_t *c)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(c->mu));
  PetscCall(PetscFree(c->qc));
  PetscCall(PetscFree(c->qn));
  PetscCall(PetscFree(c->work));
  PetscCall(PetscFree(c->ba));
  PetscCall(PetscFree3(c->cent, c->tbox, c->gbox));
  PetscCall(PetscFree(c->tiles));
  PetscCall(PetscFree(c->tscratch));
  PetscCall(PetscFree(c->order));
  PetscCall(PetscFree(c->pre));
  PetscCall(PetscFree(c->qbox));
  PetscCall(PetscFree(c->qf));
  PetscCall(PetscFree(c->bf));
  PetscCall(PetscFree(c->tmax));
  PetscCall(PetscFree(c->qb));
  PetscCall(PetscFree(c->bqa));
  PetscCall(PetscFree(c->bqn));
  PetscCall(PetscFree(c->qbf));
  PetscCall(PetscFree(c->bqf));
  PetscCall(PetscFree(c->qtmax));
  PetscCall(pm_progress_destroy(&c->prog));
  PetscCall(knn_buf_destroy(&c->buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Can a block with box `box` (lows then highs) hold a neighbour of any local row (their box qbox)?
 * (box-to-box distance against
 * the largest bound; only used with the spatial layout of the tree method, where most remote
 * cells are far away) */
static PetscBool box_needed(ring_ctx_t *c, pm_gidx_t bn, const double *box, const double *qbox)
{
  double s;

  if (bn == 0) return PETSC_FALSE;
  if (c->bmax < 0.0) { /* only a search changes the bounds: with many ranks most trees are skipped */
    c->bmax = 0.0;
    for (pm_gidx_t i = 0; i < c->mine->n; i++) c->bmax = c->h->bound2[i] > c->bmax ? c->h->bound2[i] : c->bmax;
  }
  s = knn_box_gap2(box, qbox, c->mine->dim);
  return s * (1.0 - 1e-12) <= c->bmax ? PETSC_TRUE : PETSC_FALSE;
}

/* The tree method on several ranks (spatial cells): each rank builds the tree of its own cell once
 * (in its packed layout, knn_tree.c) and the packed trees travel around the ring, so no rank
 * rebuilds another's tree. A remote tree is opened only when its points' box is within reach of
 * the local rows. */
static PetscErrorCode tree_ring(ring_ctx_t *c, int rank, int size)
{
  int          D = c->mine->dim;
  double      *box; /* the local rows' box: sent with the tree, and tested against the others' */
  knn_tree_t  *own;
  int          skipped = 0;
  size_t       bytes;
  uint64_t    *sizes, maxb = 0;
  const char  *pk;
  char        *buf[2] = {NULL, NULL};
  const char  *cur;
  MPI_Datatype unit;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(c->knn->ev_tree, 0, 0, 0, 0));
  PetscCall(own_tree(c, &own));
  if (size == 1) {
    PetscCall(search_tree(c, own, c->mine->n, 0, NULL));
    PetscCall(PetscInfo(NULL, "kNN tree: %" PRId64 " tree distance evaluations\n", c->evals));
    PetscCall(knn_tree_destroy(&own));
    PetscCall(PetscLogEventEnd(c->knn->ev_tree, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscMalloc1(2 * D, &box));
  knn_rows_box(c->mine->x, c->mine->n, D, box);
  c->bmax = -1.0;
  pk = knn_tree_packed(own, box, &bytes); /* sent as it is; freed with the tree once sent */
  PetscCall(PetscLogEventEnd(c->knn->ev_tree, 0, 0, 0, 0));
  PetscCall(PetscMalloc1(size, &sizes));
  {
    uint64_t b = bytes;
    PetscCallMPI(MPI_Allgather(&b, 1, MPI_UINT64_T, sizes, 1, MPI_UINT64_T, c->knn->comm));
  }
  for (int r = 0; r < size; r++) maxb = sizes[r] > maxb ? sizes[r] : maxb;
  PetscCheck(maxb / 64 <= INT32_MAX, c->knn->comm, PETSC_ERR_SUP, "kNN ring: a packed tree of %" PRIu64 " bytes exceeds the MPI count limit; use more ranks", maxb);
  PetscCallMPI(MPI_Type_contiguous(64, MPI_BYTE, &unit)); /* packed sizes are multiples of 64 */
  PetscCallMPI(MPI_Type_commit(&unit));
  cur = pk;
  for (int s = 0; s < size; s++) {
    int           src = (rank + s) % size, nreq = 0;
    MPI_Request   req[2];
    knn_tree_t   *t;
    const double *xbox;
    pm_gidx_t     bn;
    if (s + 1 < size) { /* next tree: the one the right neighbour holds now */
      int nxt = (rank + s + 1) % size, right = (rank + 1) % size, left = (rank + size - 1) % size;
      if (!buf[s % 2]) PetscCall(pm_malloc_placed(maxb, (void **)&buf[s % 2])); /* the second only once the own packed tree is freed */
      PetscCallMPI(MPI_Irecv(buf[s % 2], (int)(sizes[nxt] / 64), unit, right, s, c->knn->comm, &req[nreq++]));
      PetscCallMPI(MPI_Isend(cur, (int)(sizes[src] / 64), unit, left, s, c->knn->comm, &req[nreq++]));
    }
    PetscCall(PetscLogEventBegin(c->knn->ev_tree, 0, 0, 0, 0));
    PetscCall(knn_tree_view(cur, &t, &xbox, &bn));
    if (s == 0 || box_needed(c, bn, xbox, box))
      PetscCall(search_tree(c, t, bn, nreq, req));
    else {
      skipped++;
      c->done += c->mine->n * bn;
    }
    PetscCall(knn_tree_destroy(&t));
    PetscCall(PetscLogEventEnd(c->knn->ev_tree, 0, 0, 0, 0));
    if (nreq) PetscCallMPI(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
    if (s == 0) PetscCall(knn_tree_destroy(&own)); /* sent */
    cur = buf[s % 2];
  }
  PetscCall(PetscInfo(NULL, "kNN ring (tree): %" PRId64 " tree distance evaluations, %d of %d remote trees skipped on this rank\n", c->evals, skipped, size - 1));
  PetscCallMPI(MPI_Type_free(&unit));
  PetscCall(PetscFree(buf[0]));
  PetscCall(PetscFree(buf[1]));
  PetscCall(PetscFree(sizes));
  PetscCall(PetscFree(box));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The half ring's packings, made after step 0: the own rows as block rows (for the column side's
 * passes) are what search_block just packed for the own block, so those buffers are kept as they
 * are and the later steps' blocks get new ones; and room for a block's rows as queries. */
static PetscErrorCode half_setup(ring_ctx_t *c, pm_gidx_t nmax)
{
  int D = c->mine->dim, T = c->knn->tile;

  PetscFunctionBeginUser;
  c->qb    = c->ba;
  c->qbf   = c->bf;
  c->qtmax = c->tmax;
  PetscCall(PetscMalloc1(knn_brute_pack_size(nmax, D, T), &c->ba));
  PetscCall(PetscMalloc1(knn_brute_pack_size(nmax, D, T), &c->bqa));
  PetscCall(PetscMalloc1(nmax + 1, &c->bqn));
  if (c->qbf) {
    PetscCall(PetscMalloc1(knn_f32_pack_size(nmax, D, T), &c->bf));
    PetscCall(PetscMalloc1((nmax + T - 1) / T + 1, &c->tmax));
    PetscCall(PetscMalloc1(knn_f32_pack_size(nmax, D, T), &c->bqf));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Half ring: the candidates this rank found for block src's rows (R) go to their owner src, and
 * those rank from found for this rank's rows arrive (the same step: from holds this rank's block).
 * They are offered row by row through buffer row 0 (sorted by row first: one merge per row). */
static PetscErrorCode exchange_cols(ring_ctx_t *c, knn_cols_t *R, int src, int from)
{
  MPI_Comm   comm = c->knn->comm;
  int64_t    ns = (int64_t)R->n, nr = 0;
  int32_t   *row;
  double    *d2;
  pm_gidx_t *g, *cnt;
  int32_t   *ord; /* the received entries in row order (nr < 2^31, checked) */
  pm_gidx_t  n = c->mine->n;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Sendrecv(&ns, 1, MPI_INT64_T, src, 3, &nr, 1, MPI_INT64_T, from, 3, comm, MPI_STATUS_IGNORE));
  PetscCall(pm_agree(comm, ns <= INT32_MAX && nr <= INT32_MAX ? PETSC_TRUE : PETSC_FALSE, "kNN half ring: more than 2^31 candidates for one block's rows; use more ranks, or -knn_symmetric 0"));
  PetscCall(PetscMalloc3(nr + 1, &row, nr + 1, &d2, nr + 1, &g));
  PetscCallMPI(MPI_Sendrecv(R->row, (int)ns, MPI_INT32_T, src, 4, row, (int)nr, MPI_INT32_T, from, 4, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Sendrecv(R->d2, (int)ns, MPI_DOUBLE, src, 5, d2, (int)nr, MPI_DOUBLE, from, 5, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Sendrecv(R->g, (int)ns, MPI_INT64_T, src, 6, g, (int)nr, MPI_INT64_T, from, 6, comm, MPI_STATUS_IGNORE));
  R->n = 0;
  PetscCall(PetscInfo(NULL, "kNN half ring: %" PRId64 " candidates sent to rank %d, %" PRId64 " received from rank %d\n", ns, src, nr, from));
  PetscCall(PetscCalloc1(n + 1, &cnt));
  PetscCall(PetscMalloc1(nr + 1, &ord));
  for (int64_t e = 0; e < nr; e++) {
    PetscCheck(row[e] >= 0 && row[e] < n, PETSC_COMM_SELF, PETSC_ERR_PLIB, "kNN half ring: candidate for row %d of %" PRId64, (int)row[e], n);
    cnt[row[e] + 1]++;
  }
  for (pm_gidx_t i = 0; i < n; i++) cnt[i + 1] += cnt[i];
  for (int64_t e = 0; e < nr; e++) ord[cnt[row[e]]++] = (int32_t)e; /* cnt[i]: now the end of row i */
  for (pm_gidx_t i = 0, e = 0; i < n; i++) {
    for (; e < cnt[i]; e++) knn_offer(c->h, &c->buf, 0, i, d2[ord[e]], g[ord[e]]);
    knn_flush(c->h, &c->buf, 0, i);
  }
  PetscCall(PetscFree(cnt));
  PetscCall(PetscFree(ord));
  PetscCall(PetscFree3(row, d2, g));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Brute force: the row blocks travel around the ring (block of rank src: rows starts[src] ..).
 * sym: the own block symmetrically (knn_rows.c). half (with sym, P > 1, large blocks): once
 * every rank searched its own block
 * symmetrically (an Allreduce after step 0: where the first group skipped many tile pairs the
 * ring stays one-sided), each pair of blocks is searched once, for both sides, by one of its two
 * ranks, and the other side's candidates are sent back (exchange_cols). Rank r searches block
 * r + s for 2 s < P; for 2 s = P (P even) the lower rank of the pair its first half of rows
 * against the whole block, the higher all its rows against the lower's second half; steps with
 * 2 s > P are left to the other rank, so the ring stops after step P / 2. The block's rows travel
 * with the bounds their owner had after its own block (the column side's filter; bounds only
 * fall, so stale ones are safe). */
static PetscErrorCode block_ring(ring_ctx_t *c, int rank, int size, const pm_gidx_t *starts, pm_gidx_t nmax, PetscBool sym, PetscBool half)
{
  int              D = c->mine->dim, T = c->knn->tile, steps = size;
  double          *buf[2] = {NULL, NULL}, *bnd[2] = {NULL, NULL}, *mybnd = NULL;
  pm_gidx_t       *gbuf[2] = {NULL, NULL};
  const double    *cur = c->own->x, *curb = NULL;
  const pm_gidx_t *curg = c->own->gidx; /* the rows' global indices travel with them */
  MPI_Datatype     rowtype;
  MPI_Request      breq[2];
  int              nbreq = 0;
  knn_cols_t       R     = {0};

  PetscFunctionBeginUser;
  PM_ASSERT(curg); /* rows in kd order (knn.c) */
  if (size > 1) {
    PetscCall(PetscMalloc2(nmax * D + 1, &buf[0], nmax + 1, &gbuf[0]));
    PetscCall(PetscMalloc2(nmax * D + 1, &buf[1], nmax + 1, &gbuf[1]));
  }
  PetscCallMPI(MPI_Type_contiguous(D, MPI_DOUBLE, &rowtype));
  PetscCallMPI(MPI_Type_commit(&rowtype));
  for (int s = 0; s < steps; s++) {
    int         src = (rank + s) % size, nreq = 0, right = (rank + 1) % size, left = (rank + size - 1) % size;
    MPI_Request req[6];
    knn_block_t b = {starts[src], starts[src + 1] - starts[src], D, cur, curg};
    if (s + 1 < steps) { /* next block: the one the right neighbour holds now */
      int nxt = (rank + s + 1) % size;
      int nn  = (int)(starts[nxt + 1] - starts[nxt]);
      PetscCheck(starts[nxt + 1] - starts[nxt] <= INT32_MAX && b.n <= INT32_MAX, c->knn->comm, PETSC_ERR_SUP, "kNN ring: a row block exceeds 2^31 rows; use more ranks");
      /* tags 0 (rows), 1 (indices), 2 (bounds): every step ends with a Waitall, so steps cannot mix */
      PetscCallMPI(MPI_Irecv(buf[s % 2], nn, rowtype, right, 0, c->knn->comm, &req[nreq++]));
      PetscCallMPI(MPI_Irecv(gbuf[s % 2], nn, MPI_INT64_T, right, 1, c->knn->comm, &req[nreq++]));
      PetscCallMPI(MPI_Isend(cur, (int)b.n, rowtype, left, 0, c->knn->comm, &req[nreq++]));
      PetscCallMPI(MPI_Isend(curg, (int)b.n, MPI_INT64_T, left, 1, c->knn->comm, &req[nreq++]));
      if (s > 0 && half) { /* the bounds travel with the rows */
        PetscCallMPI(MPI_Irecv(bnd[s % 2], nn, MPI_DOUBLE, right, 2, c->knn->comm, &req[nreq++]));
        PetscCallMPI(MPI_Isend(curb, (int)b.n, MPI_DOUBLE, left, 2, c->knn->comm, &req[nreq++]));
      }
    }
    if (s == 0) /* the own block (not a re-search's) symmetrically */
      PetscCall(search_block(c, &b, sym && c->mine->n <= INT32_MAX ? PETSC_TRUE : PETSC_FALSE, NULL, c->mine->n, nreq, req));
    else if (!half)
      PetscCall(search_block(c, &b, PETSC_FALSE, NULL, c->mine->n, nreq, req));
    else { /* both sides of this pair of blocks, or of half of it */
      pm_gidx_t ntb = (b.n + T - 1) / T, nrows = c->mine->n;
      knn_f32_t fq  = {c->qf, c->qbf, c->qtmax, c->s * c->s, knn_f32_tau(D)};
      knn_sym_t rsm = {NULL, PETSC_FALSE, 0, 0, &R, c->bqa, c->bqn, c->qb, c->bqf, c->qbf ? &fq : NULL, 0, ntb};
      R.bound = curb;
      knn_brute_pack_queries(&b, c->mu, T, c->bqa, c->bqn);
      if (c->bqf) knn_f32_pack(c->bqa, b.n, D, T, c->s, 1.0, c->bqf, NULL);
      if (2 * s == size) {
        if (rank < src) nrows = (((c->mine->n + T - 1) / T) / 2) * T; /* the first half of the own rows */
        else rsm.tlo = ntb / 2; /* the other's second half */
      }
      PetscCall(search_block(c, &b, PETSC_FALSE, &rsm, nrows, nreq, req));
    }
    if (nreq) PetscCallMPI(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
    if (s == 0 && size > 1 && half) { /* all ranks searched symmetrically, or the ring is one-sided */
      int on = c->sym_on ? 1 : 0, all = 0;
      PetscCallMPI(MPI_Allreduce(&on, &all, 1, MPI_INT, MPI_MIN, c->knn->comm));
      half = all ? PETSC_TRUE : PETSC_FALSE;
      if (half) { /* the own rows' bounds now, for the column side of the others */
        steps = size / 2 + 1;
        PetscCall(half_setup(c, nmax));
        PetscCall(PetscMalloc3(c->mine->n + 1, &mybnd, nmax + 1, &bnd[0], nmax + 1, &bnd[1]));
        PetscCall(PetscArraycpy(mybnd, c->h->bound2, c->mine->n));
        PetscCallMPI(MPI_Irecv(bnd[0], (int)(starts[right + 1] - starts[right]), MPI_DOUBLE, right, 2, c->knn->comm, &breq[nbreq++]));
        PetscCallMPI(MPI_Isend(mybnd, (int)c->mine->n, MPI_DOUBLE, left, 2, c->knn->comm, &breq[nbreq++]));
        PetscCallMPI(MPI_Waitall(nbreq, breq, MPI_STATUSES_IGNORE));
      }
    }
    if (s > 0 && half) { /* a failed growth of R stops every rank, not only the one (no hang in the exchange) */
      PetscCall(pm_agree(c->knn->comm, R.err ? PETSC_FALSE : PETSC_TRUE, "kNN half ring: out of memory for the candidates of another rank's rows; use more ranks, or -knn_symmetric 0"));
      PetscCall(exchange_cols(c, &R, src, (rank - s + size) % size));
    }
    cur  = buf[s % 2];
    curg = gbuf[s % 2];
    curb = bnd[s % 2];
  }
  PetscCallMPI(MPI_Type_free(&rowtype));
  PetscCall(PetscFree2(buf[0], gbuf[0]));
  PetscCall(PetscFree2(buf[1], gbuf[1]));
  PetscCall(PetscFree3(mybnd, bnd[0], bnd[1]));
  PetscCall(PetscFree(R.row));
  PetscCall(PetscFree(R.d2));
  PetscCall(PetscFree(R.g));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rows whose provisional bound proved too small (fewer than k neighbours under it, or a k-th
 * distance above it: a point tied with the k-th after rounding may have been refused) are searched
 * again from +inf in a second ring, in which every rank takes part with its block. Rare: the
 * bounds are set for a failure rate of at most about 1e-3 per row (knn_prebound.c). */
static inline int short_row(const ring_ctx_t *c, pm_gidx_t i)
{
  return c->h->fill[i] < c->h->k || c->h->bound2[i] > c->pre[i];
}

static PetscErrorCode research_short_rows(ring_ctx_t *c, int rank, int size, const pm_gidx_t *starts, pm_gidx_t nmax)
{
  const knn_block_t *q = c->mine;
  knn_lists_t       *h = c->h, hs;
  int                D = q->dim, nc = h->ncol;
  pm_gidx_t          nf = 0, nall = 0, *fi, *fg, *ind;
  double            *fx, *dist;
  knn_block_t        fb;
  pm_progress_t     *prog = c->prog;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < q->n; i++) nf += short_row(c, i);
  PetscCallMPI(MPI_Allreduce(&nf, &nall, 1, MPI_INT64_T, MPI_SUM, c->knn->comm));
  c->knn->n_researched = nall;
  PetscCall(PetscInfo(NULL, "kNN brute force: %" PRId64 " rows (%" PRId64 " on this rank) searched again: their provisional bound was too small\n", nall, nf));
  if (!nall) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc3(nf + 1, &fi, nf + 1, &fg, nf * D + 1, &fx));
  PetscCall(PetscMalloc2(nf * nc + 1, &ind, nf * nc + 1, &dist));
  nf = 0;
  for (pm_gidx_t i = 0; i < q->n; i++)
    if (short_row(c, i)) {
      fi[nf] = i;
      fg[nf] = h->self ? h->self[i] : h->row_start + i;
      PetscCall(PetscArraycpy(fx + nf * D, q->x + i * D, D));
      nf++;
    }
  fb = (knn_block_t){0, nf, D, fx, fg};
  PetscCall(knn_lists_init(&hs, nf, 0, h->k, ind, dist));
  hs.self = fg;
  c->mine = &fb;
  c->h    = &hs;
  c->prog = NULL; /* the progress covered the first ring */
  PetscCall(pack_queries(c));
  PetscCall(block_ring(c, rank, size, starts, nmax, PETSC_FALSE, PETSC_FALSE));
  c->mine = q;
  c->h    = h;
  c->prog = prog;
  for (pm_gidx_t e = 0; e < nf; e++) {
    pm_gidx_t i = fi[e];
    PM_ASSERT(hs.fill[e] == h->k);
    PetscCall(PetscArraycpy(h->ind + i * nc + 1, ind + e * nc + 1, h->k));
    PetscCall(PetscArraycpy(h->dist + i * nc + 1, dist + e * nc + 1, h->k));
    h->fill[i]   = h->k;
    h->bound2[i] = hs.bound2[e];
  }
  PetscCall(knn_lists_free(&hs));
  PetscCall(PetscFree3(fi, fg, fx));
  PetscCall(PetscFree2(ind, dist));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode knn_ring_search(pm_knn_t *knn, const knn_block_t *mine, pm_knn_method_t method, knn_lists_t *h)
{
  int         rank, size;
  pm_gidx_t  *starts, nmax = 0, n_global;
  ring_ctx_t  c    = {0};
  PetscBool   half = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(knn->comm, &rank));
  PetscCallMPI(MPI_Comm_size(knn->comm, &size));
  PetscCall(pm_layout_starts(knn->comm, mine->n, &starts));
  for (int r = 0; r < size; r++) nmax = PetscMax(nmax, starts[r + 1] - starts[r]);
  n_global = starts[size];
  c.knn    = knn;
  c.mine   = mine;
  c.own    = mine;
  c.h      = h;
  PetscCall(pm_progress_create(knn->comm, "knn", mine->n * n_global, &c.prog));
  PetscCall(PetscLogEventBegin(knn->ev_ring, 0, 0, 0, 0));
  if (method == PM_KNN_TREE) {
    PetscCall(knn_buf_create(knn->leaf, KNN_TREE_BUF, h->k, &c.buf)); /* query groups of one leaf */
    PetscCall(tree_ring(&c, rank, size));
  } else {
    PetscCall(brute_setup(&c, nmax));
    PetscCall(knn_buf_create(knn_brute_group(knn), PetscMax(h->k, 64), h->k, &c.buf));
    PetscCall(PetscMalloc1(mine->n + 1, &c.pre));
    PetscCall(knn_prebound(knn, mine, c.qc, c.qn, c.mu, c.s, n_global, h->k, c.pre));
    for (pm_gidx_t i = 0; i < mine->n; i++) h->bound2[i] = PetscMin(h->bound2[i], c.pre[i]);
    /* the half ring where the blocks are large enough to repay its fixed costs (the bounds sent
       after step 0, the candidates' return, one more merge per row: ~20 ms at 10k rows per rank,
       where it lost: uniform 20k, 2 ranks 0.141 -> 0.151 s; at 50k rows it won: 100k 1.85 -> 1.65
       s); nmax is the same on every rank, so all agree */
    half = knn->symmetric && size > 1 && nmax >= knn->half_min_rows ? PETSC_TRUE : PETSC_FALSE;
    PetscCall(block_ring(&c, rank, size, starts, nmax, knn->symmetric, half));
    PetscCall(PetscInfo(NULL, "kNN ring (brute force): %" PRId64 " of %" PRId64 " tile visits skipped on this rank, and %" PRId64 " row tiles' visits of the others; provisional bounds from sample rank %d\n", c.tskip, c.ttot, c.tpairs, knn_prebound_rank(knn, n_global, h->k)));
    PetscCall(research_short_rows(&c, rank, size, starts, nmax));
  }
  PetscCall(PetscLogEventEnd(knn->ev_ring, 0, 0, 0, 0));
  PetscCall(PetscFree(starts));
  PetscCall(ctx_free(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}
