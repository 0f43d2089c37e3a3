// Quantized rows with AVX-512: 16 lanes per register, the orders of matmul_quant.c.
//
// Q4_0, Q4_1, Q5_0 and Q5_1: a block's elements 0–15 go to one 16-lane register
// and 16–31 to another, so lanes 0–7 of the first hold chain 0 of the float order,
// lanes 8–15 chain 1, and the second register chains 2 and 3 (as in the prefill
// tiles of matmul_float.c). Each lane does what the AVX2 path does — (float)q·d,
// + m for the _1 types, then one fused multiply-add — so the two paths agree bit
// for bit; the fifth bits of Q5 are merged through a mask register instead of byte
// shuffles. Q8_0 has its own kernels (matmul_q8_0.c).
//
// Many tokens run in groups of up to 8: a row's block is dequantized once and used
// for every token of the group, and the group's
// activations stay in L1 while every row passes over them.
#include "ck_internal.h"

#if CK_X86_SIMD

// Fully unrolled row and token loops keep the accumulator arrays in registers.
#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL
#endif

// Tokens per group of the many-token kernel: 16 accumulators (two per token).
enum { QUANT_TOKEN_GROUP = 8 };

// One Q4/Q5 block dequantized exactly as ggml does: elements 0–15 in *lo, 16–31 in *hi.
__attribute__((always_inline)) AVX512_TARGET static inline void dequant_block512(int dtype, const uint8_t *b,
                                                                                 __m512 *lo, __m512 *hi) {
    q45_block k = q45_parse(dtype, b);
    __m128i q = _mm_loadu_si128((const __m128i *)k.qs);
    __m128i nibble = _mm_set1_epi8(0x0F);
    // Elements 0–15 are the low nibbles, 16–31 the high nibbles, as ggml stores them.
    __m512i l = _mm512_cvtepu8_epi32(_mm_and_si128(q, nibble));
    __m512i h = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), nibble));
    if (dtype == CK_Q5_0 || dtype == CK_Q5_1) {
        // Bit e of qh is the fifth bit of element e.
        __m512i fifth = _mm512_set1_epi32(16);
        l = _mm512_mask_or_epi32(l, (__mmask16)(k.qh & 0xFFFF), l, fifth);
        h = _mm512_mask_or_epi32(h, (__mmask16)(k.qh >> 16), h, fifth);
    }
    if (k.offset) {
        __m512i o = _mm512_set1_epi32(k.offset);
        l = _mm512_sub_epi32(l, o);
        h = _mm512_sub_epi32(h, o);
    }
    // (float)q·d, then + m for the _1 types: two roundings, as the scalar code.
    __m512 d = _mm512_set1_ps(k.d);
    *lo = _mm512_mul_ps(_mm512_cvtepi32_ps(l), d);
    *hi = _mm512_mul_ps(_mm512_cvtepi32_ps(h), d);
    if (k.has_min) {
        *lo = _mm512_add_ps(*lo, _mm512_set1_ps(k.m));
        *hi = _mm512_add_ps(*hi, _mm512_set1_ps(k.m));
    }
}

AVX512_TARGET static inline __m256 high8_512(__m512 v) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

// (chain 0 + chain 1) + (chain 2 + chain 3): the 8-lane vector whose hsum8 is the output.
AVX512_TARGET static inline __m256 chains512(__m512 lo, __m512 hi) {
    __m256 s01 = _mm256_add_ps(_mm512_castps512_ps256(lo), high8_512(lo));
    __m256 s23 = _mm256_add_ps(_mm512_castps512_ps256(hi), high8_512(hi));
    return _mm256_add_ps(s01, s23);
}

// ---- Q4/Q5, one token

__attribute__((always_inline)) AVX512_TARGET static inline __m256 quant_row_vector512(int dtype, const uint8_t *row,
                                                                                     int blocks, const float *x) {
    size_t bb = ck_block_bytes(dtype);
    __m512 acc_lo = _mm512_setzero_ps(), acc_hi = _mm512_setzero_ps();
    for (int k = 0; k < blocks; k++) {
        __m512 lo, hi;
        dequant_block512(dtype, row + (size_t)k * bb, &lo, &hi);
        acc_lo = _mm512_fmadd_ps(lo, _mm512_loadu_ps(x + 32 * k), acc_lo);
        acc_hi = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + 32 * k + 16), acc_hi);
    }
    return chains512(acc_lo, acc_hi);
}

// Rows [lo, hi) of one token, four rows per reduction (hsum8x4 adds as hsum8 does).
__attribute__((always_inline)) AVX512_TARGET static inline void quant_vector_rows512(int dtype, const uint8_t *base,
                                                                                    size_t row_bytes, int cols,
                                                                                    const float *x, float *y, int lo,
                                                                                    int hi) {
    int blocks = cols / 32;
    int r = lo;
    for (; r + 4 <= hi; r += 4) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        __m256 v0 = quant_row_vector512(dtype, row, blocks, x);
        __m256 v1 = quant_row_vector512(dtype, row + row_bytes, blocks, x);
        __m256 v2 = quant_row_vector512(dtype, row + 2 * row_bytes, blocks, x);
        __m256 v3 = quant_row_vector512(dtype, row + 3 * row_bytes, blocks, x);
        _mm_storeu_ps(y + r, hsum8x4(v0, v1, v2, v3));
    }
    for (; r < hi; r++) y[r] = hsum8(quant_row_vector512(dtype, base + (size_t)r * row_bytes, blocks, x));
}

// ---- many tokens: one row × T tokens per pass

// Q4/Q5: the dequantized block feeds T tokens' chains.
__attribute__((always_inline)) AVX512_TARGET static inline void quant_row_tokens512(int dtype, int T,
                                                                                   const uint8_t *row, int blocks,
                                                                                   const float *x, int ldx, float *y,
                                                                                   int ldy) {
    size_t bb = ck_block_bytes(dtype);
    __m512 acc_lo[QUANT_TOKEN_GROUP], acc_hi[QUANT_TOKEN_GROUP];
    UNROLL for (int j = 0; j < T; j++) acc_lo[j] = acc_hi[j] = _mm512_setzero_ps();
    for (int k = 0; k < blocks; k++) {
        __m512 lo, hi;
        dequant_block512(dtype, row + (size_t)k * bb, &lo, &hi);
        UNROLL for (int j = 0; j < T; j++) {
            const float *xj = x + (size_t)j * ldx + 32 * k;
            acc_lo[j] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(xj), acc_lo[j]);
            acc_hi[j] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(xj + 16), acc_hi[j]);
        }
    }
    UNROLL for (int j = 0; j < T; j++) y[(size_t)j * ldy] = hsum8(chains512(acc_lo[j], acc_hi[j]));
}

#define ROW_TOKENS(DTYPE, T) quant_row_tokens512(DTYPE, T, row, blocks, x, ldx, y, ldy)

// Rows [lo, hi) for all tokens: tokens in groups of QUANT_TOKEN_GROUP (the group's
// activations stay in L1 while every row passes over them), the last group narrower.
__attribute__((always_inline)) AVX512_TARGET static inline void quant_tokens_rows512(int dtype, const uint8_t *base,
                                                                                    size_t row_bytes, int cols,
                                                                                    const float *X, int ldx,
                                                                                    int n_tokens, float *Y, int ldy,
                                                                                    int lo, int hi) {
    int blocks = cols / 32;
    for (int t = 0; t < n_tokens; t += QUANT_TOKEN_GROUP) {
        int n = n_tokens - t < QUANT_TOKEN_GROUP ? n_tokens - t : QUANT_TOKEN_GROUP;
        const float *x = X + (size_t)t * ldx;
        for (int r = lo; r < hi; r++) {
            const uint8_t *row = base + (size_t)r * row_bytes;
            float *y = Y + (size_t)t * ldy + r;
            switch (n) {
            case 1: ROW_TOKENS(dtype, 1); break;
            case 2: ROW_TOKENS(dtype, 2); break;
            case 3: ROW_TOKENS(dtype, 3); break;
            case 4: ROW_TOKENS(dtype, 4); break;
            case 5: ROW_TOKENS(dtype, 5); break;
            case 6: ROW_TOKENS(dtype, 6); break;
            case 7: ROW_TOKENS(dtype, 7); break;
            default: ROW_TOKENS(dtype, 8); break;
            }
        }
    }
}

// One specialised copy per block type, so the type switches fold away.
#define QUANT_VECTOR512(TYPE, NAME)                                                                          \
    AVX512_TARGET static void NAME(const uint8_t *b, size_t rb, int cols, const float *x, float *y, int lo, \
                                   int hi) {                                                                \
        quant_vector_rows512(TYPE, b, rb, cols, x, y, lo, hi);                                              \
    }
#define QUANT_TOKENS512(TYPE, NAME)                                                                            \
    AVX512_TARGET static void NAME(const uint8_t *b, size_t rb, int cols, const float *X, int ldx, int n,     \
                                   float *Y, int ldy, int lo, int hi) {                                       \
        quant_tokens_rows512(TYPE, b, rb, cols, X, ldx, n, Y, ldy, lo, hi);                                   \
    }
QUANT_VECTOR512(CK_Q4_0, vector_q4_0_512)
QUANT_VECTOR512(CK_Q4_1, vector_q4_1_512)
QUANT_VECTOR512(CK_Q5_0, vector_q5_0_512)
QUANT_VECTOR512(CK_Q5_1, vector_q5_1_512)
QUANT_TOKENS512(CK_Q4_0, tokens_q4_0_512)
QUANT_TOKENS512(CK_Q4_1, tokens_q4_1_512)
QUANT_TOKENS512(CK_Q5_0, tokens_q5_0_512)
QUANT_TOKENS512(CK_Q5_1, tokens_q5_1_512)

AVX512_TARGET void quant_rows_avx512(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X, int ldx,
                       int n_tokens, float *Y, int ldy, int lo, int hi) {
    if (n_tokens == 1) {
        switch (dtype) {
        case CK_Q4_0: vector_q4_0_512(base, row_bytes, cols, X, Y, lo, hi); return;
        case CK_Q4_1: vector_q4_1_512(base, row_bytes, cols, X, Y, lo, hi); return;
        case CK_Q5_0: vector_q5_0_512(base, row_bytes, cols, X, Y, lo, hi); return;
        default: vector_q5_1_512(base, row_bytes, cols, X, Y, lo, hi); return;
        }
    }
    switch (dtype) {
    case CK_Q4_0: tokens_q4_0_512(base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi); return;
    case CK_Q4_1: tokens_q4_1_512(base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi); return;
    case CK_Q5_0: tokens_q5_0_512(base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi); return;
    default: tokens_q5_1_512(base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi); return;
    }
}

#endif
