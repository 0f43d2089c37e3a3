// Matrix products over ggml block-quantized rows (see include/ckernels.h).
//
// Q4_0, Q4_1, Q5_0 and Q5_1 blocks are dequantized in registers with exactly
// ggml's float operations and then summed in the float order (matmul_float.c).
// Q8_0 has its own kernels and order (matmul_q8_0.c).
#include "ck_internal.h"

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
// For Q4_0, Q4_1, Q5_0 and Q5_1 (Q8_0: matmul_q8_0.c).
__attribute__((always_inline)) AVX2_TARGET static inline void load_block(int dtype, const uint8_t *b, __m256 w[4]) {
    q45_block k = q45_parse(dtype, b);
    __m256i q = nibbles32(k.qs);
    if (dtype == CK_Q5_0 || dtype == CK_Q5_1) q = _mm256_or_si256(q, high_bits32(k.qh));
    if (k.offset) q = _mm256_sub_epi8(q, _mm256_set1_epi8((char)k.offset));
    __m256 vd = _mm256_set1_ps(k.d);
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int g = 0; g < 4; g++) {
        // (float)q·d, then + m for the _1 types: two roundings, as the scalar code.
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[g])), vd);
        w[g] = k.has_min ? _mm256_add_ps(v, _mm256_set1_ps(k.m)) : v;
    }
}

// The float path's summation order over quantized rows (cols is a multiple of 32,
// so there is no tail): block k feeds accumulators 0–3 with its four 8-element
// groups, exactly like a 32-element step of dot_rows_avx2. One token at a time;
// many tokens go through the token-group kernel below.
__attribute__((always_inline)) AVX2_TARGET static inline void dot_rows_quant_avx2_impl(
    int dtype, const uint8_t *row, int cols, const float *X, int ldx, int n_tokens, float *Y, int ldy, int r) {
    size_t bb = ck_block_bytes(dtype);
    int blocks = cols / 32;
    for (int t = 0; t < n_tokens; t++) {
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

// ---- many tokens with AVX2: one row × up to 8 tokens, one chain at a time
//
// Sixteen registers cannot hold four chains for several tokens, so (as the float
// tiles do) each pass runs one chain: chain c of Q4/Q5 needs only elements 8c …
// 8c + 7 of each block, dequantized once for all the tokens of the group. The
// passes' sums are parked in memory and combined in the one-token kernels' order,
// so every output is bit-identical to them.

#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL
#endif

enum { AVX2_TOKEN_GROUP = 8 };

// Elements 8c … 8c + 7 of a Q4/Q5 block, with load_block's values: group 0 is the
// low nibbles of bytes 0–7, group 1 of bytes 8–15, groups 2 and 3 the high nibbles;
// the fifth bits of Q5 are bits 8c … 8c + 7 of qh.
__attribute__((always_inline)) AVX2_TARGET static inline __m256 load_group(int dtype, const uint8_t *b, int c) {
    q45_block k = q45_parse(dtype, b);
    __m128i bytes = _mm_loadl_epi64((const __m128i *)(k.qs + 8 * (c & 1)));
    if (c >= 2) bytes = _mm_srli_epi16(bytes, 4);
    __m256i q = _mm256_cvtepu8_epi32(_mm_and_si128(bytes, _mm_set1_epi8(0x0F)));
    if (dtype == CK_Q5_0 || dtype == CK_Q5_1) {
        __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        __m256i bits = _mm256_and_si256(_mm256_set1_epi32((int)((k.qh >> (8 * c)) & 0xFF)), lane);
        q = _mm256_or_si256(q, _mm256_and_si256(_mm256_cmpeq_epi32(bits, lane), _mm256_set1_epi32(16)));
    }
    if (k.offset) q = _mm256_sub_epi32(q, _mm256_set1_epi32(k.offset));
    // (float)q·d, then + m for the _1 types: two roundings, as the scalar code.
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(k.d));
    return k.has_min ? _mm256_add_ps(v, _mm256_set1_ps(k.m)) : v;
}

// One pass: chain c of one row for T tokens (x: the group's first token at column 0).
__attribute__((always_inline)) AVX2_TARGET static inline void chain_tokens(int dtype, int T, int c, const uint8_t *row,
                                                                           int blocks, const float *x, int ldx,
                                                                           __m256 *out) {
    size_t bb = ck_block_bytes(dtype);
    __m256 acc[AVX2_TOKEN_GROUP];
    UNROLL for (int j = 0; j < T; j++) acc[j] = _mm256_setzero_ps();
    for (int k = 0; k < blocks; k++) {
        __m256 w = load_group(dtype, row + (size_t)k * bb, c);
        UNROLL for (int j = 0; j < T; j++)
            acc[j] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + (size_t)j * ldx + 32 * k + 8 * c), acc[j]);
    }
    UNROLL for (int j = 0; j < T; j++) out[j] = acc[j];
}

__attribute__((always_inline)) AVX2_TARGET static inline void quant_row_tokens_avx2(int dtype, int T, const uint8_t *row,
                                                                                    int blocks, const float *x, int ldx,
                                                                                    float *y, int ldy) {
    __m256 sums[4][AVX2_TOKEN_GROUP];
    for (int c = 0; c < 4; c++) chain_tokens(dtype, T, c, row, blocks, x, ldx, sums[c]);
    UNROLL for (int j = 0; j < T; j++)
        y[(size_t)j * ldy] = hsum8(_mm256_add_ps(_mm256_add_ps(sums[0][j], sums[1][j]), _mm256_add_ps(sums[2][j], sums[3][j])));
}

#define ROW_TOKENS_AVX2(T) quant_row_tokens_avx2(dtype, T, base + (size_t)r * row_bytes, blocks, x, ldx, y + r, ldy)

// Rows [lo, hi) for all tokens, tokens in groups of 8 (the group's activations stay
// in L1 while every row passes over them).
__attribute__((always_inline)) AVX2_TARGET static inline void quant_tokens_rows_avx2_impl(
    int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X, int ldx, int n_tokens, float *Y,
    int ldy, int lo, int hi) {
    int blocks = cols / 32;
    for (int t = 0; t < n_tokens; t += AVX2_TOKEN_GROUP) {
        int n = n_tokens - t < AVX2_TOKEN_GROUP ? n_tokens - t : AVX2_TOKEN_GROUP;
        const float *x = X + (size_t)t * ldx;
        float *y = Y + (size_t)t * ldy;
        for (int r = lo; r < hi; r++) {
            switch (n) {
            case 1: ROW_TOKENS_AVX2(1); break;
            case 2: ROW_TOKENS_AVX2(2); break;
            case 3: ROW_TOKENS_AVX2(3); break;
            case 4: ROW_TOKENS_AVX2(4); break;
            case 5: ROW_TOKENS_AVX2(5); break;
            case 6: ROW_TOKENS_AVX2(6); break;
            case 7: ROW_TOKENS_AVX2(7); break;
            default: ROW_TOKENS_AVX2(8); break;
            }
        }
    }
}

#define QUANT_TOKENS_AVX2(NAME, TYPE)                                                                          \
    AVX2_TARGET static void NAME(const uint8_t *b, size_t rb, int cols, const float *X, int ldx, int n, float *Y, \
                                 int ldy, int lo, int hi) {                                                     \
        quant_tokens_rows_avx2_impl(TYPE, b, rb, cols, X, ldx, n, Y, ldy, lo, hi);                              \
    }
QUANT_TOKENS_AVX2(tokens_q4_0_avx2, CK_Q4_0)
QUANT_TOKENS_AVX2(tokens_q4_1_avx2, CK_Q4_1)
QUANT_TOKENS_AVX2(tokens_q5_0_avx2, CK_Q5_0)
QUANT_TOKENS_AVX2(tokens_q5_1_avx2, CK_Q5_1)

AVX2_TARGET void quant_tokens_rows_avx2(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X,
                                        int ldx, int n_tokens, float *Y, int ldy, int lo, int hi) {
    switch (dtype) {
    case CK_Q4_0: tokens_q4_0_avx2(base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi); return;
    case CK_Q4_1: tokens_q4_1_avx2(base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi); return;
    case CK_Q5_0: tokens_q5_0_avx2(base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi); return;
    default: tokens_q5_1_avx2(base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi); return;
    }
}

quant_rows_fn quant_rows_avx2(int dtype) {
    switch (dtype) {
    case CK_Q4_0: return dot_rows_q4_0;
    case CK_Q4_1: return dot_rows_q4_1;
    case CK_Q5_0: return dot_rows_q5_0;
    default: return dot_rows_q5_1;
    }
}

#endif
