// CKernels: the hottest loops of rwkv-chat, written with SIMD intrinsics.
//
// What lives here: matrix products on weight rows (float and ggml block types),
// the generalized delta rule, element-wise exp/sigmoid/tanh, the thread pool that
// splits the products across cores, the bandwidth probe and the ggml quantizers.
// Everything else is Swift (module Kernels). The instruction set is chosen at run
// time: AVX2+FMA+F16C on x86-64 hosts that have it (with AVX-512 F/VL/BW variants of
// the quantized and prefill kernels where present), a portable path everywhere else.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// 1 where the x86-64 SIMD paths are compiled in (chosen at run time by CPU
/// features). Defining CK_PORTABLE_ONLY builds the portable C alone, which is how
/// the tests check a build for hosts without AVX2 (and what arm64 gets).
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(CK_PORTABLE_ONLY)
#define CK_X86_SIMD 1
#else
#define CK_X86_SIMD 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/// Storage type of a weight matrix's elements.
typedef enum {
    CK_F32 = 0,
    CK_F16 = 1,
    CK_BF16 = 2,
    /// ggml block formats (32 elements per block, file version 101 layouts):
    CK_Q4_0 = 3,  ///< fp16 d, 16 bytes of nibbles: (q − 8)·d
    CK_Q4_1 = 4,  ///< fp16 d, fp16 m, 16 bytes of nibbles: q·d + m
    CK_Q5_0 = 5,  ///< fp16 d, uint32 high bits, 16 bytes of nibbles: (q − 16)·d
    CK_Q5_1 = 6,  ///< fp16 d, fp16 m, uint32 high bits, nibbles: q·d + m
    CK_Q8_0 = 7,  ///< fp16 d, 32 int8: q·d
} ck_dtype;

/// Bytes of one block of `dtype` (one element for the float types).
size_t ck_block_bytes(int dtype);

/// Elements per block of `dtype` (32 for the quantized types, 1 otherwise).
int ck_block_size(int dtype);

/// Converts n elements of `dtype` (n a multiple of the block size) to float32, exactly as ggml dequantizes.
void ck_dequantize(int dtype, const void *src, float *dst, size_t n);

/// dst[c * rows + r] = src[r * cols + c] for a row-major [rows, cols] source of `elem_size`-byte
/// elements (2 or 4), read unaligned; dst must not overlap src. Cache-blocked (transpose.c).
void ck_transpose(const void *src, size_t rows, size_t cols, size_t elem_size, void *dst);

/// Which code path the kernels run on this host: 0 portable, 1 AVX2+FMA+F16C (see ck_has_avx512).
int ck_active_isa(void);

/// Forces the portable path (1) or restores automatic choice (0). For tests and benchmarks.
void ck_force_portable(int on);

/// Keeps kernels that have an AVX-512 variant on their AVX2 variant (1) or restores automatic choice (0).
void ck_force_avx2(int on);

/// 1 when the kernels run their AVX-512 variants (the host has AVX-512 F, VL and BW, and neither
/// ck_force_avx2 nor ck_force_portable is on), else 0.
int ck_has_avx512(void);

/// 1 when the one-token kernels over fp16, bf16 and Q8_0 rows prefetch their weights in software
/// (by default on hosts without AVX-512, where it was measured faster), else 0.
int ck_row_prefetch(void);

/// Turns that prefetch on (1), off (0) or back to the host's default (-1). It never changes a
/// result, only the time. For tests and benchmarks.
void ck_force_row_prefetch(int mode);

/// Y[t][r] = sum_i W[r][i] * X[t][i] for rows r in [row_begin, row_end) and tokens t in [0, n_tokens).
///
/// W: [rows][cols] in `dtype`, row-major, rows contiguous, any alignment.
/// X: [n_tokens][cols] float32, row stride `ldx` floats.
/// Y: [n_tokens][...] float32, row stride `ldy` floats.
/// The float types sum in a fixed float order; the ggml block types run on the
/// activations rounded to integers on one scale per token (16 bits for Q8_0, 24 for
/// Q4/Q5; see int_activations.c, matmul_q8_0.c, matmul_q45.c). Each output is summed in the same order
/// whatever n_tokens and the row range are, so a matrix-vector product and a matrix-matrix product give bit-identical
/// results, and so does any split of rows across threads.
void ck_matmul_rows(int dtype, const void *W, int cols, const float *X, int ldx,
                    int n_tokens, float *Y, int ldy, int row_begin, int row_end);

/// Converts n IEEE half-precision values (any alignment) to float32.
void ck_f16_to_f32(const void *src, float *dst, size_t n);

/// Converts n bfloat16 values (any alignment) to float32.
void ck_bf16_to_f32(const void *src, float *dst, size_t n);

/// Quantizes n float32 values (n a multiple of 32) into `dtype` blocks as ggml's
/// reference quantizers (quantize_row_*_reference) do. Returns the bytes written.
size_t ck_quantize(int dtype, const float *src, void *dst, size_t n);

/// The generalized delta rule on one n × n state, token after token:
///
///   sa_i   = Σ_j S[i][j]·a[j]
///   S[i][j] = S[i][j]·w[j] + sa_i·b[j] + v[i]·k[j]
///   y[i]   = Σ_j S[i][j]·r[j]        (with the updated S)
///
/// S: [n][n] float32, updated in place. r, w, k, v, a, b, y: [tokens][ld] float32,
/// the token's n values at offset t·ld (pass pointers already offset to the head).
/// Each token's result depends only on S and that token's inputs, so running the
/// tokens in one call or one by one gives bit-identical results.
void ck_delta_rule(float *S, int n, int tokens, int ld, const float *r, const float *w, const float *k,
                   const float *v, const float *a, const float *b, float *y);

/// x[i] = e^x[i] for i < n (within 2 ulp; arguments clamped to [−87.3, 88.3]).
void ck_exp(float *x, size_t n);

/// x[i] = 1 / (1 + e^−x[i]) for i < n.
void ck_sigmoid(float *x, size_t n);

/// x[i] = tanh(x[i]) for i < n (absolute error below 1e-7).
void ck_tanh(float *x, size_t n);

/// A persistent pool of worker threads (opaque).
typedef struct ck_pool ck_pool;

/// One part of a job: called as fn(ctx, part, parts) for part in [0, parts).
typedef void (*ck_task_fn)(void *ctx, int part, int parts);

/// Starts `threads − 1` workers (the caller is the remaining thread). NULL on failure.
ck_pool *ck_pool_create(int threads);

/// Stops and joins the workers and frees the pool.
void ck_pool_destroy(ck_pool *pool);

/// How many threads (caller included) the pool runs jobs on.
int ck_pool_threads(const ck_pool *pool);

/// Runs fn(ctx, part, parts) for every part, part k on thread k (the caller takes
/// part 0 and any parts beyond the thread count), and returns when all are done.
void ck_pool_run(ck_pool *pool, ck_task_fn fn, void *ctx, int parts);

/// ck_matmul_rows over all `rows`, split into contiguous row ranges across the
/// pool's threads (at most one part per `min_rows_per_part` rows). `panel_cols` as in
/// ck_product (0: W is row-major).
void ck_pool_matmul(ck_pool *pool, int dtype, const void *W, int rows, int cols, const float *X, int ldx,
                    int n_tokens, float *Y, int ldy, int min_rows_per_part, int panel_cols);

/// One product of a batch: Y[t][r] = sum_i W[r][i] * X[t][i] for all rows (see ck_matmul_rows).
typedef struct {
    int dtype;
    const void *W;  ///< [rows][cols] in `dtype`, or panels (below)
    int rows;
    int cols;
    const float *X;  ///< [n_tokens][ldx]
    int ldx;
    float *Y;  ///< [n_tokens][ldy]
    int ldy;
    /// 0: W is row-major. Otherwise W is stored as column panels (a multiple of 32 columns for the ggml types):
    /// panel p = columns [p·panel_cols, p·panel_cols + width_p) of every row as a
    /// row-major [rows][width_p] matrix, panels one after another (width_p =
    /// panel_cols except for a narrower last panel). Each row's result is the sum of
    /// its panels' row-kernel sums, added in panel order (matmul_panels.c).
    int panel_cols;
} ck_product;

/// Several independent products over the same n_tokens as one pool job, so the batch
/// costs one hand-off instead of `count`: each thread takes a contiguous share of the
/// products' rows laid end to end, and a thread that finishes early takes rows from
/// the end of another's share. No product may read another's output. Results are the
/// same as ck_pool_matmul of each product alone, for any thread count. At most one
/// part per `min_rows_per_part` rows of the whole batch.
void ck_pool_matmul_batch(ck_pool *pool, const ck_product *products, int count, int n_tokens, int min_rows_per_part);

/// For tests: workers start each batch part 5 ms late (1), so the caller has to take
/// their rows; 0 restores normal running.
void ck_pool_test_delay_workers(int on);

/// Quads (4-row groups) taken from another thread's share so far, by all pools.
long ck_pool_stolen_quads(void);

/// Sum of n float32 values read once, as fast as the memory system allows (for measuring read bandwidth).
float ck_stream_sum(const float *src, size_t n);

/// Runs twelve independent multiply-add chains `iterations` times on the active path
/// (8-lane FMA on AVX2, scalar otherwise) and returns their sum (for measuring the
/// arithmetic peak; the value itself means nothing).
float ck_fma_chains(long iterations);

/// Floating-point operations in one iteration of ck_fma_chains on the active path.
int ck_fma_chains_flops(void);

#ifdef __cplusplus
}
#endif

#endif
