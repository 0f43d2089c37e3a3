// The generalized delta rule: a matrix-valued recurrent state updated by a
// per-column decay, a rank-one correction and a rank-one write, then read out
// by a matrix-vector product. See ckernels.h for the contract.
//
// Summation order of both dot products of a state row (the same in the AVX2 and
// portable paths, up to the fused multiply-adds of the AVX2 path): two 8-lane
// accumulators take 8-element blocks alternately, are added, and summed by the
// tree of hsum8; the last n % 8 elements go to a scalar sum added at the end.
#include "ckernels.h"

#include <stddef.h>

static void delta_rule_portable(float *S, int n, const float *r, const float *w, const float *k,
                                const float *v, const float *a, const float *b, float *y) {
    int blocks = n / 8;
    for (int i = 0; i < n; i++) {
        float *row = S + (size_t)i * n;
        float acc[2][8] = {{0}};
        for (int m = 0; m < blocks; m++)
            for (int l = 0; l < 8; l++) acc[m & 1][l] += row[8 * m + l] * a[8 * m + l];
        float sa = 0;
        {
            float q[8];
            for (int l = 0; l < 8; l++) q[l] = acc[0][l] + acc[1][l];
            sa = ((q[0] + q[4]) + (q[2] + q[6])) + ((q[1] + q[5]) + (q[3] + q[7]));
            for (int j = 8 * blocks; j < n; j++) sa += row[j] * a[j];
        }
        float vi = v[i];
        float out[2][8] = {{0}};
        for (int m = 0; m < blocks; m++) {
            for (int l = 0; l < 8; l++) {
                int j = 8 * m + l;
                float s = row[j] * w[j] + sa * b[j] + vi * k[j];
                row[j] = s;
                out[m & 1][l] += s * r[j];
            }
        }
        float q[8];
        for (int l = 0; l < 8; l++) q[l] = out[0][l] + out[1][l];
        float acc_y = ((q[0] + q[4]) + (q[2] + q[6])) + ((q[1] + q[5]) + (q[3] + q[7]));
        for (int j = 8 * blocks; j < n; j++) {
            float s = row[j] * w[j] + sa * b[j] + vi * k[j];
            row[j] = s;
            acc_y += s * r[j];
        }
        y[i] = acc_y;
    }
}

#if CK_X86_SIMD
#include <immintrin.h>
#define DR_TARGET __attribute__((target("avx2,fma")))

DR_TARGET static inline float dr_hsum8(__m256 v) {
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

DR_TARGET static void delta_rule_avx2(float *S, int n, const float *r, const float *w, const float *k,
                                      const float *v, const float *a, const float *b, float *y) {
    int blocks = n / 8;
    for (int i = 0; i < n; i++) {
        float *row = S + (size_t)i * n;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int m = 0;
        for (; m + 2 <= blocks; m += 2) {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8 * m), _mm256_loadu_ps(a + 8 * m), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8 * m + 8), _mm256_loadu_ps(a + 8 * m + 8), acc1);
        }
        if (m < blocks) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8 * m), _mm256_loadu_ps(a + 8 * m), acc0);
        float sa = dr_hsum8(_mm256_add_ps(acc0, acc1));
        for (int j = 8 * blocks; j < n; j++) sa += row[j] * a[j];

        __m256 vsa = _mm256_set1_ps(sa), vvi = _mm256_set1_ps(v[i]);
        __m256 out0 = _mm256_setzero_ps(), out1 = _mm256_setzero_ps();
        for (m = 0; m < blocks; m++) {
            int j = 8 * m;
            // s = S·w + sa·b + v_i·k, in that order of rounding as the portable path.
            __m256 s = _mm256_mul_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(w + j));
            s = _mm256_fmadd_ps(vsa, _mm256_loadu_ps(b + j), s);
            s = _mm256_fmadd_ps(vvi, _mm256_loadu_ps(k + j), s);
            _mm256_storeu_ps(row + j, s);
            if (m & 1)
                out1 = _mm256_fmadd_ps(s, _mm256_loadu_ps(r + j), out1);
            else
                out0 = _mm256_fmadd_ps(s, _mm256_loadu_ps(r + j), out0);
        }
        float acc_y = dr_hsum8(_mm256_add_ps(out0, out1));
        for (int j = 8 * blocks; j < n; j++) {
            float s = row[j] * w[j] + sa * b[j] + v[i] * k[j];
            row[j] = s;
            acc_y += s * r[j];
        }
        y[i] = acc_y;
    }
}
#endif

void ck_delta_rule(float *S, int n, int tokens, int ld, const float *r, const float *w, const float *k,
                   const float *v, const float *a, const float *b, float *y) {
    int fast = ck_active_isa();
    for (int t = 0; t < tokens; t++) {
        size_t o = (size_t)t * ld;
#if CK_X86_SIMD
        if (fast) {
            delta_rule_avx2(S, n, r + o, w + o, k + o, v + o, a + o, b + o, y + o);
            continue;
        }
#endif
        (void)fast;
        delta_rule_portable(S, n, r + o, w + o, k + o, v + o, a + o, b + o, y + o);
    }
}
