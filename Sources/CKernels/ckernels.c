// Entry points of CKernels (see include/ckernels.h): block formats, dispatch of the
// matrix products to the kernels of matmul_float.c, matmul_q8_0.c and matmul_q45.c
// (on the integer activations of int_activations.c), element
// conversions, the bandwidth probe and the ggml reference quantizers.
#include "ck_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

int g_force_portable = 0;
int g_force_avx2 = 0;

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

// ---------------------------------------------------------------- host features

#if CK_X86_SIMD
#define CK_HAVE_AVX2_PATH 1

int host_has_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512bw");
    }
    return cached;
}

int host_has_vnni(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = host_has_avx512() && __builtin_cpu_supports("avx512vnni");
    }
    return cached;
}

int host_has_avx2(void) {
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
    return ck_active_isa() && host_has_avx512() && !g_force_avx2;
#else
    return 0;
#endif
}

// -1: the host's default; 0 or 1: forced by ck_force_row_prefetch.
static int g_row_prefetch_mode = -1;

int ck_row_prefetch(void) {
#if CK_HAVE_AVX2_PATH
    if (!ck_active_isa()) return 0;
    if (g_row_prefetch_mode >= 0) return g_row_prefetch_mode;
    // Measured on a Zen 2 host without AVX-512 (one core streams about 15 GB/s): the
    // hardware prefetchers alone left the fp16 row kernel at 0.80-0.86 of the probe,
    // and prefetching 1 KiB ahead brought it to the probe. On the AVX-512 host of
    // 2026-11-29 (about 33 GB/s a core) software prefetch was slower, so it stays off
    // there (DECISIONS.md, 2026-12-03).
    return !host_has_avx512();
#else
    return 0;
#endif
}

void ck_force_row_prefetch(int mode) { g_row_prefetch_mode = mode < 0 ? -1 : mode != 0; }

float ck_half_table[65536];

static void fill_half_table(void) {
    for (int h = 0; h < 65536; h++) ck_half_table[h] = f16_to_f32_scalar((uint16_t)h);
}

void ck_half_table_init(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fill_half_table);
}

// Per-thread scratch: each slot grows to the largest size asked for and everything is
// freed when the thread ends (the key's destructor gets this thread's slots).
typedef struct {
    void *mem[SCRATCH_SLOTS];
    size_t cap[SCRATCH_SLOTS];
} scratch_slots;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local scratch_slots *my_scratch;

static void free_scratch(void *raw) {
    scratch_slots *s = (scratch_slots *)raw;
    for (int i = 0; i < SCRATCH_SLOTS; i++) free(s->mem[i]);
    free(s);
}

static void make_scratch_key(void) { pthread_key_create(&scratch_key, free_scratch); }

void *thread_scratch(int slot, size_t bytes) {
    if (my_scratch && bytes <= my_scratch->cap[slot]) return my_scratch->mem[slot];
    pthread_once(&scratch_once, make_scratch_key);
    if (!my_scratch) {
        my_scratch = calloc(1, sizeof(scratch_slots));
        if (!my_scratch) return NULL;
        pthread_setspecific(scratch_key, my_scratch);
    }
    size_t cap = (bytes + 63) & ~(size_t)63;
    void *mem = aligned_alloc(64, cap ? cap : 64);
    if (!mem) return NULL;
    free(my_scratch->mem[slot]);
    my_scratch->mem[slot] = mem;
    my_scratch->cap[slot] = cap;
    return mem;
}

int round_for_call(int dtype, const float *X, int ldx, int cols, int n_tokens, float *Y, int ldy, int lo, int hi,
                   int_acts *out) {
    int digits = acts_need_digits(dtype);
    void *mem = int_acts_scratch(int_acts_bytes(cols, n_tokens, digits));
    if (!mem) {
        fill_nan_rows(Y, ldy, n_tokens, lo, hi);
        return 0;
    }
    *out = int_acts_prepare(X, ldx, cols, n_tokens, digits, mem);
    return 1;
}

void ck_matmul_rows(int dtype, const void *W, int cols, const float *X, int ldx,
                    int n_tokens, float *Y, int ldy, int row_begin, int row_end) {
    if (is_quantized(dtype)) {
        // The quantized types run on integer activations (int_activations.c), rounded
        // here for this call; a pool batch rounds them once for all its parts instead.
        int_acts acts;
        if (round_for_call(dtype, X, ldx, cols, n_tokens, Y, ldy, row_begin, row_end, &acts))
            quant_rows(dtype, W, cols, &acts, n_tokens, Y, ldy, row_begin, row_end);
        return;
    }
    float_rows(dtype, W, cols, X, ldx, n_tokens, Y, ldy, row_begin, row_end, NULL, row_end);
}

int rowlane_takes(int dtype, int cols, int n_tokens) {
#if CK_HAVE_AVX2_PATH
    // The dispatch of float_rows: AVX2 without AVX-512, and not a narrow matrix.
    if (!ck_active_isa() || (host_has_avx512() && !g_force_avx2) || is_quantized(dtype)) return 0;
    int narrow = cols <= NARROW_MAX_COLS && cols % 32 == 0 && n_tokens >= NARROW_MIN_TOKENS;
    return !narrow && cols >= 32 && n_tokens >= RL_MIN_TOKENS;
#else
    (void)dtype, (void)cols, (void)n_tokens;
    return 0;
#endif
}

void float_rows(int dtype, const void *W, int cols, const float *X, int ldx, int n_tokens, float *Y, int ldy,
                int row_begin, int row_end, const rowlane_inputs *prepared, int rows_total) {
    const uint8_t *base = (const uint8_t *)W;
    int fast = ck_active_isa();
#if !CK_HAVE_AVX2_PATH
    // Only the row-lane kernel reads these.
    (void)prepared, (void)rows_total;
#endif
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
        int rows_done = row_begin;
        // AVX2 hosts take eight rows per register: narrow matrices (the LoRA
        // down-projections) in their own kernel, the others in row-lane tiles.
        // Whatever rows they leave go on to the register tiles, then the row kernel.
        if (!avx512) {
            rows_done = narrow_rows_avx2(dtype, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, row_begin, row_end);
            rows_done = rowlane_rows_avx2(dtype, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, rows_done, row_end,
                                          prepared, rows_total);
        }
        rows_done = avx512 ? tiled_rows_avx512(dtype, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, rows_done, row_end)
                           : tiled_rows_avx2(dtype, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, rows_done, row_end);
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

// ---------------------------------------------------------------- arithmetic probe
//
// Twelve independent multiply-add chains: more than the FMA latency times the FMA
// ports of any x86 core we run on (4-5 cycles × 2), so the loop runs at the issue
// rate and measures the peak. The empty asm keeps the chains from being merged or
// hoisted; nothing is loaded or stored inside the loop.

#if CK_HAVE_AVX2_PATH
AVX2_TARGET static float fma_chains_avx2(long iterations) {
    __m256 a0 = _mm256_set1_ps(0.f), a1 = _mm256_set1_ps(1.f), a2 = _mm256_set1_ps(2.f), a3 = _mm256_set1_ps(3.f);
    __m256 a4 = _mm256_set1_ps(4.f), a5 = _mm256_set1_ps(5.f), a6 = _mm256_set1_ps(6.f), a7 = _mm256_set1_ps(7.f);
    __m256 a8 = _mm256_set1_ps(8.f), a9 = _mm256_set1_ps(9.f), a10 = _mm256_set1_ps(10.f), a11 = _mm256_set1_ps(11.f);
    // A factor just under 1 and a small addend keep the values finite for any length.
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (long k = 0; k < iterations; k++) {
        a0 = _mm256_fmadd_ps(a0, m, c); a1 = _mm256_fmadd_ps(a1, m, c); a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c); a4 = _mm256_fmadd_ps(a4, m, c); a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c); a7 = _mm256_fmadd_ps(a7, m, c); a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c); a10 = _mm256_fmadd_ps(a10, m, c); a11 = _mm256_fmadd_ps(a11, m, c);
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
                         "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    return hsum8(_mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
}
#endif

int ck_fma_chains_flops(void) { return ck_active_isa() ? 12 * 8 * 2 : 12 * 2; }

float ck_fma_chains(long iterations) {
#if CK_HAVE_AVX2_PATH
    if (ck_active_isa()) return fma_chains_avx2(iterations);
#endif
    // The portable kernels' arithmetic: scalar multiply-adds, twelve chains.
    float a[12];
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    for (long k = 0; k < iterations; k++) {
        for (int i = 0; i < 12; i++) a[i] = a[i] * 0.999999f + 1e-7f;
#if defined(__GNUC__)
        __asm__ volatile("" : : "r"(a) : "memory");
#endif
    }
    float s = 0;
    for (int i = 0; i < 12; i++) s += a[i];
    return s;
}

// ---------------------------------------------------------------- quantization (ggml reference rules)


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
