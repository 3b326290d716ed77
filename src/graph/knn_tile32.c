/* The brute-force filter in single precision: twice the products per instruction (AVX-512:
 * sixteen instead of eight; AVX2 + FMA: eight instead of four). Only the filter changes: the pairs that pass are measured exactly in double, as
 * always, so the graph is the same bit for bit; the margin below makes sure no pair within a
 * row's bound is filtered out.
 *
 * Operands: the double tiles of knn_tile.c (centred on mu, augmented, packed per tile) rounded to
 * float after a scaling by s, a power of two that brings every centred coordinate below 1 in
 * magnitude (exact, and no float overflow). Query rows [s a, 1], block rows [-2 s b, s^2 |b|^2]
 * (|b|^2 (1 - 2 tol) from the double tile: smaller, so only more pairs pass). The kernel sums the
 * augmented term and then one fused multiply-add per coordinate, acc ~ s^2 (|a - b|^2 - |a|^2).
 *
 * Margin. With u = 2^-24: rounding the operands to float moves each product a_d (-2 b_d) by at
 * most (4u + 2u^2) |a_d b_d|, in all at most (2u + u^2)(|a|^2 + |b|^2); the D roundings of the
 * sum at most gamma_D times the sum of magnitudes, <= D u (1 + O(u)) (|a|^2 + 2 |b|^2); the
 * augmented term at most u |b|^2. So |acc - s^2 (|b|^2 - 2 a.b)| <= (2 D + 8) u s^2 (|a|^2 + |b|^2),
 * plus (2 D + 8) 2^-126 for float underflow. A pair passes when acc <= s^2 (bound - |a|^2) +
 * tau s^2 (|a|^2 + bmax) + that, rounded up to float, with bmax >= |b|^2 over the tile and
 * tau = 2 ((2 D + 8) u + tol): twice the float bound, plus twice the double tile's own margin
 * (centring, knn_tile_tol).
 *
 * Symmetric kernel (a block against itself, knn_rows.c): the sums start at s^2 |a|^2 (rounded to
 * float) plus the augmented term, so acc ~ s^2 |a - b|^2 and one product serves both the row's
 * bound and the column's. The extra term and the larger partial sums add at most 3 u s^2 (|a|^2 +
 * |b|^2) to the error above, so a pair passes for either side when acc <= s^2 bound + tau' s^2
 * (|x|^2 + xmax) + (2 D + 12) 2^-126, rounded up to float, with tau' = tau + 8 u (twice the
 * addition), |x|^2 that side's own norm and xmax the other tile's largest (knn_f32_threshold_sym). */
#include "graph/graph_impl.h"
#include <immintrin.h>
#include <math.h>

size_t knn_f32_pack_size(pm_gidx_t n, int dim, int tile)
{
  return (size_t)((n + tile - 1) / tile) * (size_t)tile * (size_t)(dim + 1) + 16;
}

double knn_f32_tau(int dim)
{
  return 2.0 * ((2.0 * dim + 8.0) * 0x1.0p-24 + knn_tile_tol(dim));
}

double knn_f32_scale(double maxabs)
{
  int e;
  if (!(maxabs > 0.0) || !isfinite(maxabs)) return 1.0;
  (void)frexp(maxabs, &e); /* maxabs = f 2^e, f in [0.5, 1) */
  return ldexp(1.0, -e);
}

void knn_f32_pack(const double *p, pm_gidx_t n, int D, int T, double s, double s_last, float *out, double *bmax)
{
  pm_gidx_t nt = (n + T - 1) / T;
  size_t    A  = (size_t)D + 1;

  for (pm_gidx_t t = 0; t < nt; t++) {
    const double *pt = p + (size_t)t * A * T;
    float        *ot = out + (size_t)t * A * T;
    for (size_t e = 0; e < (size_t)D * T; e++) ot[e] = (float)(s * pt[e]);
    for (int r = 0; r < T; r++) ot[(size_t)D * T + r] = (float)(s_last * pt[(size_t)D * T + r]);
    if (bmax) {
      double m = 0.0;
      for (int r = 0; r < T; r++) m = pt[(size_t)D * T + r] > m ? pt[(size_t)D * T + r] : m;
      bmax[t] = m / (1.0 - 2.0 * knn_tile_tol(D)); /* the tile holds |b|^2 (1 - 2 tol) */
    }
  }
}

/* 32 rows (two vectors of the coordinate-major query tile) by 8 columns: as knn_tile.c's
 * fused_block, in float. */
__attribute__((target("avx512f"), always_inline)) static inline int block32(const float *qa, const float *ba, int T, int A, __m512 t0, __m512 t1, __mmask16 rows0, __mmask16 rows1, unsigned cols, __m512i rv0, __m512i rv1, int c0, const float *tc, const float *qn, int *pr, int *pc, int np)
{
  __m512 a0[8], a1[8];

  if (tc) { /* the symmetric pass: the rows' s^2 |x - mu|^2 start the sums too (acc ~ s^2 |x - y|^2) */
    __m512 n0 = _mm512_loadu_ps(qn), n1 = _mm512_loadu_ps(qn + 16);
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++) {
      __m512 b = _mm512_set1_ps(ba[(size_t)(A - 1) * T + c]);
      a0[c]    = _mm512_add_ps(b, n0);
      a1[c]    = _mm512_add_ps(b, n1);
    }
  } else
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++) a0[c] = a1[c] = _mm512_set1_ps(ba[(size_t)(A - 1) * T + c]);
  for (int d = 0; d < A - 1; d++) {
    __m512 q0 = _mm512_loadu_ps(qa + (size_t)d * T), q1 = _mm512_loadu_ps(qa + (size_t)d * T + 16);
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++) {
      __m512 b = _mm512_set1_ps(ba[(size_t)d * T + c]);
      a0[c]    = _mm512_fmadd_ps(q0, b, a0[c]);
      a1[c]    = _mm512_fmadd_ps(q1, b, a1[c]);
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < 8; c++) {
    __mmask16 m0 = _mm512_cmp_ps_mask(a0[c], t0, _CMP_LE_OQ), m1 = _mm512_cmp_ps_mask(a1[c], t1, _CMP_LE_OQ);
    if (tc) { /* also the pairs within the column's own bound */
      __m512 u = _mm512_set1_ps(tc[c]);
      m0 |= _mm512_cmp_ps_mask(a0[c], u, _CMP_LE_OQ);
      m1 |= _mm512_cmp_ps_mask(a1[c], u, _CMP_LE_OQ);
    }
    m0 &= rows0;
    m1 &= rows1;
    if (!(cols >> c & 1u)) m0 = m1 = 0;
    if (m0 | m1) {
      __m512i cv = _mm512_set1_epi32(c0 + c);
      _mm512_storeu_si512((void *)(pr + np), _mm512_maskz_compress_epi32(m0, rv0));
      _mm512_storeu_si512((void *)(pc + np), cv);
      np += __builtin_popcount((unsigned)m0);
      _mm512_storeu_si512((void *)(pr + np), _mm512_maskz_compress_epi32(m1, rv1));
      _mm512_storeu_si512((void *)(pc + np), cv);
      np += __builtin_popcount((unsigned)m1);
    }
  }
  return np;
}

/* tc (NULL: one-sided): the columns' thresholds, qn: s^2 |x - mu|^2 of the rows (float) */
__attribute__((target("avx512f"), always_inline)) static inline int filter_avx512_any(const float *qa, const float *ba, int T, int A, int ns, int nj, const float *t, const float *tc, const float *qn, int *pr, int *pc)
{
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  int           np   = 0;

  for (int r = 0; r < ns; r += 32) {
    int       left  = ns - r;
    __m512    t0 = _mm512_loadu_ps(t + r), t1 = _mm512_loadu_ps(t + r + 16);
    __mmask16 rows0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    __mmask16 rows1 = left >= 32 ? (__mmask16)0xFFFF : left <= 16 ? (__mmask16)0 : (__mmask16)((1u << (left - 16)) - 1u);
    __m512i   rv0 = _mm512_add_epi32(iota, _mm512_set1_epi32(r)), rv1 = _mm512_add_epi32(iota, _mm512_set1_epi32(r + 16));
    for (int c = 0; c < nj; c += 8) np = block32(qa + r, ba + c, T, A, t0, t1, rows0, rows1, nj - c >= 8 ? 0xFFu : (1u << (nj - c)) - 1u, rv0, rv1, c, tc ? tc + c : NULL, tc ? qn + r : NULL, pr, pc, np);
  }
  return np;
}

__attribute__((target("avx512f"))) static int filter_avx512(const float *qa, const float *ba, int T, int A, int ns, int nj, const float *t, int *pr, int *pc)
{
  return filter_avx512_any(qa, ba, T, A, ns, nj, t, NULL, NULL, pr, pc);
}

__attribute__((target("avx512f"))) static int filter_avx512_sym(const float *qa, const float *ba, int T, int A, int ns, int nj, const float *t, const float *tc, const float *qn, int *pr, int *pc)
{
  return filter_avx512_any(qa, ba, T, A, ns, nj, t, tc, qn, pr, pc);
}

/* AVX2: 16 rows (two vectors) by 6 columns (12 accumulators of the 16 registers); the rows that
 * pass a column are packed 8 at a time by knn_lut8, as in knn_tile.c's fused_block_avx2. */
__attribute__((target("avx2,fma"), always_inline)) static inline int block16_avx2(const float *qa, const float *ba, int T, int A, __m256 t0, __m256 t1, unsigned rows, unsigned cols, int r, int c0, int *pr, int *pc, int np)
{
  __m256 a0[6], a1[6];

#pragma GCC unroll 6
  for (int c = 0; c < 6; c++) a0[c] = a1[c] = _mm256_broadcast_ss(ba + (size_t)(A - 1) * T + c);
  for (int d = 0; d < A - 1; d++) {
    __m256 q0 = _mm256_loadu_ps(qa + (size_t)d * T), q1 = _mm256_loadu_ps(qa + (size_t)d * T + 8);
#pragma GCC unroll 6
    for (int c = 0; c < 6; c++) {
      __m256 b = _mm256_broadcast_ss(ba + (size_t)d * T + c);
      a0[c]    = _mm256_fmadd_ps(q0, b, a0[c]);
      a1[c]    = _mm256_fmadd_ps(q1, b, a1[c]);
    }
  }
#pragma GCC unroll 6
  for (int c = 0; c < 6; c++) {
    unsigned m = ((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(a0[c], t0, _CMP_LE_OQ)) | (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(a1[c], t1, _CMP_LE_OQ)) << 8) & rows;
    if (!(cols >> c & 1u)) m = 0;
    if (m) {
      __m256i cv = _mm256_set1_epi32(c0 + c);
      for (int h = 0; h < 2; h++) {
        unsigned mh = m >> (8 * h) & 0xFFu;
        __m256i  off = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)knn_lut8[mh]));
        _mm256_storeu_si256((__m256i *)(pr + np), _mm256_add_epi32(off, _mm256_set1_epi32(r + 8 * h)));
        _mm256_storeu_si256((__m256i *)(pc + np), cv);
        np += __builtin_popcount(mh);
      }
    }
  }
  return np;
}

__attribute__((target("avx2,fma"))) static int filter_avx2(const float *qa, const float *ba, int T, int A, int ns, int nj, const float *t, int *pr, int *pc)
{
  int np = 0;

  for (int r = 0; r < ns; r += 16) {
    __m256   t0 = _mm256_loadu_ps(t + r), t1 = _mm256_loadu_ps(t + r + 8);
    unsigned rows = ns - r >= 16 ? 0xFFFFu : (1u << (ns - r)) - 1u;
    for (int c = 0; c < nj; c += 6) np = block16_avx2(qa + r, ba + c, T, A, t0, t1, rows, nj - c >= 6 ? 0x3Fu : (1u << (nj - c)) - 1u, r, c, pr, pc, np);
  }
  return np;
}

int knn_f32_usable(int T)
{
  if (knn_simd() >= 3) return T % 32 == 0;
  return knn_simd() == 2 && __builtin_cpu_supports("fma") && T % 16 == 0;
}

int knn_f32_sym_usable(int T)
{
  return knn_simd() >= 3 && T % 32 == 0;
}

int knn_f32_filter_sym(const float *qa, const float *ba, int T, int A, int ns, int nj, const float *t, const float *tc, const float *qn, int *pr, int *pc)
{
  return filter_avx512_sym(qa, ba, T, A, ns, nj, t, tc, qn, pr, pc);
}

int knn_f32_filter(const float *qa, const float *ba, int T, int A, int ns, int nj, const float *t, int *pr, int *pc)
{
  if (knn_simd() >= 3) return filter_avx512(qa, ba, T, A, ns, nj, t, pr, pc);
  knn_lut8_init();
  return filter_avx2(qa, ba, T, A, ns, nj, t, pr, pc);
}
