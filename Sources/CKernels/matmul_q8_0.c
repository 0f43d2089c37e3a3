// Q8_0 products on 16-bit activations.
//
// A Q8_0 block is 32 signed bytes q and one fp16 scale d (weight = q·d). Converting
// each byte to float and multiplying it by a float activation took about five cycles
// per block on an AVX-512 core, so Q8_0 generation was compute-bound well below the
// memory bound. Here each token's activations are rounded to 16-bit integers on one
// scale per token (int_activations.c), a block's 32 products become 16 exact integer
// pair sums (vpmaddwd), and only those are converted to float: three vector
// operations per block and token instead of five.
//
// The order, for token t and row r (the same on every path):
//   a_t, s_t as in int_activations.c (a_t[i] ≈ x_t[i] / s_t, int16)
//   block b (quants q, scale d):  P[l] = q[2l]·a[2l] + q[2l+1]·a[2l+1]   (l = 0 … 15, exact)
//                                 acc[b % 2][l] = fma((float)P[l], d, acc[b % 2][l])
//   v = acc[0] + acc[1] (16 lanes);  u = v[0..7] + v[8..15];  y = hsum8(u) · s_t
// AVX-512 holds the 16 lanes in one register, AVX2 in two (elements 0–15 and 16–31
// of each block), the portable path in an array with fmaf, so all three give the
// same bits. Each output depends only on its row and its own token, so any split of
// rows or tokens (threads, chunked prefill) gives the same bits too.
#include "ck_internal.h"

#include <math.h>

// ---------------------------------------------------------------- portable

static void rows_portable(const uint8_t *base, size_t row_bytes, int cols, const int_acts *A, int n_tokens,
                          float *Y, int ldy, int lo, int hi) {
    int blocks = cols / 32;
    for (int r = lo; r < hi; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        for (int t = 0; t < n_tokens; t++) {
            const int16_t *a = A->a + (size_t)t * A->lda;
            float acc[2][16] = {{0}};
            for (int k = 0; k < blocks; k++) {
                const uint8_t *b = row + (size_t)k * 34;
                const int8_t *q = (const int8_t *)(b + 2);
                float d = f16_to_f32_scalar(rd16(b));
                for (int l = 0; l < 16; l++) {
                    int32_t p = (int32_t)q[2 * l] * a[32 * k + 2 * l] + (int32_t)q[2 * l + 1] * a[32 * k + 2 * l + 1];
                    acc[k & 1][l] = fmaf((float)p, d, acc[k & 1][l]);
                }
            }
            float u[8];
            for (int l = 0; l < 8; l++) u[l] = (acc[0][l] + acc[1][l]) + (acc[0][l + 8] + acc[1][l + 8]);
            Y[(size_t)t * ldy + r] = hsum8_portable(u) * A->s[t];
        }
    }
}

#if CK_X86_SIMD

// Tokens per group of the many-token kernels: each block's quants are widened once
// for the whole group, whose activations stay in L1 while every row passes over them.
enum { Q8_TOKEN_GROUP = 8 };

// ---------------------------------------------------------------- AVX2

// One block for one token: elements 0–15 into lo, 16–31 into hi (lanes 0–7 and 8–15).
#define Q8_BLOCK_AVX2(b, a, lo, hi)                                                                   \
    do {                                                                                              \
        __m256 d_ = _mm256_set1_ps(scale_lookup(b));                                                  \
        __m256i w0_ = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)((b) + 2)));              \
        __m256i w1_ = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)((b) + 18)));             \
        __m256i p0_ = _mm256_madd_epi16(w0_, _mm256_loadu_si256((const __m256i *)(a)));               \
        __m256i p1_ = _mm256_madd_epi16(w1_, _mm256_loadu_si256((const __m256i *)((a) + 16)));        \
        lo = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0_), d_, lo);                                        \
        hi = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1_), d_, hi);                                        \
    } while (0)

// One token, one row: u, whose hsum8 times s_t is the output. With `prefetch`, each
// pair of blocks (68 bytes) also prefetches ROW_PREFETCH_BYTES ahead, as the fp16 row
// kernel does (matmul_float.c; the lines the 4-byte lag skips now and then are the
// hardware prefetcher's).
__attribute__((always_inline)) AVX2_TARGET static inline __m256 row_vector_avx2(const uint8_t *row, int blocks,
                                                                                const int16_t *a, int prefetch) {
    __m256 e_lo = _mm256_setzero_ps(), e_hi = _mm256_setzero_ps();
    __m256 o_lo = _mm256_setzero_ps(), o_hi = _mm256_setzero_ps();
    int k = 0;
    for (; k + 2 <= blocks; k += 2) {
        if (prefetch) _mm_prefetch((const char *)row + (size_t)k * 34 + ROW_PREFETCH_BYTES, _MM_HINT_T0);
        Q8_BLOCK_AVX2(row + (size_t)k * 34, a + 32 * k, e_lo, e_hi);
        Q8_BLOCK_AVX2(row + (size_t)(k + 1) * 34, a + 32 * k + 32, o_lo, o_hi);
    }
    if (k < blocks) Q8_BLOCK_AVX2(row + (size_t)k * 34, a + 32 * k, e_lo, e_hi);
    return _mm256_add_ps(_mm256_add_ps(e_lo, o_lo), _mm256_add_ps(e_hi, o_hi));
}

// One chain of one row for T tokens: blocks of parity c / 2, elements 16·(c % 2) … of
// each (lanes 8·(c % 2) … of the 16). Sixteen registers cannot hold all four chains
// for several tokens, so each pass runs one, as the float tiles do.
__attribute__((always_inline)) AVX2_TARGET static inline void chain_tokens_avx2(int T, int c, const uint8_t *row,
                                                                                int blocks, const int16_t *a,
                                                                                int lda, __m256 *out) {
    int half = 16 * (c % 2);
    __m256 acc[Q8_TOKEN_GROUP];
    UNROLL for (int j = 0; j < T; j++) acc[j] = _mm256_setzero_ps();
    for (int k = c / 2; k < blocks; k += 2) {
        const uint8_t *b = row + (size_t)k * 34;
        __m256 d = _mm256_set1_ps(scale_lookup(b));
        __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 2 + half)));
        UNROLL for (int j = 0; j < T; j++) {
            __m256i p = _mm256_madd_epi16(w, _mm256_loadu_si256((const __m256i *)(a + (size_t)j * lda + 32 * k + half)));
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, acc[j]);
        }
    }
    UNROLL for (int j = 0; j < T; j++) out[j] = acc[j];
}

__attribute__((always_inline)) AVX2_TARGET static inline void row_tokens_avx2(int T, const uint8_t *row, int blocks,
                                                                              const int16_t *a, int lda,
                                                                              const float *s, float *y, int ldy) {
    __m256 sums[4][Q8_TOKEN_GROUP];
    for (int c = 0; c < 4; c++) chain_tokens_avx2(T, c, row, blocks, a, lda, sums[c]);
    // Chains 0–3 are even-low, even-high, odd-low, odd-high: u = (e_lo + o_lo) + (e_hi + o_hi).
    UNROLL for (int j = 0; j < T; j++)
        y[(size_t)j * ldy] = hsum8(_mm256_add_ps(_mm256_add_ps(sums[0][j], sums[2][j]), _mm256_add_ps(sums[1][j], sums[3][j]))) * s[j];
}

// ---------------------------------------------------------------- AVX-512

// One block for one token: the 16 lanes in one register.
#define Q8_BLOCK512(b, a, acc)                                                                                   \
    acc = _mm512_fmadd_ps(                                                                                       \
        _mm512_cvtepi32_ps(_mm512_madd_epi16(_mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)((b) + 2))), \
                                             _mm512_loadu_si512((const void *)(a)))),                            \
        _mm512_set1_ps(scale_lookup(b)), acc)

AVX512_TARGET static inline __m256 fold512(__m512 v) {
    return _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

AVX512_TARGET static inline __m256 row_vector512(const uint8_t *row, int blocks, const int16_t *a) {
    __m512 e = _mm512_setzero_ps(), o = _mm512_setzero_ps();
    int k = 0;
    for (; k + 2 <= blocks; k += 2) {
        Q8_BLOCK512(row + (size_t)k * 34, a + 32 * k, e);
        Q8_BLOCK512(row + (size_t)(k + 1) * 34, a + 32 * k + 32, o);
    }
    if (k < blocks) Q8_BLOCK512(row + (size_t)k * 34, a + 32 * k, e);
    return fold512(_mm512_add_ps(e, o));
}

__attribute__((always_inline)) AVX512_TARGET static inline void block_tokens512(int T, const uint8_t *b,
                                                                                const int16_t *a, int lda,
                                                                                __m512 *acc) {
    __m512 d = _mm512_set1_ps(scale_lookup(b));
    __m512i w = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + 2)));
    UNROLL for (int j = 0; j < T; j++) {
        __m512i p = _mm512_madd_epi16(w, _mm512_loadu_si512((const void *)(a + (size_t)j * lda)));
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc[j]);
    }
}

__attribute__((always_inline)) AVX512_TARGET static inline void row_tokens512(int T, const uint8_t *row, int blocks,
                                                                             const int16_t *a, int lda,
                                                                             const float *s, float *y, int ldy) {
    __m512 even[Q8_TOKEN_GROUP], odd[Q8_TOKEN_GROUP];
    UNROLL for (int j = 0; j < T; j++) even[j] = odd[j] = _mm512_setzero_ps();
    for (int k = 0; k < blocks; k += 2) {
        block_tokens512(T, row + (size_t)k * 34, a + 32 * k, lda, even);
        if (k + 1 < blocks) block_tokens512(T, row + (size_t)(k + 1) * 34, a + 32 * k + 32, lda, odd);
    }
    UNROLL for (int j = 0; j < T; j++) y[(size_t)j * ldy] = hsum8(fold512(_mm512_add_ps(even[j], odd[j]))) * s[j];
}

// ---------------------------------------------------------------- row ranges

// One token over rows [lo, hi): four rows share one hsum8x4 (the same additions as
// hsum8 of each), then one multiply by s_t.
#define VECTOR_ROWS(NAME, TARGET, ROW_VECTOR)                                                                   \
    TARGET static void NAME(const uint8_t *base, size_t row_bytes, int blocks, const int16_t *a, float s,      \
                            float *y, int lo, int hi) {                                                         \
        int r = lo;                                                                                             \
        for (; r + 4 <= hi; r += 4) {                                                                           \
            const uint8_t *row = base + (size_t)r * row_bytes;                                                  \
            __m128 sums = hsum8x4(ROW_VECTOR(row, blocks, a), ROW_VECTOR(row + row_bytes, blocks, a),           \
                                  ROW_VECTOR(row + 2 * row_bytes, blocks, a),                                   \
                                  ROW_VECTOR(row + 3 * row_bytes, blocks, a));                                  \
            _mm_storeu_ps(y + r, _mm_mul_ps(sums, _mm_set1_ps(s)));                                             \
        }                                                                                                       \
        for (; r < hi; r++) y[r] = hsum8(ROW_VECTOR(base + (size_t)r * row_bytes, blocks, a)) * s;              \
    }
#define ROW_VECTOR_AVX2_PF(row, blocks, a) row_vector_avx2(row, blocks, a, 1)
#define ROW_VECTOR_AVX2(row, blocks, a) row_vector_avx2(row, blocks, a, 0)
VECTOR_ROWS(vector_rows_avx2_pf, AVX2_TARGET, ROW_VECTOR_AVX2_PF)
VECTOR_ROWS(vector_rows_avx2, AVX2_TARGET, ROW_VECTOR_AVX2)
VECTOR_ROWS(vector_rows512, AVX512_TARGET, row_vector512)

// Many tokens over rows [lo, hi), tokens in groups of Q8_TOKEN_GROUP (the last narrower).
#define TOKEN_ROWS(NAME, TARGET, ROW_TOKENS)                                                                    \
    TARGET static void NAME(const uint8_t *base, size_t row_bytes, int cols, const int_acts *A, int n_tokens,   \
                            float *Y, int ldy, int lo, int hi) {                                                \
        int blocks = cols / 32;                                                                                 \
        for (int t = 0; t < n_tokens; t += Q8_TOKEN_GROUP) {                                                    \
            int n = n_tokens - t < Q8_TOKEN_GROUP ? n_tokens - t : Q8_TOKEN_GROUP;                              \
            const int16_t *a = A->a + (size_t)t * A->lda;                                                       \
            const float *s = A->s + t;                                                                          \
            for (int r = lo; r < hi; r++) {                                                                     \
                const uint8_t *row = base + (size_t)r * row_bytes;                                              \
                float *y = Y + (size_t)t * ldy + r;                                                             \
                WITH_GROUP_WIDTH(n, Q8_TOKEN_GROUP, ROW_TOKENS, row, blocks, a, (int)A->lda, s, y, ldy)          \
            }                                                                                                   \
        }                                                                                                       \
    }
TOKEN_ROWS(token_rows_avx2, AVX2_TARGET, row_tokens_avx2)
TOKEN_ROWS(token_rows512, AVX512_TARGET, row_tokens512)

#endif

void q8_0_rows(const void *W, int cols, const int_acts *A, int n_tokens, float *Y, int ldy, int lo, int hi) {
    const uint8_t *base = (const uint8_t *)W;
    size_t row_bytes = (size_t)(cols / 32) * 34;
#if CK_X86_SIMD
    if (ck_active_isa()) {
        int avx512 = ck_has_avx512();
        if (n_tokens == 1) {
            if (avx512)
                vector_rows512(base, row_bytes, cols / 32, A->a, A->s[0], Y, lo, hi);
            else if (ck_row_prefetch())
                vector_rows_avx2_pf(base, row_bytes, cols / 32, A->a, A->s[0], Y, lo, hi);
            else
                vector_rows_avx2(base, row_bytes, cols / 32, A->a, A->s[0], Y, lo, hi);
        } else if (avx512) {
            token_rows512(base, row_bytes, cols, A, n_tokens, Y, ldy, lo, hi);
        } else {
            token_rows_avx2(base, row_bytes, cols, A, n_tokens, Y, ldy, lo, hi);
        }
        return;
    }
#endif
    rows_portable(base, row_bytes, cols, A, n_tokens, Y, ldy, lo, hi);
}
