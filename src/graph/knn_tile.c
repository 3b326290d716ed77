/* Brute-force distance tiles: one dgemm per tile on centred, augmented coordinates gives
 * C_ij = |y_j|^2 (1 - 2 tol) - 2 x_i.y_j directly (rows [x, 1] times [-2 y, |y|^2 (1 - 2 tol)]),
 * fused with a threshold filter against each row's current k-th distance: C_ij <= bound_i -
 * |x_i|^2 (1 - tol). tol covers every rounding error of the tile (dgemm over D + 1 terms and the
 * centring), so no true neighbour is lost; the pairs that pass are measured exactly on the input
 * coordinates and offered to the row's list. */
#include "graph/graph_impl.h"
#include <cblas.h>
#include <float.h>
#include <immintrin.h>

size_t knn_brute_work_size(const pm_knn_t *knn)
{
  return 3 * (size_t)knn->tile * (size_t)knn->tile + 32; /* C, pair distances, pair rows + columns (+ slack for the AVX-512 collect) */
}

double knn_tile_tol(int dim)
{
  return (2.0 * dim + 16.0) * DBL_EPSILON;
}

size_t knn_brute_pack_size(pm_gidx_t n, int dim, int tile)
{
  return (size_t)((n + tile - 1) / tile) * (size_t)tile * (size_t)(dim + 1) + 8; /* the AVX2 kernel reads up to 5 columns past a tile */
}

/* Tile t of the rows (rows tT .. tT + T - 1) is one contiguous (D + 1) x T block, coordinate-major
 * (entry (d, r) at d T + r): the dgemm reads short contiguous rows with a small leading dimension,
 * the shape OpenBLAS runs fastest (its small-matrix kernel, no packing). */
static inline double *packed(double *p, pm_gidx_t r, int D, int T, int d)
{
  return p + (size_t)(r / T) * (size_t)(D + 1) * (size_t)T + (size_t)d * (size_t)T + (size_t)(r % T);
}

/* Rows of b centred on mu and scaled, packed per tile; the last packed row of each point gets
 * |x - mu|^2 (the callers turn it into their augmentation). */
static void pack_centred(const knn_block_t *b, const double *mu, int T, double scale, double *p)
{
  int D = b->dim;
  for (pm_gidx_t j = 0; j < b->n; j++) {
    double s = 0.0;
    for (int d = 0; d < D; d++) {
      double t                = b->x[j * D + d] - mu[d];
      *packed(p, j, D, T, d) = scale * t;
      s += t * t;
    }
    *packed(p, j, D, T, D) = s;
  }
  for (pm_gidx_t j = b->n; j % T; j++) /* the last tile's padding: the fused kernel reads whole strips */
    for (int d = 0; d <= D; d++) *packed(p, j, D, T, d) = 0.0;
}

void knn_brute_pack_queries(const knn_block_t *q, const double *mu, int T, double *qa, double *qn)
{
  pack_centred(q, mu, T, 1.0, qa);
  for (pm_gidx_t i = 0; i < q->n; i++) {
    double *last = packed(qa, i, q->dim, T, q->dim);
    qn[i]        = *last;
    *last        = 1.0;
  }
}

void knn_brute_augment(const knn_block_t *b, const double *mu, int T, double *ba)
{
  double tol = knn_tile_tol(b->dim);
  pack_centred(b, mu, T, -2.0, ba);
  for (pm_gidx_t j = 0; j < b->n; j++) *packed(ba, j, b->dim, T, b->dim) *= 1.0 - 2.0 * tol;
}

/* Exact squared distances of the candidate pairs (query row qr[p], block row bc[p]), eight
 * independent sums at a time so the additions pipeline instead of waiting on each other; each sum
 * still runs over the coordinates in order, as knn_dist2, so the bits are knn_dist2's. */
void knn_exact_pairs(const double *qx, const double *bx, int D, const int *qr, const int *bc, int np, double *out)
{
  int p = 0;
  for (; p + 8 <= np; p += 8) {
    const double *a[8], *b[8];
    double        s[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    for (int u = 0; u < 8; u++) {
      a[u] = qx + (size_t)qr[p + u] * D;
      b[u] = bx + (size_t)bc[p + u] * D;
    }
    for (int d = 0; d < D; d++)
      for (int u = 0; u < 8; u++) {
        double t = a[u][d] - b[u][d];
        s[u] += t * t;
      }
    for (int u = 0; u < 8; u++) out[p + u] = s[u];
  }
  for (; p < np; p++) out[p] = knn_dist2(qx + (size_t)qr[p] * D, bx + (size_t)bc[p] * D, D);
}

/* The pairs (r, jj + bit) of the set bits of m, appended at np; returns the new count. */
static inline int emit_mask(unsigned m, int r, int jj, int *pr, int *pc, int np)
{
  while (m) {
    pr[np]   = r;
    pc[np++] = jj + __builtin_ctz(m);
    m &= m - 1;
  }
  return np;
}

/* The columns [jj, nj) of row r one at a time (the rest after the vector loop). */
static inline int collect_tail(const double *c, int jj, int nj, double t, int r, int *pr, int *pc, int np)
{
  for (; jj < nj; jj++)
    if (c[jj] <= t) {
      pr[np]   = r;
      pc[np++] = jj;
    }
  return np;
}

/* The filter of a whole tile: the pairs (row, column) of the ns x nj tile C with C[r][j] <= t[r],
 * appended in row order to pr/pc; returns their number. Three versions chosen at run time. The
 * AVX-512 one has no branch in the loop: the passing columns of 16 entries are compressed into
 * one vector and stored whole (pr and pc need 16 entries of slack past the last pair). */
__attribute__((target("avx512f"))) static int collect_avx512(const double *C, int ns, int nj, const double *t, int *pr, int *pc)
{
  const __m512i step = _mm512_set1_epi32(16), iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  int           np   = 0;

  for (int r = 0; r < ns; r++) {
    const double *c   = C + (size_t)r * nj;
    __m512d       tv  = _mm512_set1_pd(t[r]);
    __m512i       off = iota, rv = _mm512_set1_epi32(r);
    int           jj  = 0;
    for (; jj + 16 <= nj; jj += 16) {
      __mmask16 m = _mm512_kunpackb(_mm512_cmp_pd_mask(_mm512_loadu_pd(c + jj + 8), tv, _CMP_LE_OQ), _mm512_cmp_pd_mask(_mm512_loadu_pd(c + jj), tv, _CMP_LE_OQ));
      _mm512_storeu_si512((void *)(pc + np), _mm512_maskz_compress_epi32(m, off));
      _mm512_storeu_si512((void *)(pr + np), rv);
      np += __builtin_popcount((unsigned)m);
      off = _mm512_add_epi32(off, step);
    }
    np = collect_tail(c, jj, nj, t[r], r, pr, pc, np);
  }
  return np;
}

__attribute__((target("avx2"))) static int collect_avx2(const double *C, int ns, int nj, const double *t, int *pr, int *pc)
{
  int np = 0;

  for (int r = 0; r < ns; r++) {
    const double *c  = C + (size_t)r * nj;
    __m256d       tv = _mm256_set1_pd(t[r]);
    int           jj = 0;
    for (; jj + 8 <= nj; jj += 8) {
      unsigned m = (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(c + jj), tv, _CMP_LE_OQ));
      m |= (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(c + jj + 4), tv, _CMP_LE_OQ)) << 4;
      np = emit_mask(m, r, jj, pr, pc, np);
    }
    np = collect_tail(c, jj, nj, t[r], r, pr, pc, np);
  }
  return np;
}

static int collect_sse2(const double *C, int ns, int nj, const double *t, int *pr, int *pc)
{
  int np = 0;

  for (int r = 0; r < ns; r++) {
    const double *c  = C + (size_t)r * nj;
    __m128d       tv = _mm_set1_pd(t[r]);
    int           jj = 0;
    for (; jj + 8 <= nj; jj += 8) {
      unsigned m = 0;
      for (int p = 0; p < 4; p++) m |= (unsigned)_mm_movemask_pd(_mm_cmple_pd(_mm_loadu_pd(c + jj + 2 * p), tv)) << (2 * p);
      np = emit_mask(m, r, jj, pr, pc, np);
    }
    np = collect_tail(c, jj, nj, t[r], r, pr, pc, np);
  }
  return np;
}

/* The fused AVX-512 tile: the products of the dgemm computed in registers, 16 rows (two vectors
 * of the coordinate-major query tile) by 8 columns (broadcasts of the block tile) at a time, and
 * compared with the rows' thresholds before they ever reach memory: no T x T product is written
 * and read back. The dgemm's sums (the augmented term first, then one fused multiply-add per
 * coordinate): tol bounds the rounding of any order of the D + 1 terms, so it covers them. qa/ba: the packed tiles (entry (d, r) at d T + r,
 * A = D + 1 coordinates, padding zeroed); the pairs are appended as in collect (16 slack). */
__attribute__((target("avx512f"), always_inline)) static inline int fused_block(const double *qa, const double *ba, int T, int A, __m512d t0, __m512d t1, __mmask16 rows, unsigned cols, __m512i rv, int c0, int *pr, int *pc, int np)
{
  __m512d a0[8], a1[8];

  /* the augmented coordinate (1 for every query row) times |y|^2 (1 - 2 tol) starts the sums: one
     fused multiply-add in 21 saved at D = 20 (the margin holds for any order of the terms) */
#pragma GCC unroll 8
  for (int c = 0; c < 8; c++) a0[c] = a1[c] = _mm512_set1_pd(ba[(size_t)(A - 1) * T + c]);
  for (int d = 0; d < A - 1; d++) {
    __m512d q0 = _mm512_loadu_pd(qa + (size_t)d * T), q1 = _mm512_loadu_pd(qa + (size_t)d * T + 8);
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++) {
      __m512d b = _mm512_set1_pd(ba[(size_t)d * T + c]);
      a0[c]     = _mm512_fmadd_pd(q0, b, a0[c]);
      a1[c]     = _mm512_fmadd_pd(q1, b, a1[c]);
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < 8; c++) {
    __mmask16 m = _mm512_kunpackb(_mm512_cmp_pd_mask(a1[c], t1, _CMP_LE_OQ), _mm512_cmp_pd_mask(a0[c], t0, _CMP_LE_OQ)) & rows;
    if (!(cols >> c & 1u)) m = 0;
    if (m) {
      _mm512_storeu_si512((void *)(pr + np), _mm512_maskz_compress_epi32(m, rv));
      _mm512_storeu_si512((void *)(pc + np), _mm512_set1_epi32(c0 + c));
      np += __builtin_popcount((unsigned)m);
    }
  }
  return np;
}

/* The pairs (row, column) of the ns x nj tile with product <= t[row], in 16-row strips (T a
 * multiple of 16, t padded to a multiple of 16). */
__attribute__((target("avx512f"))) static int fused_avx512(const double *qa, const double *ba, int T, int A, int ns, int nj, const double *t, int *pr, int *pc)
{
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  int           np   = 0;

  for (int r = 0; r < ns; r += 16) {
    __m512d   t0 = _mm512_loadu_pd(t + r), t1 = _mm512_loadu_pd(t + r + 8);
    __mmask16 rows = ns - r >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (ns - r)) - 1u);
    __m512i   rv   = _mm512_add_epi32(iota, _mm512_set1_epi32(r));
    for (int c = 0; c < nj; c += 8) np = fused_block(qa + r, ba + c, T, A, t0, t1, rows, nj - c >= 8 ? 0xFFu : (1u << (nj - c)) - 1u, rv, c, pr, pc, np);
  }
  return np;
}

/* The fused AVX2 tile (processors without AVX-512, e.g. AMD Zen 2/3): the same scheme in 4-wide
 * vectors, 8 rows (two vectors) by 6 columns (12 accumulators of the 16 registers). The rows that
 * pass a column are packed by a table of the 256 8-bit masks (row offsets, as bytes). */
unsigned char knn_lut8[256][8];

void knn_lut8_init(void)
{
  static int ready = 0;
  if (ready) return;
  for (int m = 0; m < 256; m++)
    for (int bit = 0, n = 0; bit < 8; bit++)
      if (m >> bit & 1) knn_lut8[m][n++] = (unsigned char)bit;
  ready = 1;
}

__attribute__((target("avx2,fma"), always_inline)) static inline int fused_block_avx2(const double *qa, const double *ba, int T, int A, __m256d t0, __m256d t1, unsigned rows, unsigned cols, int r, int c0, int *pr, int *pc, int np)
{
  __m256d a0[6], a1[6];

#pragma GCC unroll 6
  for (int c = 0; c < 6; c++) a0[c] = a1[c] = _mm256_broadcast_sd(ba + (size_t)(A - 1) * T + c); /* as fused_block */
  for (int d = 0; d < A - 1; d++) {
    __m256d q0 = _mm256_loadu_pd(qa + (size_t)d * T), q1 = _mm256_loadu_pd(qa + (size_t)d * T + 4);
#pragma GCC unroll 6
    for (int c = 0; c < 6; c++) {
      __m256d b = _mm256_broadcast_sd(ba + (size_t)d * T + c);
      a0[c]     = _mm256_fmadd_pd(q0, b, a0[c]);
      a1[c]     = _mm256_fmadd_pd(q1, b, a1[c]);
    }
  }
#pragma GCC unroll 6
  for (int c = 0; c < 6; c++) {
    unsigned m = ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(a0[c], t0, _CMP_LE_OQ)) | (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(a1[c], t1, _CMP_LE_OQ)) << 4) & rows;
    if (!(cols >> c & 1u)) m = 0;
    if (m) {
      __m256i off = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)knn_lut8[m]));
      _mm256_storeu_si256((__m256i *)(pr + np), _mm256_add_epi32(off, _mm256_set1_epi32(r)));
      _mm256_storeu_si256((__m256i *)(pc + np), _mm256_set1_epi32(c0 + c));
      np += __builtin_popcount(m);
    }
  }
  return np;
}

/* As fused_avx512, in 8-row strips (T a multiple of 8, t padded to a multiple of 8); reads up to 5
 * columns past nj (masked off: knn_brute_pack_size leaves room). */
__attribute__((target("avx2,fma"))) static int fused_avx2(const double *qa, const double *ba, int T, int A, int ns, int nj, const double *t, int *pr, int *pc)
{
  int np = 0;

  for (int r = 0; r < ns; r += 8) {
    __m256d  t0 = _mm256_loadu_pd(t + r), t1 = _mm256_loadu_pd(t + r + 4);
    unsigned rows = ns - r >= 8 ? 0xFFu : (1u << (ns - r)) - 1u;
    for (int c = 0; c < nj; c += 6) np = fused_block_avx2(qa + r, ba + c, T, A, t0, t1, rows, nj - c >= 6 ? 0x3Fu : (1u << (nj - c)) - 1u, r, c, pr, pc, np);
  }
  return np;
}

typedef int (*collect_fn)(const double *, int, int, const double *, int *, int *);

static collect_fn pick_collect(void)
{
  if (knn_simd() >= 3) return collect_avx512;
  if (knn_simd() >= 2) return collect_avx2;
  return collect_sse2;
}

int knn_tile_filter(const double *qa, const double *ba, int T, int A, int ns, int nj, double *t, double *C, int *pr, int *pc)
{
  int simd = knn_simd();

  if (simd >= 3 && T % 16 == 0) {
    for (int ii = ns; ii % 16; ii++) t[ii] = 0.0; /* whole strips (masked off) */
    return fused_avx512(qa, ba, T, A, ns, nj, t, pr, pc);
  }
  if (simd == 2 && T % 8 == 0 && __builtin_cpu_supports("fma")) {
    knn_lut8_init();
    for (int ii = ns; ii % 8; ii++) t[ii] = 0.0;
    return fused_avx2(qa, ba, T, A, ns, nj, t, pr, pc);
  }
  /* both operands packed coordinate-major per tile: ~1.5x the rate of row-major rows */
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ns, nj, A, 1.0, qa, T, ba, T, 0.0, C, nj);
  return pick_collect()(C, ns, nj, t, pr, pc);
}
