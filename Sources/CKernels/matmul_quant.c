// Matrix products over ggml block-quantized rows (see include/ckernels.h).
//
// Q4_0, Q4_1, Q5_0 and Q5_1 blocks are dequantized in registers with exactly
// ggml's float operations and then summed in the float order (matmul_float.c);
// Q8_0 has its own block-sum order, described below.
#include "ck_internal.h"

// Q8_0 in the block-sum order described at dot_rows_q8_0_avx2.
void dot_rows_q8_0_portable(const uint8_t *row, int cols, const float *X, int ldx, int n_tokens, float *Y,
                                   int ldy, int r) {
    int blocks = cols / 32;
    for (int t = 0; t < n_tokens; t++) {
        const float *x = X + (size_t)t * ldx;
        float acc[2][16] = {{0}};
        for (int k = 0; k < blocks; k++) {
            const uint8_t *b = row + (size_t)k * 34;
            float d = f16_to_f32_scalar(rd16(b));
            for (int l = 0; l < 16; l++) {
                float p = (float)(int8_t)b[2 + l] * x[32 * k + l];
                p = p + (float)(int8_t)b[18 + l] * x[32 * k + 16 + l];
                acc[k & 1][l] = acc[k & 1][l] + p * d;
            }
        }
        float u[8];
        for (int l = 0; l < 8; l++) u[l] = (acc[0][l] + acc[1][l]) + (acc[0][l + 8] + acc[1][l + 8]);
        Y[(size_t)t * ldy + r] = ((u[0] + u[4]) + (u[2] + u[6])) + ((u[1] + u[5]) + (u[3] + u[7]));
    }
}

#if CK_X86_SIMD

// ---- quantized rows, dequantized in registers

// The 32 quants of one block as signed bytes in element order (before the offset
// of the _0 types is removed).
AVX2_TARGET static inline __m256i nibbles32(const uint8_t *qs) {
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    __m128i mask = _mm_set1_epi8(0x0F);
    // Elements 0–15 are the low nibbles, 16–31 the high nibbles, as ggml stores them.
    __m128i lo = _mm_and_si128(q, mask);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
    return _mm256_set_m128i(hi, lo);
}

// Byte e is 0x10 where bit e of qh is set: the fifth bit of each Q5 quant.
AVX2_TARGET static inline __m256i high_bits32(uint32_t qh) {
    __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
                                         _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                                                           0x0101010101010101LL, 0x0000000000000000LL));
    __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// One block of 32 elements as four 8-lane vectors, with the same float operations
// as dequantize_block (so the values are bit-identical to ggml's dequantization).
// For Q4_0, Q4_1, Q5_0 and Q5_1; Q8_0 has its own kernels below.
__attribute__((always_inline)) AVX2_TARGET static inline void load_block(int dtype, const uint8_t *b, __m256 w[4]) {
    __m256i q;
    float d, m = 0;
    int has_min = 0;
    switch (dtype) {
    case CK_Q4_0:
        d = scale16(b);
        q = _mm256_sub_epi8(nibbles32(b + 2), _mm256_set1_epi8(8));
        break;
    case CK_Q4_1:
        d = scale16(b);
        m = scale16(b + 2);
        has_min = 1;
        q = nibbles32(b + 4);
        break;
    case CK_Q5_0:
        d = scale16(b);
        q = _mm256_sub_epi8(_mm256_or_si256(nibbles32(b + 6), high_bits32(rd32(b + 2))), _mm256_set1_epi8(16));
        break;
    default:  // CK_Q5_1
        d = scale16(b);
        m = scale16(b + 2);
        has_min = 1;
        q = _mm256_or_si256(nibbles32(b + 8), high_bits32(rd32(b + 4)));
        break;
    }
    __m256 vd = _mm256_set1_ps(d);
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int g = 0; g < 4; g++) {
        // (float)q·d, then + m for the _1 types: two roundings, as the scalar code.
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[g])), vd);
        w[g] = has_min ? _mm256_add_ps(v, _mm256_set1_ps(m)) : v;
    }
}

// The float path's summation order over quantized rows (cols is a multiple of 32,
// so there is no tail): block k feeds accumulators 0–3 with its four 8-element
// groups, exactly like a 32-element step of dot_rows_avx2.
__attribute__((always_inline)) AVX2_TARGET static inline void dot_rows_quant_avx2_impl(
    int dtype, const uint8_t *row, int cols, const float *X, int ldx, int n_tokens, float *Y, int ldy, int r) {
    size_t bb = ck_block_bytes(dtype);
    int blocks = cols / 32;
    int t = 0;
    for (; t + 2 <= n_tokens; t += 2) {
        const float *x0 = X + (size_t)t * ldx, *x1 = x0 + ldx;
        __m256 a0[4], a1[4];
        for (int g = 0; g < 4; g++) a0[g] = a1[g] = _mm256_setzero_ps();
        for (int k = 0; k < blocks; k++) {
            __m256 w[4];
            load_block(dtype, row + (size_t)k * bb, w);
            for (int g = 0; g < 4; g++) {
                a0[g] = _mm256_fmadd_ps(w[g], _mm256_loadu_ps(x0 + 32 * k + 8 * g), a0[g]);
                a1[g] = _mm256_fmadd_ps(w[g], _mm256_loadu_ps(x1 + 32 * k + 8 * g), a1[g]);
            }
        }
        Y[(size_t)t * ldy + r] = hsum8(_mm256_add_ps(_mm256_add_ps(a0[0], a0[1]), _mm256_add_ps(a0[2], a0[3])));
        Y[(size_t)(t + 1) * ldy + r] = hsum8(_mm256_add_ps(_mm256_add_ps(a1[0], a1[1]), _mm256_add_ps(a1[2], a1[3])));
    }
    for (; t < n_tokens; t++) {
        const float *x0 = X + (size_t)t * ldx;
        __m256 a0[4];
        for (int g = 0; g < 4; g++) a0[g] = _mm256_setzero_ps();
        for (int k = 0; k < blocks; k++) {
            __m256 w[4];
            load_block(dtype, row + (size_t)k * bb, w);
            for (int g = 0; g < 4; g++) a0[g] = _mm256_fmadd_ps(w[g], _mm256_loadu_ps(x0 + 32 * k + 8 * g), a0[g]);
        }
        Y[(size_t)t * ldy + r] = hsum8(_mm256_add_ps(_mm256_add_ps(a0[0], a0[1]), _mm256_add_ps(a0[2], a0[3])));
    }
}

// One specialised copy per block type, so the type switch in load_block folds away.
#define QUANT_ROWS(NAME, TYPE)                                                                                  \
    AVX2_TARGET static void NAME(const uint8_t *row, int cols, const float *X, int ldx, int n, float *Y, int ldy, \
                                 int r) {                                                                       \
        dot_rows_quant_avx2_impl(TYPE, row, cols, X, ldx, n, Y, ldy, r);                                        \
    }
QUANT_ROWS(dot_rows_q4_0, CK_Q4_0)
QUANT_ROWS(dot_rows_q4_1, CK_Q4_1)
QUANT_ROWS(dot_rows_q5_0, CK_Q5_0)
QUANT_ROWS(dot_rows_q5_1, CK_Q5_1)

// ---- Q8_0: block sums
//
// Q8_0 is the one block type whose product is not "dequantize, then the float
// path": dequantizing costs a multiply per weight, which made it compute-bound
// at half the speed memory allows. Its order instead, per output:
//   for block b (32 quants q, scale d):  p = q[0..15]·x[0..15]  (16 lanes, rounded)
//                                        p = p + q[16..31]·x[16..31]  (fused)
//                                        acc[b % 2] = acc[b % 2] + p·d  (fused)
//   t = acc[0] + acc[1] (16 lanes);  u = t[0..7] + t[8..15];  result = hsum8(u).
// The AVX-512 path holds the 16 lanes in one register, the AVX2 path in two; the
// portable path rounds each product separately (it has no fused multiply-add).

AVX2_TARGET static inline float q8_finish_avx2(__m256 e_lo, __m256 e_hi, __m256 o_lo, __m256 o_hi) {
    __m256 t_lo = _mm256_add_ps(e_lo, o_lo), t_hi = _mm256_add_ps(e_hi, o_hi);
    return hsum8(_mm256_add_ps(t_lo, t_hi));
}

AVX2_TARGET static inline __m256 q8_cvt8(const uint8_t *q) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)q)));
}

// One block's 16-lane partial sum p (as two 8-lane halves), scaled into acc.
#define Q8_BLOCK_AVX2(b, xb, acc_lo, acc_hi)                                                 \
    do {                                                                                     \
        __m256 d_ = _mm256_set1_ps(scale16(b));                                              \
        __m256 lo_ = _mm256_mul_ps(q8_cvt8((b) + 2), _mm256_loadu_ps(xb));                   \
        __m256 hi_ = _mm256_mul_ps(q8_cvt8((b) + 10), _mm256_loadu_ps((xb) + 8));            \
        lo_ = _mm256_fmadd_ps(q8_cvt8((b) + 18), _mm256_loadu_ps((xb) + 16), lo_);           \
        hi_ = _mm256_fmadd_ps(q8_cvt8((b) + 26), _mm256_loadu_ps((xb) + 24), hi_);           \
        acc_lo = _mm256_fmadd_ps(lo_, d_, acc_lo);                                           \
        acc_hi = _mm256_fmadd_ps(hi_, d_, acc_hi);                                           \
    } while (0)

AVX2_TARGET static void dot_rows_q8_0_avx2(const uint8_t *row, int cols, const float *X, int ldx, int n_tokens,
                                           float *Y, int ldy, int r) {
    int blocks = cols / 32;
    for (int t = 0; t < n_tokens; t++) {
        const float *x = X + (size_t)t * ldx;
        __m256 e_lo = _mm256_setzero_ps(), e_hi = _mm256_setzero_ps();
        __m256 o_lo = _mm256_setzero_ps(), o_hi = _mm256_setzero_ps();
        int k = 0;
        // Even blocks feed the first pair of accumulators, odd blocks the second.
        for (; k + 2 <= blocks; k += 2) {
            Q8_BLOCK_AVX2(row + (size_t)k * 34, x + 32 * k, e_lo, e_hi);
            Q8_BLOCK_AVX2(row + (size_t)(k + 1) * 34, x + 32 * (k + 1), o_lo, o_hi);
        }
        if (k < blocks) Q8_BLOCK_AVX2(row + (size_t)k * 34, x + 32 * k, e_lo, e_hi);
        Y[(size_t)t * ldy + r] = q8_finish_avx2(e_lo, e_hi, o_lo, o_hi);
    }
}

quant_rows_fn quant_rows_avx2(int dtype) {
    switch (dtype) {
    case CK_Q8_0: return dot_rows_q8_0_avx2;
    case CK_Q4_0: return dot_rows_q4_0;
    case CK_Q4_1: return dot_rows_q4_1;
    case CK_Q5_0: return dot_rows_q5_0;
    default: return dot_rows_q5_1;
    }
}

#endif
