// Q4_0, Q4_1, Q5_0 and Q5_1 products on integer activations.
//
// Weight e of a block is q_e·d + m (the _1 types) or (q_e − o)·d (the _0 types, o = 8
// or 16), with q_e an unsigned 4- or 5-bit integer: elements 0–15 are the low nibbles
// of the block's 16 bytes, 16–31 the high nibbles, and bit e of qh is element e's
// fifth bit. With the activations rounded to 24-bit integers as in
// int_activations.c (a ≈ x / s), a block contributes d·Σ q_e·a_e + m·Σ a_e, where
// m = −o·d for the _0 types. The first sum is exact in integers: a = 65536·hi +
// 256·mid + lo with signed-byte digits, and vpdpbusd (without VNNI: vpmaddubsw, then
// vpmaddwd by ones) multiplies the unsigned quants by each digit four at a time.
// Σ a_e per block is computed once per token. Dequantizing to float instead (ggml's
// values, then the float order) took about ten cycles per block in L1; this takes
// about seven.
//
// The order, for token t and row r (the same on every path):
//   block b:  P[j] = Σ_{e = 4j … 4j+3} q_e·a_e   (j = 0 … 7, exact: |P| < 2^30)
//             acc[b % 2][j] = fma((float)P[j], d, acc[b % 2][j])
//             mac = fma(m, Σ_e a_e, mac)        (one scalar chain, in block order)
//   y = (hsum8(acc[0] + acc[1]) + mac) · s_t
// The AVX-512 (VNNI), AVX2 and portable paths agree bit for bit, and each output
// depends only on its row and its own token.
#include "ck_internal.h"

#include <math.h>

// The block's term for Σ a_e: its minimum, or −offset·d (exact: the offset is a power of two).
static inline float block_min(const q45_block *k) { return k->has_min ? k->m : -(float)k->offset * k->d; }

static inline const float *block_sums(const int_acts *A, int t) {
    return A->sum + (size_t)(t / CK_ACT_GROUP) * A->sum_blocks * CK_ACT_GROUP + t % CK_ACT_GROUP;
}

// ---------------------------------------------------------------- portable

static void rows_portable(int dtype, const uint8_t *base, size_t row_bytes, int cols, const int_acts *A,
                          int n_tokens, float *Y, int ldy, int lo, int hi) {
    int blocks = cols / 32;
    size_t bb = ck_block_bytes(dtype);
    for (int r = lo; r < hi; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        for (int t = 0; t < n_tokens; t++) {
            const int8_t *dig = A->dig + (size_t)t * A->ldd;
            const float *sums = block_sums(A, t);
            float acc[2][8] = {{0}};
            float mac = 0.0f;
            for (int k = 0; k < blocks; k++) {
                q45_block kb = q45_parse(dtype, row + (size_t)k * bb);
                int q[32];
                for (int e = 0; e < 16; e++) {
                    q[e] = (kb.qs[e] & 0x0F) | (int)(((kb.qh >> e) & 1) << 4);
                    q[e + 16] = (kb.qs[e] >> 4) | (int)(((kb.qh >> (e + 16)) & 1) << 4);
                }
                for (int j = 0; j < 8; j++) {
                    int32_t p = 0;
                    const int8_t *d = dig + 96 * k;
                    for (int e = 4 * j; e < 4 * j + 4; e++) p += q[e] * (65536 * d[e] + 256 * d[32 + e] + d[64 + e]);
                    acc[k & 1][j] = fmaf((float)p, kb.d, acc[k & 1][j]);
                }
                mac = fmaf(block_min(&kb), sums[(size_t)k * CK_ACT_GROUP], mac);
            }
            float u[8];
            for (int j = 0; j < 8; j++) u[j] = acc[0][j] + acc[1][j];
            Y[(size_t)t * ldy + r] = (hsum8_portable(u) + mac) * A->s[t];
        }
    }
}

#if CK_X86_SIMD

// ---------------------------------------------------------------- block quants and digit products

// The 32 quants of a block as unsigned bytes in element order (fifth bits from a
// byte shuffle on AVX2 hosts, from a mask register with AVX-512).
AVX2_TARGET static inline __m256i quants_avx2(int dtype, const q45_block *k) {
    __m128i q = _mm_loadu_si128((const __m128i *)k->qs);
    __m256i v = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
    if (dtype == CK_Q5_0 || dtype == CK_Q5_1) {
        // Byte e of `spread` is byte e / 8 of qh; it is 0x10 where bit e % 8 of that byte is set.
        __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)k->qh),
                                             _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                                                               0x0101010101010101LL, 0x0000000000000000LL));
        __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
        __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
        v = _mm256_or_si256(v, _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
    }
    return v;
}

VNNI_TARGET static inline __m256i quants_vnni(int dtype, const q45_block *k) {
    __m128i q = _mm_loadu_si128((const __m128i *)k->qs);
    __m256i v = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
    if (dtype == CK_Q5_0 || dtype == CK_Q5_1) v = _mm256_mask_add_epi8(v, (__mmask32)k->qh, v, _mm256_set1_epi8(0x10));
    return v;
}

// P[j] = Σ_{e=4j}^{4j+3} q_e·(65536·hi_e + 256·mid_e + lo_e), exact in int32; d: the
// block's 96 digits (hi, mid, lo).
AVX2_TARGET static inline __m256i dot_avx2(__m256i v, const int8_t *d) {
    __m256i ones = _mm256_set1_epi16(1);
    // maddubs cannot saturate here: two products of at most 31 · 128.
    __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)d)), ones);
    __m256i pm = _mm256_madd_epi16(_mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)(d + 32))), ones);
    __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)(d + 64))), ones);
    return _mm256_add_epi32(_mm256_slli_epi32(_mm256_add_epi32(_mm256_slli_epi32(ph, 8), pm), 8), pl);
}

VNNI_TARGET static inline __m256i dot_vnni(__m256i v, const int8_t *d) {
    __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), v, _mm256_loadu_si256((const __m256i *)d));
    p = _mm256_dpbusd_epi32(_mm256_slli_epi32(p, 8), v, _mm256_loadu_si256((const __m256i *)(d + 32)));
    return _mm256_dpbusd_epi32(_mm256_slli_epi32(p, 8), v, _mm256_loadu_si256((const __m256i *)(d + 64)));
}

// ---------------------------------------------------------------- one token

// One row for one token: returns acc[0] + acc[1] and leaves the scalar chain in *mac.
#define ROW_VECTOR(NAME, TARGET, QUANTS, DOT)                                                                  \
    __attribute__((always_inline)) TARGET static inline __m256 NAME(int dtype, const uint8_t *row, int blocks, \
                                                                    const int_acts *A, const float *sums,      \
                                                                    float *mac) {                              \
        size_t bb = ck_block_bytes(dtype);                                                                     \
        __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();                                          \
        float m = 0.0f;                                                                                        \
        for (int k = 0; k < blocks; k++) {                                                                     \
            q45_block kb = q45_parse(dtype, row + (size_t)k * bb);                                             \
            __m256 p = _mm256_cvtepi32_ps(DOT(QUANTS(dtype, &kb), A->dig + 96 * k));                      \
            if (k & 1)                                                                                         \
                odd = _mm256_fmadd_ps(p, _mm256_set1_ps(kb.d), odd);                                           \
            else                                                                                               \
                even = _mm256_fmadd_ps(p, _mm256_set1_ps(kb.d), even);                                         \
            m = fmaf(block_min(&kb), sums[(size_t)k * CK_ACT_GROUP], m);                                       \
        }                                                                                                      \
        *mac = m;                                                                                              \
        return _mm256_add_ps(even, odd);                                                                       \
    }
ROW_VECTOR(row_vector_avx2, AVX2_TARGET, quants_avx2, dot_avx2)
ROW_VECTOR(row_vector_vnni, VNNI_TARGET, quants_vnni, dot_vnni)

// One token over rows [lo, hi): four rows share one hsum8x4 (the same additions as hsum8 of each).
#define VECTOR_ROWS(NAME, TARGET, ROW_VECTOR)                                                                   \
    __attribute__((always_inline)) TARGET static inline void NAME(int dtype, const uint8_t *base,               \
                                                                  size_t row_bytes, int blocks,                \
                                                                  const int_acts *A, float *y, int lo, int hi) { \
        const float *sums = block_sums(A, 0);                                                           \
        float s = A->s[0];                                                                                      \
        int r = lo;                                                                                             \
        for (; r + 4 <= hi; r += 4) {                                                                           \
            const uint8_t *row = base + (size_t)r * row_bytes;                                                  \
            float m[4];                                                                                         \
            __m256 v0 = ROW_VECTOR(dtype, row, blocks, A, sums, &m[0]);                              \
            __m256 v1 = ROW_VECTOR(dtype, row + row_bytes, blocks, A, sums, &m[1]);                  \
            __m256 v2 = ROW_VECTOR(dtype, row + 2 * row_bytes, blocks, A, sums, &m[2]);              \
            __m256 v3 = ROW_VECTOR(dtype, row + 3 * row_bytes, blocks, A, sums, &m[3]);              \
            __m128 total = _mm_add_ps(hsum8x4(v0, v1, v2, v3), _mm_loadu_ps(m));                                \
            _mm_storeu_ps(y + r, _mm_mul_ps(total, _mm_set1_ps(s)));                                            \
        }                                                                                                       \
        for (; r < hi; r++) {                                                                                   \
            float m;                                                                                            \
            __m256 v = ROW_VECTOR(dtype, base + (size_t)r * row_bytes, blocks, A, sums, &m);         \
            y[r] = (hsum8(v) + m) * s;                                                                          \
        }                                                                                                       \
    }
VECTOR_ROWS(vector_rows_avx2, AVX2_TARGET, row_vector_avx2)
VECTOR_ROWS(vector_rows_vnni, VNNI_TARGET, row_vector_vnni)

// ---------------------------------------------------------------- many tokens
//
// One row × a group of tokens per pass: a block's quants are unpacked once for the
// group, and the group's digits stay in L1 while every row passes over them. The
// scalar chains of the group's tokens run side by side in one vector (lane j for
// token j: the sums' layout puts a group's tokens next to each other), which is
// lane for lane the one-token kernel's scalar fma. AVX-512 hosts take 8 tokens (16
// accumulators in its 32 registers), AVX2 hosts 4.

// One block for T tokens into acc[0 … T−1], and its term into the scalar chains.
#define BLOCK_TOKENS(NAME, TARGET, QUANTS, DOT, MACV, MAC_FMA, MAC_LOAD, MAC_SET1)                            \
    __attribute__((always_inline)) TARGET static inline void NAME(                                           \
        int dtype, int T, const uint8_t *b, const int8_t *dig, size_t ldd, const float *sums, __m256 *acc,    \
        MACV *mac) {                                                                                          \
        q45_block kb = q45_parse(dtype, b);                                                                   \
        __m256i v = QUANTS(dtype, &kb);                                                                       \
        __m256 d = _mm256_set1_ps(kb.d);                                                                      \
        UNROLL for (int j = 0; j < T; j++) {                                                                  \
            __m256 p = _mm256_cvtepi32_ps(DOT(v, dig + (size_t)j * ldd));                                     \
            acc[j] = _mm256_fmadd_ps(p, d, acc[j]);                                                           \
        }                                                                                                     \
        *mac = MAC_FMA(MAC_SET1(block_min(&kb)), MAC_LOAD(sums), *mac);                                       \
    }
BLOCK_TOKENS(block_tokens_avx2, AVX2_TARGET, quants_avx2, dot_avx2, __m128, _mm_fmadd_ps, _mm_loadu_ps, _mm_set1_ps)
BLOCK_TOKENS(block_tokens_vnni, VNNI_TARGET, quants_vnni, dot_vnni, __m256, _mm256_fmadd_ps, _mm256_loadu_ps,
             _mm256_set1_ps)

#define ROW_TOKENS(NAME, TARGET, BLOCK, MACV, MAC_ZERO, MAC_STORE)                                             \
    __attribute__((always_inline)) TARGET static inline void NAME(int T, int dtype, const uint8_t *row,       \
                                                                  int blocks, const int8_t *dig,            \
                                                                  size_t ldd,                               \
                                                                  const float *sums, const float *s,        \
                                                                  float *y, int ldy) {                      \
        size_t bb = ck_block_bytes(dtype);                                                                  \
        __m256 even[CK_ACT_GROUP], odd[CK_ACT_GROUP];                                                       \
        UNROLL for (int j = 0; j < T; j++) even[j] = odd[j] = _mm256_setzero_ps();                          \
        MACV mac = MAC_ZERO();                                                                              \
        for (int k = 0; k < blocks; k += 2) {                                                               \
            BLOCK(dtype, T, row + (size_t)k * bb, dig + 96 * k, ldd,                                        \
                  sums + (size_t)k * CK_ACT_GROUP, even, &mac);                                             \
            if (k + 1 < blocks)                                                                             \
                BLOCK(dtype, T, row + (size_t)(k + 1) * bb, dig + 96 * k + 96, ldd,                         \
                      sums + (size_t)(k + 1) * CK_ACT_GROUP, odd, &mac);                                    \
        }                                                                                                   \
        float m[CK_ACT_GROUP];                                                                              \
        MAC_STORE(m, mac);                                                                                  \
        UNROLL for (int j = 0; j < T; j++)                                                                  \
            y[(size_t)j * ldy] = (hsum8(_mm256_add_ps(even[j], odd[j])) + m[j]) * s[j];                     \
    }
ROW_TOKENS(row_tokens_avx2, AVX2_TARGET, block_tokens_avx2, __m128, _mm_setzero_ps, _mm_storeu_ps)
ROW_TOKENS(row_tokens_vnni, VNNI_TARGET, block_tokens_vnni, __m256, _mm256_setzero_ps, _mm256_storeu_ps)

// Many tokens over rows [lo, hi), tokens in groups of GROUP (the last narrower).
#define TOKEN_ROWS(NAME, TARGET, ROW_TOKENS, GROUP)                                                             \
    __attribute__((always_inline)) TARGET static inline void NAME(int dtype, const uint8_t *base,               \
                                                                  size_t row_bytes, int cols,                  \
                                                                  const int_acts *A, int n_tokens, float *Y,   \
                                                                  int ldy, int lo, int hi) {                   \
        int blocks = cols / 32;                                                                                 \
        for (int t = 0; t < n_tokens; t += GROUP) {                                                             \
            int n = n_tokens - t < GROUP ? n_tokens - t : GROUP;                                                \
            const int8_t *dig = A->dig + (size_t)t * A->ldd;                                                    \
            const float *sums = block_sums(A, t), *s = A->s + t;                                        \
            for (int r = lo; r < hi; r++) {                                                                     \
                const uint8_t *row = base + (size_t)r * row_bytes;                                              \
                float *y = Y + (size_t)t * ldy + r;                                                             \
                WITH_GROUP_WIDTH(n, GROUP, ROW_TOKENS, dtype, row, blocks, dig, A->ldd, sums, s, y, ldy)        \
            }                                                                                                   \
        }                                                                                                       \
    }
TOKEN_ROWS(token_rows_avx2, AVX2_TARGET, row_tokens_avx2, 4)
TOKEN_ROWS(token_rows_vnni, VNNI_TARGET, row_tokens_vnni, 8)

// One specialised copy of each kernel per block type, so that q45_parse's switch folds away.
#define SPECIALISE(TYPE, SUFFIX)                                                                                  \
    VNNI_TARGET static void vec_vnni_##SUFFIX(const uint8_t *b, size_t rb, int blocks, const int_acts *A,       \
                                              float *y, int lo, int hi) {                                       \
        vector_rows_vnni(TYPE, b, rb, blocks, A, y, lo, hi);                                                    \
    }                                                                                                           \
    AVX2_TARGET static void vec_avx2_##SUFFIX(const uint8_t *b, size_t rb, int blocks, const int_acts *A,       \
                                              float *y, int lo, int hi) {                                       \
        vector_rows_avx2(TYPE, b, rb, blocks, A, y, lo, hi);                                                    \
    }                                                                                                           \
    VNNI_TARGET static void tok_vnni_##SUFFIX(const uint8_t *b, size_t rb, int cols, const int_acts *A, int n, \
                                              float *Y, int ldy, int lo, int hi) {                              \
        token_rows_vnni(TYPE, b, rb, cols, A, n, Y, ldy, lo, hi);                                               \
    }                                                                                                           \
    AVX2_TARGET static void tok_avx2_##SUFFIX(const uint8_t *b, size_t rb, int cols, const int_acts *A, int n, \
                                              float *Y, int ldy, int lo, int hi) {                              \
        token_rows_avx2(TYPE, b, rb, cols, A, n, Y, ldy, lo, hi);                                               \
    }
SPECIALISE(CK_Q4_0, q4_0)
SPECIALISE(CK_Q4_1, q4_1)
SPECIALISE(CK_Q5_0, q5_0)
SPECIALISE(CK_Q5_1, q5_1)

typedef void (*vector_fn)(const uint8_t *, size_t, int, const int_acts *, float *, int, int);
typedef void (*tokens_fn)(const uint8_t *, size_t, int, const int_acts *, int, float *, int, int, int);

#endif

void q45_rows(int dtype, const void *W, int cols, const int_acts *A, int n_tokens, float *Y, int ldy, int lo, int hi) {
    const uint8_t *base = (const uint8_t *)W;
    size_t row_bytes = (size_t)(cols / 32) * ck_block_bytes(dtype);
#if CK_X86_SIMD
    if (ck_active_isa()) {
        int vnni = ck_has_avx512() && host_has_vnni();
        int type = dtype == CK_Q4_0 ? 0 : dtype == CK_Q4_1 ? 1 : dtype == CK_Q5_0 ? 2 : 3;
        if (n_tokens == 1) {
            static const vector_fn with_vnni[4] = {vec_vnni_q4_0, vec_vnni_q4_1, vec_vnni_q5_0, vec_vnni_q5_1};
            static const vector_fn with_avx2[4] = {vec_avx2_q4_0, vec_avx2_q4_1, vec_avx2_q5_0, vec_avx2_q5_1};
            (vnni ? with_vnni : with_avx2)[type](base, row_bytes, cols / 32, A, Y, lo, hi);
        } else {
            static const tokens_fn with_vnni[4] = {tok_vnni_q4_0, tok_vnni_q4_1, tok_vnni_q5_0, tok_vnni_q5_1};
            static const tokens_fn with_avx2[4] = {tok_avx2_q4_0, tok_avx2_q4_1, tok_avx2_q5_0, tok_avx2_q5_1};
            (vnni ? with_vnni : with_avx2)[type](base, row_bytes, cols, A, n_tokens, Y, ldy, lo, hi);
        }
        return;
    }
#endif
    rows_portable(dtype, base, row_bytes, cols, A, n_tokens, Y, ldy, lo, hi);
}
