// Internal to CKernels: the helpers and kernel entry points the kernel files share.
// Not part of the module's interface (include/ckernels.h is).
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

#include "ckernels.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/// Set by ck_force_portable / ck_force_avx2 (tests and benchmarks).
extern int g_force_portable;
extern int g_force_avx2;

// ---------------------------------------------------------------- scalar helpers

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

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }


// ---------------------------------------------------------------- portable kernels

/// Rows [r] of the float types in the reference order (matmul_float.c).
void dot_rows_portable(int dtype, const uint8_t *row, int cols, const float *X, int ldx, int n_tokens, float *Y,
                       int ldy, int r);

/// The 8-lane horizontal sum in the tree every vector path uses (hsum8): lanes
/// (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1.
static inline float hsum8_portable(const float u[8]) {
    return ((u[0] + u[4]) + (u[2] + u[6])) + ((u[1] + u[5]) + (u[3] + u[7]));
}

// Fully unrolled row and token loops let every accumulator live in a register; left
// to itself, clang kept the arrays on the stack.
#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL
#endif

// ---------------------------------------------------------------- block scales and headers

// Every half-precision value as float32, indexed by its bits (ckernels.c; filled by
// ck_half_table_init before the first quantized product). A block's fp16 scale read
// from it is one load that the multiply-add can broadcast itself; converting it in
// registers took three vector operations per block (and, left to the compiler, an
// insert that merged into an accumulator and chained every block to the one before),
// which made Q8_0 on one thread 10% slower.
extern float ck_half_table[65536];
void ck_half_table_init(void);

static inline float scale_lookup(const uint8_t *p) { return ck_half_table[rd16(p)]; }

// The fields of one Q4_0/Q4_1/Q5_0/Q5_1 block (ggml's layouts, see ckernels.h): its
// scale, its minimum (the _1 types), the 16 bytes of nibbles, the 32 fifth bits (Q5)
// and the offset the _0 types subtract. Every Q4/Q5 kernel reads a block through this.
typedef struct {
    float d, m;
    int has_min;
    const uint8_t *qs;
    uint32_t qh;
    int offset;
} q45_block;

static inline q45_block q45_parse(int dtype, const uint8_t *b) {
    q45_block k = {scale_lookup(b), 0, 0, b + 2, 0, 0};
    switch (dtype) {
    case CK_Q4_0:
        k.offset = 8;
        break;
    case CK_Q4_1:
        k.m = scale_lookup(b + 2);
        k.has_min = 1;
        k.qs = b + 4;
        break;
    case CK_Q5_0:
        k.qh = rd32(b + 2);
        k.qs = b + 6;
        k.offset = 16;
        break;
    default:  // CK_Q5_1
        k.m = scale_lookup(b + 2);
        k.has_min = 1;
        k.qh = rd32(b + 4);
        k.qs = b + 8;
        break;
    }
    return k;
}

// ---------------------------------------------------------------- integer activations (int_activations.c)

/// Activations rounded to integers for the quantized products, on one scale per
/// token: a = rint(x · R / max|x|), s = max|x| / R. Q8_0 takes 16-bit integers
/// (R = CK_ACT_RANGE16); Q4/Q5 take 24-bit ones (R = CK_ACT_RANGE24) as three
/// signed-byte digits, a = 65536·hi + 256·mid + lo, each in [−128, 127].
#define CK_ACT_RANGE16 32767
#define CK_ACT_RANGE24 8355711 /* 127 · (65536 + 256 + 1): the largest three balanced digits hold */

/// Tokens per group of the sums' layout (and of the AVX-512 many-token kernels).
enum { CK_ACT_GROUP = 8 };

typedef struct {
    const int16_t *a;   ///< [n_tokens][lda] (16-bit form only)
    size_t lda;         ///< cols + 32, padded as ldd is (for Q8_0 no difference was measured: 8 tokens' lines fit in one L1 set)
    /// Digit form only: token t's block k at dig + t·ldd + 96k holds 32 digits of 65536,
    /// then 32 of 256, then 32 of 1. Rows are 3·cols + 64 bytes apart: a whole number of
    /// 4 KiB pages would put a group's tokens in the same L1 sets (at 0.4B, FFN rows of
    /// 4,096 columns halved the many-token kernel's speed).
    const int8_t *dig;
    size_t ldd;
    const float *sum;   ///< [⌈n_tokens / 8⌉][sum_blocks][8]: Σ a over each block, 8 tokens side by side (digit form only)
    size_t sum_blocks;  ///< blocks per token group in `sum`: cols / 32, also in a view of some of the columns
    const float *s;     ///< [n_tokens]: max|x| / R (NaN when a value is not finite)
} int_acts;

/// The activations of columns [c0, …) of A (c0 a multiple of 32): the same tokens and
/// scales, so a product over those columns adds up with the others exactly as one
/// rounding of the whole row.
static inline int_acts acts_from_column(const int_acts *A, int c0) {
    int_acts v = *A;
    size_t k0 = (size_t)c0 / 32;
    if (v.a) v.a += c0;
    if (v.dig) {
        v.dig += 96 * k0;
        v.sum += k0 * CK_ACT_GROUP;
    }
    return v;
}

/// Whether a block type's kernels take the 24-bit digit form (Q4/Q5) or the 16-bit form (Q8_0).
static inline int acts_need_digits(int dtype) { return dtype != CK_Q8_0; }

/// Bytes of the activations of n_tokens tokens of `cols` columns (cols a multiple of 32).
size_t int_acts_bytes(int cols, int n_tokens, int digits);

/// Rounds X ([n_tokens][ldx], `cols` used) into `mem` (int_acts_bytes, 64-byte aligned).
int_acts int_acts_prepare(const float *X, int ldx, int cols, int n_tokens, int digits, void *mem);

/// The per-thread scratch buffers: one slot per use that may be live at the same time
/// as another on one thread (a batch's rounded activations, a panel's partial sums,
/// the float32 copy of a row block that the AVX2 prefill tiles read, the row-lane
/// kernel's transposed row block and permuted inputs, and a batch's row-lane inputs,
/// which the calling thread prepares and every thread reads while the calling thread
/// may run unprepared products itself).
enum {
    SCRATCH_ACTS = 0,
    SCRATCH_PANEL_PARTIALS = 1,
    SCRATCH_TILE_PANEL = 2,
    SCRATCH_ROWLANE_PANEL = 3,
    SCRATCH_ROWLANE_INPUTS = 4,
    SCRATCH_BATCH_INPUTS = 5,
    SCRATCH_SLOTS = 6
};

/// This thread's scratch buffer `slot` of at least `bytes` (64-byte aligned; reused by
/// the next call for the slot on the same thread, freed when the thread ends); NULL
/// when memory runs out (ckernels.c).
void *thread_scratch(int slot, size_t bytes);

/// This thread's scratch for integer activations (thread_scratch's SCRATCH_ACTS).
static inline void *int_acts_scratch(size_t bytes) { return thread_scratch(SCRATCH_ACTS, bytes); }

/// NaN in rows [lo, hi) of Y for every token: what a product that ran out of memory
/// returns, rather than stale values.
static inline void fill_nan_rows(float *Y, int ldy, int n_tokens, int lo, int hi) {
    for (int t = 0; t < n_tokens; t++)
        for (int r = lo; r < hi; r++) Y[(size_t)t * ldy + r] = NAN;
}

/// Rounds X for one call of a quantized product into this thread's scratch (*out).
/// When memory runs out, fills rows [lo, hi) of Y with NaN and returns 0 (ckernels.c).
int round_for_call(int dtype, const float *X, int ldx, int cols, int n_tokens, float *Y, int ldy, int lo, int hi,
                   int_acts *out);

/// Y[t][r] for rows [lo, hi) of a Q8_0 matrix and prepared activations (matmul_q8_0.c).
void q8_0_rows(const void *W, int cols, const int_acts *A, int n_tokens, float *Y, int ldy, int lo, int hi);

/// The same for Q4_0, Q4_1, Q5_0 and Q5_1 (matmul_q45.c); A prepared with digits.
void q45_rows(int dtype, const void *W, int cols, const int_acts *A, int n_tokens, float *Y, int ldy, int lo, int hi);

/// Rows [lo, hi) of any block type on its prepared activations.
static inline void quant_rows(int dtype, const void *W, int cols, const int_acts *A, int n_tokens, float *Y, int ldy,
                              int lo, int hi) {
    if (dtype == CK_Q8_0)
        q8_0_rows(W, cols, A, n_tokens, Y, ldy, lo, hi);
    else
        q45_rows(dtype, W, cols, A, n_tokens, Y, ldy, lo, hi);
}

/// Calls FN(T, ...) with T a constant equal to n (1 … 8, at most GROUP), so that a
/// many-token kernel is unrolled for each width of a token group.
#define WITH_GROUP_WIDTH(n, GROUP, FN, ...)                       \
    switch (n) {                                                  \
    case 1: FN(1, __VA_ARGS__); break;                            \
    case 2: FN(2 < (GROUP) ? 2 : (GROUP), __VA_ARGS__); break;    \
    case 3: FN(3 < (GROUP) ? 3 : (GROUP), __VA_ARGS__); break;    \
    case 4: FN(4 < (GROUP) ? 4 : (GROUP), __VA_ARGS__); break;    \
    case 5: FN(5 < (GROUP) ? 5 : (GROUP), __VA_ARGS__); break;    \
    case 6: FN(6 < (GROUP) ? 6 : (GROUP), __VA_ARGS__); break;    \
    case 7: FN(7 < (GROUP) ? 7 : (GROUP), __VA_ARGS__); break;    \
    default: FN(GROUP, __VA_ARGS__); break;                       \
    }

// Rows [lo, hi) of a product stored as column panels (matmul_panels.c); `acts` are
// the product's rounded activations when its type is quantized, else NULL.
void panel_rows(const ck_product *m, const int_acts *acts, int n_tokens, int lo, int hi);

/// A product's inputs laid out for the row-lane kernel (matmul_rowlanes.c): n_tokens
/// rows of `stride` floats, prepared once for a batch and read by every thread. `data`
/// is NULL when they were not prepared; the kernel then lays them out itself.
typedef struct {
    const float *data;
    size_t stride;
} rowlane_inputs;

/// 1 when a product of this type and shape runs in row-lane tiles on this host
/// (ckernels.c), so that preparing its inputs once for a batch pays.
int rowlane_takes(int dtype, int cols, int n_tokens);

/// Bytes rowlane_prepare writes for cols × n_tokens inputs (matmul_rowlanes.c).
size_t rowlane_inputs_bytes(int cols, int n_tokens);

/// X ([n_tokens][ldx], `cols` used) laid out for the row-lane kernel in `mem`
/// (rowlane_inputs_bytes, 32-byte aligned) (matmul_rowlanes.c).
rowlane_inputs rowlane_prepare(const float *X, int ldx, int cols, int n_tokens, float *mem);

/// ck_matmul_rows for a float type, given the inputs already prepared (or NULL) and
/// the end of the matrix's rows (rows [row_end, rows_total) may be prefetched, never
/// computed) (ckernels.c).
void float_rows(int dtype, const void *W, int cols, const float *X, int ldx, int n_tokens, float *Y, int ldy,
                int row_begin, int row_end, const rowlane_inputs *prepared, int rows_total);

// Rows [lo, hi) of a product, row-major or in panels; `acts` as for panel_rows, `xp`
// the prepared row-lane inputs of a float product (or NULL).
static inline void product_rows(const ck_product *m, const int_acts *acts, const rowlane_inputs *xp, int n_tokens,
                                int lo, int hi) {
    if (m->panel_cols > 0 && m->panel_cols < m->cols)
        panel_rows(m, acts, n_tokens, lo, hi);
    else if (acts)
        quant_rows(m->dtype, m->W, m->cols, acts, n_tokens, m->Y, m->ldy, lo, hi);
    else
        float_rows(m->dtype, m->W, m->cols, m->X, m->ldx, n_tokens, m->Y, m->ldy, lo, hi, xp, m->rows);
}

#if CK_X86_SIMD
#include <immintrin.h>

#define AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma,f16c")))
#define VNNI_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma,f16c")))
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

AVX2_TARGET static inline float tail_dot(int dtype, const uint8_t *row, int i, int cols, const float *x) {
    float tail = 0.0f;
    for (; i < cols; i++) tail = tail + load_scalar(dtype, row, i) * x[i];
    return tail;
}

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


/// out[q] = column q of the 8 × 8 block in[0..7] (in[i] holds row i); the narrow and
/// row-lane kernels transpose weights and inputs with it.
__attribute__((always_inline)) AVX2_TARGET static inline void transpose8(__m256 in[8], __m256 out[8]) {
    __m256 t0 = _mm256_unpacklo_ps(in[0], in[1]), t1 = _mm256_unpackhi_ps(in[0], in[1]);
    __m256 t2 = _mm256_unpacklo_ps(in[2], in[3]), t3 = _mm256_unpackhi_ps(in[2], in[3]);
    __m256 t4 = _mm256_unpacklo_ps(in[4], in[5]), t5 = _mm256_unpackhi_ps(in[4], in[5]);
    __m256 t6 = _mm256_unpacklo_ps(in[6], in[7]), t7 = _mm256_unpackhi_ps(in[6], in[7]);
    // s_q holds columns q (low half) and q + 4 (high half) of rows 0-3, u_q of rows 4-7.
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u0 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u1 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u2 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u3 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    out[0] = _mm256_permute2f128_ps(s0, u0, 0x20);
    out[1] = _mm256_permute2f128_ps(s1, u1, 0x20);
    out[2] = _mm256_permute2f128_ps(s2, u2, 0x20);
    out[3] = _mm256_permute2f128_ps(s3, u3, 0x20);
    out[4] = _mm256_permute2f128_ps(s0, u0, 0x31);
    out[5] = _mm256_permute2f128_ps(s1, u1, 0x31);
    out[6] = _mm256_permute2f128_ps(s2, u2, 0x31);
    out[7] = _mm256_permute2f128_ps(s3, u3, 0x31);
}

/// 1 when the host has AVX2, FMA and F16C (ckernels.c).
int host_has_avx2(void);

/// 1 when the host has AVX-512 F, VL and BW (ckernels.c).
int host_has_avx512(void);

/// How far ahead the one-token kernels prefetch weights when ck_row_prefetch() is on (matmul_float.c).
enum { ROW_PREFETCH_BYTES = 1024 };

/// One row of a float type for n_tokens tokens, two tokens per weight load (matmul_float.c).
void dot_rows_avx2(int dtype, const uint8_t *row, int cols, const float *X, int ldx, int n_tokens, float *Y,
                   int ldy, int r);

/// One token over rows [lo, hi) of a float type, four rows per reduction (matmul_float.c).
void vector_rows_f32(const uint8_t *b, size_t rb, int cols, const float *x, float *y, int lo, int hi);
void vector_rows_f16(const uint8_t *b, size_t rb, int cols, const float *x, float *y, int lo, int hi);
void vector_rows_bf16(const uint8_t *b, size_t rb, int cols, const float *x, float *y, int lo, int hi);

/// Register-tiled rows [lo, returned) for all tokens (matmul_float.c); the caller runs the rest.
int tiled_rows_avx2(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X, int ldx,
                    int n_tokens, float *Y, int ldy, int lo, int hi);
int tiled_rows_avx512(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X, int ldx,
                      int n_tokens, float *Y, int ldy, int lo, int hi);

/// The widest rows narrow_rows_avx2 takes (the LoRA factors' ranks are 32 to 128 at
/// the 0.1B and 0.4B shapes; wider ones run faster in the register tiles), and the
/// fewest tokens.
enum { NARROW_MAX_COLS = 128, NARROW_MIN_TOKENS = 4 };

/// Rows [lo, returned) for all tokens of a matrix at most NARROW_MAX_COLS wide in whole
/// 32-column blocks, eight rows per register (matmul_narrow.c); returns lo for any other
/// matrix or fewer than NARROW_MIN_TOKENS tokens. The caller runs the rest.
int narrow_rows_avx2(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X, int ldx,
                     int n_tokens, float *Y, int ldy, int lo, int hi);

/// The fewest tokens rowlane_rows_avx2 takes: one whole tile of them.
enum { RL_MIN_TOKENS = 6 };

/// Rows [lo, returned) for all tokens in 16-row tiles with the lanes over rows
/// (matmul_rowlanes.c); returns lo for matrices narrower than 32 columns, fewer than
/// 16 rows or RL_MIN_TOKENS tokens, or when its scratch cannot be had. The caller
/// runs the rest.
/// `prepared` may be NULL; rows [hi, rows_total) are only prefetched.
int rowlane_rows_avx2(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X, int ldx,
                      int n_tokens, float *Y, int ldy, int lo, int hi, const rowlane_inputs *prepared,
                      int rows_total);

/// 1 when the host also has AVX-512 VNNI (ckernels.c).
int host_has_vnni(void);

#endif

#endif
