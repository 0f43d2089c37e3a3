// CKernels: the hottest loops of rwkv-chat, written with SIMD intrinsics.
//
// Only matrix products on weight rows live here. Everything else is Swift
// (module Kernels). The instruction set is chosen at run time: an AVX2+FMA+F16C
// path on x86-64 hosts that have it, and a portable path everywhere else.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Storage type of a weight matrix's elements.
typedef enum {
    CK_F32 = 0,
    CK_F16 = 1,
    CK_BF16 = 2,
} ck_dtype;

/// Which code path `ck_matmul_rows` runs on this host: 0 portable, 1 AVX2+FMA+F16C.
int ck_active_isa(void);

/// Forces the portable path (1) or restores automatic choice (0). For tests and benchmarks.
void ck_force_portable(int on);

/// Y[t][r] = sum_i W[r][i] * X[t][i] for rows r in [row_begin, row_end) and tokens t in [0, n_tokens).
///
/// W: [rows][cols] in `dtype`, row-major, rows contiguous, any alignment.
/// X: [n_tokens][cols] float32, row stride `ldx` floats.
/// Y: [n_tokens][...] float32, row stride `ldy` floats.
/// Each output is summed in the same order whatever n_tokens and the row range
/// are, so a matrix-vector product and a matrix-matrix product give bit-identical
/// results, and so does any split of rows across threads.
void ck_matmul_rows(int dtype, const void *W, int cols, const float *X, int ldx,
                    int n_tokens, float *Y, int ldy, int row_begin, int row_end);

/// Converts n IEEE half-precision values (any alignment) to float32.
void ck_f16_to_f32(const void *src, float *dst, size_t n);

/// Converts n bfloat16 values (any alignment) to float32.
void ck_bf16_to_f32(const void *src, float *dst, size_t n);

/// Sum of n float32 values read once, as fast as the memory system allows (for measuring read bandwidth).
float ck_stream_sum(const float *src, size_t n);

#ifdef __cplusplus
}
#endif

#endif
