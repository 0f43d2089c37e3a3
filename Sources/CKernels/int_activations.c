// Activations rounded to integers for the quantized products (see ck_internal.h).
//
// Per token t:  m_t = max_i |x_t[i]|;  s_t = m_t / R;  a_t[i] = rint(x_t[i] · (R / m_t))
//
// * 16-bit form (Q8_0): R = 32767, a_t stored as int16. Rounding moves an activation
//   by at most m_t / 65534, far below what the 8-bit weights lose.
// * Digit form (Q4/Q5): R = 8355711 (24 bits), a_t clamped to ±R and stored as three
//   balanced signed-byte digits, a = 65536·hi + 256·mid + lo, plus Σ a_t over each
//   block of 32 (for the block's minimum or offset term). Rounding moves an activation
//   by about m_t / 16.7M, as little as float32 arithmetic does, so these products
//   stay within the reference tolerances of the dequantized float model.
//
// A token whose activations are not all finite gets s_t = NaN, so its outputs are NaN
// as the float product's would be; one whose largest activation is below 1e-30 counts
// as all zeros (R / m_t would overflow).
#include "ck_internal.h"

#include <float.h>
#include <math.h>

// The largest |x| below which a token's activations count as zeros.
#define TINY 1e-30f

static size_t lines(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

static size_t sums_floats(int cols, int n_tokens) {
    return (size_t)((n_tokens + CK_ACT_GROUP - 1) / CK_ACT_GROUP) * (size_t)(cols / 32) * CK_ACT_GROUP;
}

// Row strides (see int_acts in ck_internal.h): 64 bytes beyond the row itself.
static size_t digit_stride(int cols) { return 3 * (size_t)cols + 64; }
static size_t a16_stride(int cols) { return (size_t)cols + 32; }  // in int16

size_t int_acts_bytes(int cols, int n_tokens, int digits) {
    // Each array starts on a 64-byte line; rows are padded (see int_acts in ck_internal.h).
    size_t bytes = lines((size_t)n_tokens * sizeof(float));
    if (digits) bytes += lines((size_t)n_tokens * digit_stride(cols)) + lines(sums_floats(cols, n_tokens) * sizeof(float));
    else bytes += lines((size_t)n_tokens * a16_stride(cols) * sizeof(int16_t));
    return bytes;
}

#if CK_X86_SIMD
AVX2_TARGET static float token_max_avx2(const float *x, int cols) {
    __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(FLT_MAX);
    __m256 mx = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int i = 0; i < cols; i += 8) {
        __m256 v = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i));
        // Not (v ≤ FLT_MAX): infinities and NaNs.
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, big, _CMP_NLE_UQ));
        mx = _mm256_max_ps(mx, v);
    }
    if (_mm256_movemask_ps(bad)) return -1.0f;
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}

#endif

// The token's largest |x| (order-independent, so every path finds the same), or −1
// when a value is not finite.
static float token_max(const float *x, int cols) {
#if CK_X86_SIMD
    if (ck_active_isa()) {
        return token_max_avx2(x, cols);
    }
#endif
    float m = 0.0f;
    for (int i = 0; i < cols; i++) {
        float v = fabsf(x[i]);
        if (!(v <= FLT_MAX)) return -1.0f;
        if (v > m) m = v;
    }
    return m;
}

#if CK_X86_SIMD
// a = rint(x · inv) as int16 (|x · inv| ≤ 32767.004, which rounds to 32767).
AVX2_TARGET static void round16_avx2(const float *x, int cols, float inv, int16_t *a) {
    __m256 v = _mm256_set1_ps(inv);
    for (int i = 0; i < cols; i += 16) {
        // Round to nearest even (the default MXCSR mode, as lrintf), then pack to 16 bits.
        __m256i lo = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), v));
        __m256i hi = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), v));
        // packs interleaves 128-bit halves: [lo 0–3, hi 0–3, lo 4–7, hi 4–7]; put them in order.
        _mm256_storeu_si256((__m256i *)(a + i), _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8));
    }
}

// The digit form of 8 values: a = rint(x · inv) clamped to ±R, then split.
AVX2_TARGET static void round_digits_avx2(const float *x, int cols, float inv, int8_t *hi, int8_t *mid,
                                          int8_t *lo, int32_t *a) {
    __m256 v = _mm256_set1_ps(inv);
    __m256i top = _mm256_set1_epi32(CK_ACT_RANGE24), half = _mm256_set1_epi32(128), byte = _mm256_set1_epi32(255);
    for (int i = 0; i < cols; i += 8) {
        __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), v));
        q = _mm256_max_epi32(_mm256_min_epi32(q, top), _mm256_sub_epi32(_mm256_setzero_si256(), top));
        _mm256_storeu_si256((__m256i *)(a + i), q);
        // d0 = ((q + 128) & 255) − 128, q1 = (q − d0) >> 8, and the same again.
        __m256i d0 = _mm256_sub_epi32(_mm256_and_si256(_mm256_add_epi32(q, half), byte), half);
        __m256i q1 = _mm256_srai_epi32(_mm256_sub_epi32(q, d0), 8);
        __m256i d1 = _mm256_sub_epi32(_mm256_and_si256(_mm256_add_epi32(q1, half), byte), half);
        __m256i d2 = _mm256_srai_epi32(_mm256_sub_epi32(q1, d1), 8);
        int32_t t0[8], t1[8], t2[8];
        _mm256_storeu_si256((__m256i *)t0, d0);
        _mm256_storeu_si256((__m256i *)t1, d1);
        _mm256_storeu_si256((__m256i *)t2, d2);
        for (int j = 0; j < 8; j++) {
            lo[i + j] = (int8_t)t0[j];
            mid[i + j] = (int8_t)t1[j];
            hi[i + j] = (int8_t)t2[j];
        }
    }
}
#endif

static void round16_portable(const float *x, int cols, float inv, int16_t *a) {
    // lrintf rounds to nearest even, as the vector conversion does.
    for (int i = 0; i < cols; i++) a[i] = (int16_t)lrintf(x[i] * inv);
}

static void round_digits_portable(const float *x, int cols, float inv, int8_t *hi, int8_t *mid, int8_t *lo,
                                  int32_t *a) {
    for (int i = 0; i < cols; i++) {
        long q = lrintf(x[i] * inv);
        if (q > CK_ACT_RANGE24) q = CK_ACT_RANGE24;
        if (q < -CK_ACT_RANGE24) q = -CK_ACT_RANGE24;
        a[i] = (int32_t)q;
        // Balanced digits: each in [−128, 127]; the shifts divide exactly.
        int32_t d0 = (int32_t)(((q + 128) & 255) - 128);
        int32_t q1 = ((int32_t)q - d0) / 256;
        int32_t d1 = ((q1 + 128) & 255) - 128;
        lo[i] = (int8_t)d0;
        mid[i] = (int8_t)d1;
        hi[i] = (int8_t)((q1 - d1) / 256);
    }
}

int_acts int_acts_prepare(const float *X, int ldx, int cols, int n_tokens, int digits, void *mem) {
    ck_half_table_init();
    uint8_t *p = (uint8_t *)mem;
    float *s = (float *)p;
    p += lines((size_t)n_tokens * sizeof(float));
    int16_t *a16 = NULL;
    size_t lda = a16_stride(cols);
    int8_t *dig = NULL;
    size_t ldd = digit_stride(cols);
    float *sum = NULL;
    if (digits) {
        dig = (int8_t *)p;
        p += lines((size_t)n_tokens * ldd);
        sum = (float *)p;
        // Tokens missing from the last group of the sums' layout read as zeros.
        memset(sum, 0, sums_floats(cols, n_tokens) * sizeof(float));
    } else {
        a16 = (int16_t *)p;
    }
    void (*round16)(const float *, int, float, int16_t *) = round16_portable;
    void (*round_digits)(const float *, int, float, int8_t *, int8_t *, int8_t *, int32_t *) = round_digits_portable;
#if CK_X86_SIMD
    if (ck_active_isa()) {
        round16 = round16_avx2;
        round_digits = round_digits_avx2;
    }
#endif
    int blocks = cols / 32;
    float range = digits ? (float)CK_ACT_RANGE24 : (float)CK_ACT_RANGE16;
    for (int t = 0; t < n_tokens; t++) {
        const float *x = X + (size_t)t * ldx;
        size_t at = (size_t)t * lda;
        float m = token_max(x, cols);
        if (m < TINY) {
            // All zeros, or (m = −1) a value that is not finite: zero integers, and a
            // scale of 0 or NaN. The sums are zero already.
            s[t] = m < 0 ? NAN : 0.0f;
            if (digits) {
                memset(dig + (size_t)t * ldd, 0, 3 * (size_t)cols);
            } else {
                memset(a16 + at, 0, (size_t)cols * sizeof(int16_t));
            }
            continue;
        }
        s[t] = m / range;
        float inv = range / m;
        if (!digits) {
            round16(x, cols, inv, a16 + at);
            continue;
        }
        // 32 int32 at a time: the block sums are taken from them before they are dropped.
        for (int k = 0; k < blocks; k++) {
            int32_t a32[32];
            int8_t *d = dig + (size_t)t * ldd + 96 * (size_t)k;
            round_digits(x + 32 * k, 32, inv, d, d + 32, d + 64, a32);
            int32_t total = 0;
            for (int j = 0; j < 32; j++) total += a32[j];
            sum[((size_t)(t / CK_ACT_GROUP) * blocks + k) * CK_ACT_GROUP + t % CK_ACT_GROUP] = (float)total;
        }
    }
    int_acts acts = {a16, lda, dig, ldd, sum, (size_t)blocks, s};
    return acts;
}
