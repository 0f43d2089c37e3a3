// Element-wise exp, sigmoid and tanh over float32 arrays (see ckernels.h).
//
// RWKV-7 evaluates about 40,000 exponentials per generated token (decays, gates
// and their LoRA activations), which cost 3–8% of a token through libm one at a
// time. These evaluate eight at once with the classic Cephes single-precision
// method: n = round(x·log2 e), r = x − n·ln 2 (in two parts), a degree-6
// polynomial for e^r, and 2^n put into the exponent bits. Error is within 2 ulp of
// the true value over the clamped range [−87.3, 88.3] (beyond it the result is the
// value at the end of the range, which sigmoid and tanh do not notice).
//
// Every element is computed by the same code whatever its position: the last
// n % 8 elements are run through the vector code in a padded buffer, so a value
// does not depend on the length of the array it sits in (step mode and sequence
// mode stay bit-identical).
#include "ckernels.h"

#include <math.h>
#include <string.h>

#define EXP_HI 88.3762626647949f
#define EXP_LO -87.3365447504f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f

// The portable path: the same steps in scalar code.
static float exp_scalar(float x) {
    x = x > EXP_HI ? EXP_HI : (x < EXP_LO ? EXP_LO : x);
    float n = floorf(x * LOG2E + 0.5f);
    float r = x - n * LN2_HI;
    r = r - n * LN2_LO;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    int32_t bits;
    memcpy(&bits, &y, 4);
    bits += ((int32_t)n) << 23;
    memcpy(&y, &bits, 4);
    return y;
}

enum { OP_EXP = 0, OP_SIGMOID = 1, OP_TANH = 2 };

static float apply_scalar(int op, float x) {
    switch (op) {
    case OP_EXP: return exp_scalar(x);
    case OP_SIGMOID: return 1.0f / (1.0f + exp_scalar(-x));
    default: {
        // tanh(x) = sign(x)·(1 − 2 / (e^{2|x|} + 1)); absolute error below 1e-7.
        float a = fabsf(x);
        float t = 1.0f - 2.0f / (exp_scalar(2.0f * a) + 1.0f);
        return x < 0 ? -t : t;
    }
    }
}

#if CK_X86_SIMD
#include <immintrin.h>
#define ACT_TARGET __attribute__((target("avx2,fma")))

ACT_TARGET static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(LOG2E), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(y), e));
}

ACT_TARGET static inline __m256 apply8(int op, __m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    switch (op) {
    case OP_EXP: return exp8(x);
    case OP_SIGMOID: return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
    default: {
        __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
        __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
        __m256 e = exp8(_mm256_add_ps(a, a));
        __m256 t = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
        return _mm256_or_ps(t, sign);
    }
    }
}

ACT_TARGET static void apply_avx2(int op, float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, apply8(op, _mm256_loadu_ps(x + i)));
    if (i < n) {
        float pad[8] = {0};
        memcpy(pad, x + i, (n - i) * sizeof(float));
        _mm256_storeu_ps(pad, apply8(op, _mm256_loadu_ps(pad)));
        memcpy(x + i, pad, (n - i) * sizeof(float));
    }
}
#endif

static void apply(int op, float *x, size_t n) {
#if CK_X86_SIMD
    if (ck_active_isa()) {
        apply_avx2(op, x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) x[i] = apply_scalar(op, x[i]);
}

void ck_exp(float *x, size_t n) { apply(OP_EXP, x, n); }

void ck_sigmoid(float *x, size_t n) { apply(OP_SIGMOID, x, n); }

void ck_tanh(float *x, size_t n) { apply(OP_TANH, x, n); }
