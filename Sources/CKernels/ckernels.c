// SIMD matrix products for rwkv-chat. See include/ckernels.h for the contract.
//
// Summation order (the same on every call of one code path, which is what makes
// step mode, sequence mode and every thread count agree bit for bit):
//   four 8-lane accumulators take 32-element blocks round-robin; a remaining
//   8-element block goes to accumulator 0; the last cols % 8 elements go to a
//   scalar sum. The result is hsum((acc0 + acc1) + (acc2 + acc3)) + scalar.
#include "ckernels.h"

#include <stdlib.h>
#include <string.h>

static int g_force_portable = 0;
static int g_force_avx2 = 0;
#if CK_X86_SIMD
static int host_has_avx512(void);
#endif

// ---------------------------------------------------------------- conversions

static inline float f16_to_f32_scalar(uint16_t h) {
    // Decode sign, exponent and mantissa by hand so the portable path needs no
    // hardware half-precision support.
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {
            // Subnormal half: normalise it into a float32 normal number.
            exp = 127 - 15 + 1;
            while ((mant & 0x400) == 0) {
                mant <<= 1;
                exp--;
            }
            mant &= 0x3FF;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float bf16_to_f32_scalar(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float load_scalar(int dtype, const uint8_t *row, size_t i) {
    switch (dtype) {
    case CK_F16: {
        uint16_t h;
        memcpy(&h, row + 2 * (size_t)i, 2);
        return f16_to_f32_scalar(h);
    }
    case CK_BF16: {
        uint16_t h;
        memcpy(&h, row + 2 * (size_t)i, 2);
        return bf16_to_f32_scalar(h);
    }
    default: {
        float f;
        memcpy(&f, row + 4 * (size_t)i, 4);
        return f;
    }
    }
}

static inline size_t elem_size(int dtype) { return dtype == CK_F32 ? 4 : 2; }

static inline int is_quantized(int dtype) { return dtype >= CK_Q4_0; }

size_t ck_block_bytes(int dtype) {
    switch (dtype) {
    case CK_F32: return 4;
    case CK_F16: case CK_BF16: return 2;
    case CK_Q4_0: return 18;
    case CK_Q4_1: return 20;
    case CK_Q5_0: return 22;
    case CK_Q5_1: return 24;
    case CK_Q8_0: return 34;
    default: return 0;
    }
}

int ck_block_size(int dtype) { return is_quantized(dtype) ? 32 : 1; }

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }

// One block of 32 elements, as ggml's dequantize_row_* computes them (in float32).
static void dequantize_block(int dtype, const uint8_t *b, float *out) {
    switch (dtype) {
    case CK_Q4_0: {
        float d = f16_to_f32_scalar(rd16(b));
        for (int j = 0; j < 16; j++) {
            out[j] = (float)((b[2 + j] & 0x0F) - 8) * d;
            out[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
        }
        break;
    }
    case CK_Q4_1: {
        float d = f16_to_f32_scalar(rd16(b)), m = f16_to_f32_scalar(rd16(b + 2));
        for (int j = 0; j < 16; j++) {
            out[j] = (float)(b[4 + j] & 0x0F) * d + m;
            out[j + 16] = (float)(b[4 + j] >> 4) * d + m;
        }
        break;
    }
    case CK_Q5_0: {
        float d = f16_to_f32_scalar(rd16(b));
        uint32_t qh = rd32(b + 2);
        for (int j = 0; j < 16; j++) {
            int q0 = (b[6 + j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
            int q1 = (b[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            out[j] = (float)(q0 - 16) * d;
            out[j + 16] = (float)(q1 - 16) * d;
        }
        break;
    }
    case CK_Q5_1: {
        float d = f16_to_f32_scalar(rd16(b)), m = f16_to_f32_scalar(rd16(b + 2));
        uint32_t qh = rd32(b + 4);
        for (int j = 0; j < 16; j++) {
            int q0 = (b[8 + j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
            int q1 = (b[8 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            out[j] = (float)q0 * d + m;
            out[j + 16] = (float)q1 * d + m;
        }
        break;
    }
    case CK_Q8_0: {
        float d = f16_to_f32_scalar(rd16(b));
        for (int j = 0; j < 32; j++) out[j] = (float)(int8_t)b[2 + j] * d;
        break;
    }
    default: break;
    }
}

void ck_dequantize(int dtype, const void *src, float *dst, size_t n) {
    const uint8_t *p = (const uint8_t *)src;
    if (!is_quantized(dtype)) {
        for (size_t i = 0; i < n; i++) dst[i] = load_scalar(dtype, p, i);
        return;
    }
    size_t bb = ck_block_bytes(dtype);
    for (size_t k = 0; k < n / 32; k++) dequantize_block(dtype, p + k * bb, dst + 32 * k);
}

// ---------------------------------------------------------------- portable path

// One token: the reference summation order, written with plain loops.
static void dot_rows_portable(int dtype, const uint8_t *row, int cols, const float *X, int ldx,
                              int n_tokens, float *Y, int ldy, int r) {
    float w[8];
    for (int t = 0; t < n_tokens; t++) {
        const float *x = X + (size_t)t * ldx;
        float acc[4][8] = {{0}};
        int i = 0;
        for (; i + 32 <= cols; i += 32) {
            for (int a = 0; a < 4; a++) {
                for (int l = 0; l < 8; l++) w[l] = load_scalar(dtype, row, i + 8 * a + l);
                for (int l = 0; l < 8; l++) acc[a][l] = acc[a][l] + w[l] * x[i + 8 * a + l];
            }
        }
        for (; i + 8 <= cols; i += 8) {
            for (int l = 0; l < 8; l++) w[l] = load_scalar(dtype, row, i + l);
            for (int l = 0; l < 8; l++) acc[0][l] = acc[0][l] + w[l] * x[i + l];
        }
        float tail = 0.0f;
        for (; i < cols; i++) tail = tail + load_scalar(dtype, row, i) * x[i];
        float v[8];
        for (int l = 0; l < 8; l++) v[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
        // Horizontal sum in the same tree the AVX2 path uses.
        float s = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
        Y[(size_t)t * ldy + r] = s + tail;
    }
}

// Q8_0 in the block-sum order described at dot_rows_q8_0_avx2.
static void dot_rows_q8_0_portable(const uint8_t *row, int cols, const float *X, int ldx, int n_tokens, float *Y,
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

// ---------------------------------------------------------------- AVX2 path

#if CK_X86_SIMD
#include <immintrin.h>
#define CK_HAVE_AVX2_PATH 1

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

AVX2_TARGET static inline __m256 load8(int dtype, const uint8_t *row, int i) {
    switch (dtype) {
    case CK_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * (size_t)i)));
    case CK_BF16: {
        __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(row + 2 * (size_t)i)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
    }
    default:
        return _mm256_loadu_ps((const float *)(row + 4 * (size_t)i));
    }
}

AVX2_TARGET static inline float hsum8(__m256 v) {
    // Lanes (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1: the tree the portable path mirrors.
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    __m128 s4 = _mm_add_ps(lo, hi);
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
    return _mm_cvtss_f32(s1);
}

// A block's fp16 scale as float32. Left to itself the compiler turns this into an
// insert (vpinsrw) that merges into another vector register, often an accumulator,
// which chained every block to the one before and halved Q8_0 speed; the empty asm
// makes the zero-extending move stay a move.
AVX2_TARGET static inline float scale16(const uint8_t *p) {
    __m128i h = _mm_cvtsi32_si128((int)rd16(p));
    __asm__("" : "+x"(h));
    return _mm_cvtss_f32(_mm_cvtph_ps(h));
}

AVX2_TARGET static inline float tail_dot(int dtype, const uint8_t *row, int i, int cols, const float *x) {
    float tail = 0.0f;
    for (; i < cols; i++) tail = tail + load_scalar(dtype, row, i) * x[i];
    return tail;
}

// Two tokens share every weight load; each token's own summation order is the
// one-token order exactly.
AVX2_TARGET static void dot_rows_avx2(int dtype, const uint8_t *row, int cols, const float *X, int ldx,
                                      int n_tokens, float *Y, int ldy, int r) {
    int t = 0;
    for (; t + 2 <= n_tokens; t += 2) {
        const float *x0 = X + (size_t)t * ldx;
        const float *x1 = x0 + ldx;
        __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a02 = _mm256_setzero_ps(), a03 = _mm256_setzero_ps();
        __m256 a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps(), a12 = _mm256_setzero_ps(), a13 = _mm256_setzero_ps();
        int i = 0;
        for (; i + 32 <= cols; i += 32) {
            __m256 w0 = load8(dtype, row, i), w1 = load8(dtype, row, i + 8);
            __m256 w2 = load8(dtype, row, i + 16), w3 = load8(dtype, row, i + 24);
            a00 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + i), a00);
            a01 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x0 + i + 8), a01);
            a02 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x0 + i + 16), a02);
            a03 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x0 + i + 24), a03);
            a10 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + i), a10);
            a11 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x1 + i + 8), a11);
            a12 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x1 + i + 16), a12);
            a13 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x1 + i + 24), a13);
        }
        for (; i + 8 <= cols; i += 8) {
            __m256 w0 = load8(dtype, row, i);
            a00 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + i), a00);
            a10 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + i), a10);
        }
        __m256 v0 = _mm256_add_ps(_mm256_add_ps(a00, a01), _mm256_add_ps(a02, a03));
        __m256 v1 = _mm256_add_ps(_mm256_add_ps(a10, a11), _mm256_add_ps(a12, a13));
        Y[(size_t)t * ldy + r] = hsum8(v0) + tail_dot(dtype, row, i, cols, x0);
        Y[(size_t)(t + 1) * ldy + r] = hsum8(v1) + tail_dot(dtype, row, i, cols, x1);
    }
    for (; t < n_tokens; t++) {
        const float *x0 = X + (size_t)t * ldx;
        __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a02 = _mm256_setzero_ps(), a03 = _mm256_setzero_ps();
        int i = 0;
        for (; i + 32 <= cols; i += 32) {
            a00 = _mm256_fmadd_ps(load8(dtype, row, i), _mm256_loadu_ps(x0 + i), a00);
            a01 = _mm256_fmadd_ps(load8(dtype, row, i + 8), _mm256_loadu_ps(x0 + i + 8), a01);
            a02 = _mm256_fmadd_ps(load8(dtype, row, i + 16), _mm256_loadu_ps(x0 + i + 16), a02);
            a03 = _mm256_fmadd_ps(load8(dtype, row, i + 24), _mm256_loadu_ps(x0 + i + 24), a03);
        }
        for (; i + 8 <= cols; i += 8) {
            a00 = _mm256_fmadd_ps(load8(dtype, row, i), _mm256_loadu_ps(x0 + i), a00);
        }
        __m256 v0 = _mm256_add_ps(_mm256_add_ps(a00, a01), _mm256_add_ps(a02, a03));
        Y[(size_t)t * ldy + r] = hsum8(v0) + tail_dot(dtype, row, i, cols, x0);
    }
}

// ---- one token, four rows per reduction (generation)

// hsum8 of four vectors at once, lane for lane the same additions: for each
// vector s4 = low half + high half, then (s4[0] + s4[2]) + (s4[1] + s4[3]).
// Generation spends a few percent of its time on the horizontal sums of short
// rows (768 columns, and 64-column LoRA factors); this shares the shuffles.
AVX2_TARGET static inline __m128 hsum8x4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m128 sa = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 sb = _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));
    __m128 sc = _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
    __m128 sd = _mm256_castps256_ps128(d);
    sd = _mm_add_ps(sd, _mm256_extractf128_ps(d, 1));
    // [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, d.
    __m128 ab = _mm_add_ps(_mm_unpacklo_ps(sa, sb), _mm_unpackhi_ps(sa, sb));
    __m128 cd = _mm_add_ps(_mm_unpacklo_ps(sc, sd), _mm_unpackhi_ps(sc, sd));
    return _mm_add_ps(_mm_movelh_ps(ab, cd), _mm_movehl_ps(cd, ab));
}

// One row's 8-lane vector (acc0 + acc1) + (acc2 + acc3) in dot_rows_avx2's order.
__attribute__((always_inline)) AVX2_TARGET static inline __m256 row_vector(int dtype, const uint8_t *row, int cols,
                                                                           const float *x) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= cols; i += 32) {
        a0 = _mm256_fmadd_ps(load8(dtype, row, i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(load8(dtype, row, i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(load8(dtype, row, i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(load8(dtype, row, i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= cols; i += 8) a0 = _mm256_fmadd_ps(load8(dtype, row, i), _mm256_loadu_ps(x + i), a0);
    return _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
}

// y[r] for rows [lo, hi) of one token; bit-identical to dot_rows_avx2 with n_tokens = 1.
__attribute__((always_inline)) AVX2_TARGET static inline void vector_rows_impl(int dtype, const uint8_t *base,
                                                                               size_t row_bytes, int cols, const float *x,
                                                                               float *y, int lo, int hi) {
    int tail_at = cols & ~7;
    int r = lo;
    for (; r + 4 <= hi; r += 4) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        __m256 v0 = row_vector(dtype, row, cols, x);
        __m256 v1 = row_vector(dtype, row + row_bytes, cols, x);
        __m256 v2 = row_vector(dtype, row + 2 * row_bytes, cols, x);
        __m256 v3 = row_vector(dtype, row + 3 * row_bytes, cols, x);
        __m128 sums = hsum8x4(v0, v1, v2, v3);
        if (tail_at < cols) {
            __m128 tails = _mm_set_ps(tail_dot(dtype, row + 3 * row_bytes, tail_at, cols, x),
                                      tail_dot(dtype, row + 2 * row_bytes, tail_at, cols, x),
                                      tail_dot(dtype, row + row_bytes, tail_at, cols, x),
                                      tail_dot(dtype, row, tail_at, cols, x));
            sums = _mm_add_ps(sums, tails);
        } else {
            // dot_rows_avx2 adds a zero tail; adding it here too keeps the sign of zero sums equal.
            sums = _mm_add_ps(sums, _mm_setzero_ps());
        }
        _mm_storeu_ps(y + r, sums);
    }
    for (; r < hi; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        y[r] = hsum8(row_vector(dtype, row, cols, x)) + tail_dot(dtype, row, tail_at, cols, x);
    }
}

AVX2_TARGET static void vector_rows_f32(const uint8_t *b, size_t rb, int cols, const float *x, float *y, int lo, int hi) {
    vector_rows_impl(CK_F32, b, rb, cols, x, y, lo, hi);
}
AVX2_TARGET static void vector_rows_f16(const uint8_t *b, size_t rb, int cols, const float *x, float *y, int lo, int hi) {
    vector_rows_impl(CK_F16, b, rb, cols, x, y, lo, hi);
}
AVX2_TARGET static void vector_rows_bf16(const uint8_t *b, size_t rb, int cols, const float *x, float *y, int lo, int hi) {
    vector_rows_impl(CK_BF16, b, rb, cols, x, y, lo, hi);
}

// ---- many tokens: register tiles (prefill)
//
// The matrix-vector order gives each output four 8-lane accumulators that take
// 32-element blocks round-robin. They are independent chains, so a tile can run
// them one after another: chain c over every 8-lane group at 32m + 8c for R rows
// × T tokens at once (R·T accumulators in registers, each weight load and
// conversion shared by T tokens, each token load by R rows), park the partial
// sums, and combine them at the end exactly as (acc0 + acc1) + (acc2 + acc3).
// The results are bit-identical to dot_rows_avx2; only the memory traffic and
// the number of loads per multiply-add change.

// One chain over the tile: acc[i][j] = Σ over groups at 32m + 8c of w_i·x_j
// (chain 0 also takes the 8-lane groups after the last full block).
__attribute__((always_inline)) AVX2_TARGET static inline void chain_pass(int dtype, int R, int T, int c,
                                                                         const uint8_t *row, size_t row_bytes, int cols,
                                                                         const float *x, int ldx, __m256 acc[6][6]) {
    // An opaque zero: a literal one let the compiler clear the accumulators with memset.
    __m256 zero = _mm256_setzero_ps();
    __asm__("" : "+x"(zero));
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) acc[i][j] = zero;
    int full = cols / 32;
    int groups_end = c == 0 ? full * 4 + (cols % 32) / 8 : full * 4;
    for (int g = c; g < groups_end; g += (g < full * 4 ? 4 : 1)) {
        int col = 8 * g;
        __m256 w[6];
        for (int i = 0; i < R; i++) w[i] = load8(dtype, row + (size_t)i * row_bytes, col);
        for (int j = 0; j < T; j++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)j * ldx + col);
            for (int i = 0; i < R; i++) acc[i][j] = _mm256_fmadd_ps(w[i], xv, acc[i][j]);
        }
    }
}

__attribute__((always_inline)) AVX2_TARGET static inline void tile_impl(int dtype, int R, int T, const uint8_t *row,
                                                                        size_t row_bytes, int cols, const float *x,
                                                                        int ldx, float *y, int ldy, int r) {
    // Chains 0 and 1 are folded into one parked sum as soon as chain 1 ends, which is
    // the (acc0 + acc1) of the row kernel; chain 2 is parked, chain 3 stays in registers.
    __m256 p01[6][6], p2[6][6], acc[6][6];
    // The empty asm statements keep the parking copies as register stores; without
    // them the compiler spilled the accumulators to call memcpy (4% of prefill).
    chain_pass(dtype, R, T, 0, row, row_bytes, cols, x, ldx, acc);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            __asm__("" : "+x"(acc[i][j]));
            p01[i][j] = acc[i][j];
        }
    chain_pass(dtype, R, T, 1, row, row_bytes, cols, x, ldx, acc);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) p01[i][j] = _mm256_add_ps(p01[i][j], acc[i][j]);
    chain_pass(dtype, R, T, 2, row, row_bytes, cols, x, ldx, acc);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            __asm__("" : "+x"(acc[i][j]));
            p2[i][j] = acc[i][j];
        }
    chain_pass(dtype, R, T, 3, row, row_bytes, cols, x, ldx, acc);
    int tail_at = cols & ~7;
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < T; j++) {
            __m256 v = _mm256_add_ps(p01[i][j], _mm256_add_ps(p2[i][j], acc[i][j]));
            y[(size_t)j * ldy + r + i] = hsum8(v) + tail_dot(dtype, row + (size_t)i * row_bytes, tail_at, cols, x + (size_t)j * ldx);
        }
    }
}

// Tokens are taken in blocks whose activations stay in L2 while every row tile of
// the range passes over them; each row tile's weights stay in L1 across the block.
enum { TILE_TOKEN_BLOCK = 48 };

#define TILE_CALL(R, T)                                                                         \
    do {                                                                                        \
        if (dtype == CK_F16)                                                                    \
            TILE_FN(CK_F16, R, T, row, row_bytes, cols, x, ldx, y, ldy, r);                     \
        else if (dtype == CK_BF16)                                                              \
            TILE_FN(CK_BF16, R, T, row, row_bytes, cols, x, ldx, y, ldy, r);                    \
        else                                                                                    \
            TILE_FN(CK_F32, R, T, row, row_bytes, cols, x, ldx, y, ldy, r);                     \
    } while (0)

// Rows [lo, returned) for all tokens: whole T-token tiles, then one narrower tile
// for the tokens left over. The caller runs the leftover rows (fewer than R).
#define TILED_ROWS(NAME, TARGET, R, T)                                                                          \
    TARGET static int NAME(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X, int ldx,  \
                           int n_tokens, float *Y, int ldy, int lo, int hi) {                                   \
        int rows_done = lo + (hi - lo) / (R) * (R);                                                             \
        int tokens_done = n_tokens / (T) * (T);                                                                 \
        for (int t0 = 0; t0 < n_tokens; t0 += TILE_TOKEN_BLOCK) {                                                \
            int t1 = t0 + TILE_TOKEN_BLOCK < n_tokens ? t0 + TILE_TOKEN_BLOCK : n_tokens;                        \
            for (int r = lo; r < rows_done; r += (R)) {                                                         \
                const uint8_t *row = base + (size_t)r * row_bytes;                                              \
                int t = t0;                                                                                     \
                for (; t + (T) <= t1 && t < tokens_done; t += (T)) {                                            \
                    const float *x = X + (size_t)t * ldx;                                                       \
                    float *y = Y + (size_t)t * ldy;                                                             \
                    TILE_CALL(R, T);                                                                            \
                }                                                                                               \
                if (t < t1) {                                                                                   \
                    const float *x = X + (size_t)t * ldx;                                                       \
                    float *y = Y + (size_t)t * ldy;                                                             \
                    switch (t1 - t) {                                                                           \
                    case 1: TILE_CALL(R, 1); break;                                                             \
                    case 2: TILE_CALL(R, 2); break;                                                             \
                    case 3: TILE_CALL(R, 3); break;                                                             \
                    case 4: TILE_CALL(R, (T) > 4 ? 4 : 1); break;                                               \
                    default: TILE_CALL(R, (T) > 5 ? 5 : 1); break;                                              \
                    }                                                                                           \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
        return rows_done;                                                                                       \
    }

// ---- many tokens with AVX-512: two chains per register
//
// A 16-lane register over 16 consecutive columns at 32m holds chain 0 in lanes
// 0–7 and chain 1 in lanes 8–15 (at 32m + 16: chains 2 and 3), so one pass does
// two chains with half the instructions of the 8-lane tile and each lane still
// does exactly the 8-lane arithmetic. The 8-lane groups after the last full block
// belong to chain 0 alone and are added to lanes 0–7 under a mask.

#define AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx2,fma,f16c")))

__attribute__((always_inline)) AVX512_TARGET static inline __m512 load16(int dtype, const uint8_t *row, int i) {
    switch (dtype) {
    case CK_F16: return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 2 * (size_t)i)));
    case CK_BF16:
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(row + 2 * (size_t)i))), 16));
    default: return _mm512_loadu_ps((const float *)(row + 4 * (size_t)i));
    }
}

__attribute__((always_inline)) AVX512_TARGET static inline __m512 load8_low(int dtype, const uint8_t *row, int i) {
    return _mm512_castps256_ps512(load8(dtype, row, i));
}

__attribute__((always_inline)) AVX512_TARGET static inline void pair_pass(int dtype, int R, int T, int half,
                                                                          const uint8_t *row, size_t row_bytes, int cols,
                                                                          const float *x, int ldx, __m512 acc[6][6]) {
    // An opaque zero: a literal one let the compiler clear the accumulators with memset.
    __m512 zero = _mm512_setzero_ps();
    __asm__("" : "+v"(zero));
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) acc[i][j] = zero;
    int full = cols / 32;
    for (int m = 0; m < full; m++) {
        int col = 32 * m + 16 * half;
        __m512 w[6];
        for (int i = 0; i < R; i++) w[i] = load16(dtype, row + (size_t)i * row_bytes, col);
        for (int j = 0; j < T; j++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)j * ldx + col);
            for (int i = 0; i < R; i++) acc[i][j] = _mm512_fmadd_ps(w[i], xv, acc[i][j]);
        }
    }
    if (half == 0) {
        for (int e = 0; e < (cols % 32) / 8; e++) {
            int col = 32 * full + 8 * e;
            __m512 w[6];
            for (int i = 0; i < R; i++) w[i] = load8_low(dtype, row + (size_t)i * row_bytes, col);
            for (int j = 0; j < T; j++) {
                __m512 xv = _mm512_castps256_ps512(_mm256_loadu_ps(x + (size_t)j * ldx + col));
                for (int i = 0; i < R; i++) acc[i][j] = _mm512_mask3_fmadd_ps(w[i], xv, acc[i][j], 0x00FF);
            }
        }
    }
}

AVX512_TARGET static inline __m256 high8(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

__attribute__((always_inline)) AVX512_TARGET static inline void tile512_impl(int dtype, int R, int T,
                                                                             const uint8_t *row, size_t row_bytes,
                                                                             int cols, const float *x, int ldx, float *y,
                                                                             int ldy, int r) {
    __m512 p01[6][6], acc[6][6];
    pair_pass(dtype, R, T, 0, row, row_bytes, cols, x, ldx, acc);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            __asm__("" : "+v"(acc[i][j]));
            p01[i][j] = acc[i][j];
        }
    pair_pass(dtype, R, T, 1, row, row_bytes, cols, x, ldx, acc);
    int tail_at = cols & ~7;
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < T; j++) {
            // (chain 0 + chain 1) + (chain 2 + chain 3), as the row kernel adds them.
            __m256 s01 = _mm256_add_ps(_mm512_castps512_ps256(p01[i][j]), high8(p01[i][j]));
            __m256 s23 = _mm256_add_ps(_mm512_castps512_ps256(acc[i][j]), high8(acc[i][j]));
            y[(size_t)j * ldy + r + i] =
                hsum8(_mm256_add_ps(s01, s23)) + tail_dot(dtype, row + (size_t)i * row_bytes, tail_at, cols, x + (size_t)j * ldx);
        }
    }
}

// AVX2 has 16 vector registers: 3 × 4 accumulators, 3 weights and a token.
#define TILE_FN tile_impl
TILED_ROWS(tiled_rows_avx2, AVX2_TARGET, 3, 4)
#undef TILE_FN
// AVX-512's 32 registers: 4 × 6 tiles of 16-lane accumulators, two chains per register.
#define TILE_FN tile512_impl
TILED_ROWS(tiled_rows_avx512, AVX512_TARGET, 4, 6)
#undef TILE_FN

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
__attribute__((always_inline)) AVX2_TARGET static inline void load_block(int dtype, const uint8_t *b, __m256 w[4]) {
    __m256i q;
    float d, m = 0;
    int has_min = 0;
    switch (dtype) {
    case CK_Q8_0:
        d = scale16(b);
        q = _mm256_setzero_si256();  // read below, eight quants at a time
        break;
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
    if (dtype == CK_Q8_0) {
        // Sign-extending straight from memory saves the lane shuffles of the general case.
        for (int g = 0; g < 4; g++)
            w[g] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + 8 * g)))), vd);
        return;
    }
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

#define AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx2,fma,f16c")))

AVX512_TARGET static inline float q8_finish_avx512(__m512 even, __m512 odd) {
    __m512 t = _mm512_add_ps(even, odd);
    __m256 lo = _mm512_castps512_ps256(t), hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1));
    return hsum8(_mm256_add_ps(lo, hi));
}

AVX512_TARGET static inline __m512 q8_cvt16(const uint8_t *q) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q)));
}

// One block: p = q[0..15]·x[0..15] + q[16..31]·x[16..31], scaled into acc.
#define Q8_BLOCK_AVX512(q0, q1, d, xb, acc) \
    acc = _mm512_fmadd_ps(_mm512_fmadd_ps(q1, _mm512_loadu_ps((xb) + 16), _mm512_mul_ps(q0, _mm512_loadu_ps(xb))), d, acc)

// Two tokens share each block's conversion (prefill); a lone token runs alone.
// Even blocks feed the first accumulator, odd blocks the second.
AVX512_TARGET static void dot_rows_q8_0_avx512(const uint8_t *row, int cols, const float *X, int ldx, int n_tokens,
                                               float *Y, int ldy, int r) {
    int blocks = cols / 32;
    int t = 0;
    for (; t + 2 <= n_tokens; t += 2) {
        const float *x0 = X + (size_t)t * ldx, *x1 = x0 + ldx;
        __m512 e0 = _mm512_setzero_ps(), o0 = _mm512_setzero_ps(), e1 = _mm512_setzero_ps(), o1 = _mm512_setzero_ps();
        int k = 0;
        for (; k + 2 <= blocks; k += 2) {
            const uint8_t *b = row + (size_t)k * 34, *c = b + 34;
            __m512 d = _mm512_set1_ps(scale16(b)), q0 = q8_cvt16(b + 2), q1 = q8_cvt16(b + 18);
            Q8_BLOCK_AVX512(q0, q1, d, x0 + 32 * k, e0);
            Q8_BLOCK_AVX512(q0, q1, d, x1 + 32 * k, e1);
            __m512 dc = _mm512_set1_ps(scale16(c)), p0 = q8_cvt16(c + 2), p1 = q8_cvt16(c + 18);
            Q8_BLOCK_AVX512(p0, p1, dc, x0 + 32 * k + 32, o0);
            Q8_BLOCK_AVX512(p0, p1, dc, x1 + 32 * k + 32, o1);
        }
        if (k < blocks) {
            const uint8_t *b = row + (size_t)k * 34;
            __m512 d = _mm512_set1_ps(scale16(b)), q0 = q8_cvt16(b + 2), q1 = q8_cvt16(b + 18);
            Q8_BLOCK_AVX512(q0, q1, d, x0 + 32 * k, e0);
            Q8_BLOCK_AVX512(q0, q1, d, x1 + 32 * k, e1);
        }
        Y[(size_t)t * ldy + r] = q8_finish_avx512(e0, o0);
        Y[(size_t)(t + 1) * ldy + r] = q8_finish_avx512(e1, o1);
    }
    for (; t < n_tokens; t++) {
        const float *x0 = X + (size_t)t * ldx;
        __m512 e0 = _mm512_setzero_ps(), o0 = _mm512_setzero_ps();
        int k = 0;
        for (; k + 2 <= blocks; k += 2) {
            const uint8_t *b = row + (size_t)k * 34, *c = b + 34;
            Q8_BLOCK_AVX512(q8_cvt16(b + 2), q8_cvt16(b + 18), _mm512_set1_ps(scale16(b)), x0 + 32 * k, e0);
            Q8_BLOCK_AVX512(q8_cvt16(c + 2), q8_cvt16(c + 18), _mm512_set1_ps(scale16(c)), x0 + 32 * k + 32, o0);
        }
        if (k < blocks) {
            const uint8_t *b = row + (size_t)k * 34;
            Q8_BLOCK_AVX512(q8_cvt16(b + 2), q8_cvt16(b + 18), _mm512_set1_ps(scale16(b)), x0 + 32 * k, e0);
        }
        Y[(size_t)t * ldy + r] = q8_finish_avx512(e0, o0);
    }
}

// One token over rows [lo, hi): each row's 8-lane vector u as in
// q8_finish_avx512, reduced four rows at a time by hsum8x4 (the same additions).
AVX512_TARGET static inline __m256 q8_row_vector(const uint8_t *row, int blocks, const float *x0) {
    __m512 e0 = _mm512_setzero_ps(), o0 = _mm512_setzero_ps();
    int k = 0;
    for (; k + 2 <= blocks; k += 2) {
        const uint8_t *b = row + (size_t)k * 34, *c = b + 34;
        Q8_BLOCK_AVX512(q8_cvt16(b + 2), q8_cvt16(b + 18), _mm512_set1_ps(scale16(b)), x0 + 32 * k, e0);
        Q8_BLOCK_AVX512(q8_cvt16(c + 2), q8_cvt16(c + 18), _mm512_set1_ps(scale16(c)), x0 + 32 * k + 32, o0);
    }
    if (k < blocks) {
        const uint8_t *b = row + (size_t)k * 34;
        Q8_BLOCK_AVX512(q8_cvt16(b + 2), q8_cvt16(b + 18), _mm512_set1_ps(scale16(b)), x0 + 32 * k, e0);
    }
    __m512 t = _mm512_add_ps(e0, o0);
    return _mm256_add_ps(_mm512_castps512_ps256(t), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1)));
}

AVX512_TARGET static void q8_0_vector_rows_avx512(const uint8_t *base, size_t row_bytes, int cols, const float *x,
                                                  float *y, int lo, int hi) {
    int blocks = cols / 32;
    int r = lo;
    for (; r + 4 <= hi; r += 4) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        __m256 u0 = q8_row_vector(row, blocks, x), u1 = q8_row_vector(row + row_bytes, blocks, x);
        __m256 u2 = q8_row_vector(row + 2 * row_bytes, blocks, x), u3 = q8_row_vector(row + 3 * row_bytes, blocks, x);
        _mm_storeu_ps(y + r, hsum8x4(u0, u1, u2, u3));
    }
    for (; r < hi; r++) y[r] = hsum8(q8_row_vector(base + (size_t)r * row_bytes, blocks, x));
}

static int host_has_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    }
    return cached;
}

typedef void (*quant_rows_fn)(const uint8_t *, int, const float *, int, int, float *, int, int);

static quant_rows_fn quant_rows_avx2(int dtype) {
    switch (dtype) {
    case CK_Q8_0: return (host_has_avx512() && !g_force_avx2) ? dot_rows_q8_0_avx512 : dot_rows_q8_0_avx2;
    case CK_Q4_0: return dot_rows_q4_0;
    case CK_Q4_1: return dot_rows_q4_1;
    case CK_Q5_0: return dot_rows_q5_0;
    default: return dot_rows_q5_1;
    }
}

static int host_has_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return cached;
}
#else
#define CK_HAVE_AVX2_PATH 0
static int host_has_avx2(void) { return 0; }
#endif

// ---------------------------------------------------------------- entry points

int ck_active_isa(void) { return (!g_force_portable && host_has_avx2()) ? 1 : 0; }

void ck_force_portable(int on) { g_force_portable = on; }

void ck_force_avx2(int on) { g_force_avx2 = on; }

int ck_has_avx512(void) {
#if CK_HAVE_AVX2_PATH
    return host_has_avx512();
#else
    return 0;
#endif
}

void ck_matmul_rows(int dtype, const void *W, int cols, const float *X, int ldx,
                    int n_tokens, float *Y, int ldy, int row_begin, int row_end) {
    const uint8_t *base = (const uint8_t *)W;
    int fast = ck_active_isa();
    if (is_quantized(dtype)) {
        size_t row_bytes = (size_t)(cols / 32) * ck_block_bytes(dtype);
#if CK_HAVE_AVX2_PATH
        if (fast) {
            if (dtype == CK_Q8_0 && n_tokens == 1 && host_has_avx512() && !g_force_avx2) {
                q8_0_vector_rows_avx512(base, row_bytes, cols, X, Y, row_begin, row_end);
                return;
            }
            // Blocks are dequantized in registers, with the float path's order and values.
            quant_rows_fn rows_fn = quant_rows_avx2(dtype);
            for (int r = row_begin; r < row_end; r++) rows_fn(base + (size_t)r * row_bytes, cols, X, ldx, n_tokens, Y, ldy, r);
            return;
        }
#endif
        // Portable: each row is dequantized into a float row (exactly, as ggml does)
        // and run through the float32 kernel, so the model is never dequantized up
        // front and every output keeps the float32 path's fixed summation order.
        if (dtype == CK_Q8_0) {
            for (int r = row_begin; r < row_end; r++) dot_rows_q8_0_portable(base + (size_t)r * row_bytes, cols, X, ldx, n_tokens, Y, ldy, r);
            return;
        }
        float *tmp = (float *)malloc((size_t)cols * sizeof(float));
        if (!tmp) return;
        for (int r = row_begin; r < row_end; r++) {
            ck_dequantize(dtype, base + (size_t)r * row_bytes, tmp, (size_t)cols);
            dot_rows_portable(CK_F32, (const uint8_t *)tmp, cols, X, ldx, n_tokens, Y, ldy, r);
        }
        free(tmp);
        return;
    }
    size_t row_bytes = (size_t)cols * elem_size(dtype);
#if CK_HAVE_AVX2_PATH
    if (fast && n_tokens == 1) {
        const float *x = X;
        if (dtype == CK_F16)
            vector_rows_f16(base, row_bytes, cols, x, Y, row_begin, row_end);
        else if (dtype == CK_BF16)
            vector_rows_bf16(base, row_bytes, cols, x, Y, row_begin, row_end);
        else
            vector_rows_f32(base, row_bytes, cols, x, Y, row_begin, row_end);
        return;
    }
#endif
#if CK_HAVE_AVX2_PATH
    if (fast && n_tokens >= 2) {
        // Whole tiles first; the rows left over (fewer than a tile) go through the row kernel.
        int avx512 = host_has_avx512() && !g_force_avx2;
        int rows_done = avx512 ? tiled_rows_avx512(dtype, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, row_begin, row_end)
                               : tiled_rows_avx2(dtype, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, row_begin, row_end);
        for (int r = rows_done; r < row_end; r++)
            dot_rows_avx2(dtype, base + (size_t)r * row_bytes, cols, X, ldx, n_tokens, Y, ldy, r);
        return;
    }
#endif
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
#if CK_HAVE_AVX2_PATH
        if (fast) {
            dot_rows_avx2(dtype, row, cols, X, ldx, n_tokens, Y, ldy, r);
            continue;
        }
#endif
        (void)fast;
        dot_rows_portable(dtype, row, cols, X, ldx, n_tokens, Y, ldy, r);
    }
}

void ck_f16_to_f32(const void *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = load_scalar(CK_F16, (const uint8_t *)src, i);
}

void ck_bf16_to_f32(const void *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = load_scalar(CK_BF16, (const uint8_t *)src, i);
}

// ---------------------------------------------------------------- bandwidth probe

#if CK_HAVE_AVX2_PATH
AVX2_TARGET static float stream_sum_avx2(const float *src, size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(src + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(src + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(src + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(src + i + 24));
    }
    float s = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += src[i];
    return s;
}
#endif

float ck_stream_sum(const float *src, size_t n) {
#if CK_HAVE_AVX2_PATH
    if (ck_active_isa()) return stream_sum_avx2(src, n);
#endif
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += src[i + l];
    float s = 0;
    for (int l = 0; l < 8; l++) s += acc[l];
    for (; i < n; i++) s += src[i];
    return s;
}

// ---------------------------------------------------------------- quantization (ggml reference rules)

#include <math.h>

static uint16_t f32_to_f16(float f) {
#if defined(__x86_64__) || defined(__aarch64__)
    _Float16 h = (_Float16)f;
    uint16_t bits;
    memcpy(&bits, &h, 2);
    return bits;
#else
#error "no half-precision conversion on this target"
#endif
}

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static void quantize_block(int dtype, const float *x, uint8_t *b) {
    switch (dtype) {
    case CK_Q8_0: {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        wr16(b, f32_to_f16(d));
        for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
        break;
    }
    case CK_Q4_0: case CK_Q5_0: {
        // The value of largest magnitude maps to −8 (Q4_0) or −16 (Q5_0), as in ggml.
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++) if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        int levels = dtype == CK_Q4_0 ? 8 : 16;
        float d = max / -(float)levels, id = d ? 1.0f / d : 0.0f;
        wr16(b, f32_to_f16(d));
        int top = dtype == CK_Q4_0 ? 15 : 31;
        uint8_t q[32];
        for (int j = 0; j < 32; j++) {
            int v = (int)(x[j] * id + (float)levels + 0.5f);
            q[j] = (uint8_t)(v < 0 ? 0 : v > top ? top : v);
        }
        if (dtype == CK_Q4_0) {
            for (int j = 0; j < 16; j++) b[2 + j] = (uint8_t)(q[j] | (q[j + 16] << 4));
        } else {
            uint32_t qh = 0;
            for (int j = 0; j < 32; j++) qh |= (uint32_t)((q[j] >> 4) & 1) << j;
            wr32(b + 2, qh);
            for (int j = 0; j < 16; j++) b[6 + j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
        }
        break;
    }
    case CK_Q4_1: case CK_Q5_1: {
        float min = x[0], max = x[0];
        for (int j = 1; j < 32; j++) { min = fminf(min, x[j]); max = fmaxf(max, x[j]); }
        int top = dtype == CK_Q4_1 ? 15 : 31;
        float d = (max - min) / (float)top, id = d ? 1.0f / d : 0.0f;
        wr16(b, f32_to_f16(d));
        wr16(b + 2, f32_to_f16(min));
        uint8_t q[32];
        for (int j = 0; j < 32; j++) {
            int v = (int)((x[j] - min) * id + 0.5f);
            q[j] = (uint8_t)(v < 0 ? 0 : v > top ? top : v);
        }
        if (dtype == CK_Q4_1) {
            for (int j = 0; j < 16; j++) b[4 + j] = (uint8_t)(q[j] | (q[j + 16] << 4));
        } else {
            uint32_t qh = 0;
            for (int j = 0; j < 32; j++) qh |= (uint32_t)((q[j] >> 4) & 1) << j;
            wr32(b + 4, qh);
            for (int j = 0; j < 16; j++) b[8 + j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
        }
        break;
    }
    default: break;
    }
}

size_t ck_quantize(int dtype, const float *src, void *dst, size_t n) {
    uint8_t *out = (uint8_t *)dst;
    if (dtype == CK_F32) { memcpy(out, src, n * 4); return n * 4; }
    if (dtype == CK_F16) { for (size_t i = 0; i < n; i++) wr16(out + 2 * i, f32_to_f16(src[i])); return n * 2; }
    size_t bb = ck_block_bytes(dtype);
    for (size_t k = 0; k < n / 32; k++) quantize_block(dtype, src + 32 * k, out + k * bb);
    return n / 32 * bb;
}
