// Matrix-matrix products with few columns on AVX2: the down-projections of the
// RWKV-7 LoRA factors (768 rows × 32 to 128 columns at the 0.1B shape), in prefill.
// Whole 32-column blocks only (every LoRA rank in the RWKV-7 shapes); other widths,
// and hosts with AVX-512 (whose two-chains-per-register tiles were never measured
// against this), keep the register tiles.
//
// The register tiles of matmul_float.c run each output's four chains one pass at a
// time and reduce every output on its own. With 64 columns a chain is two 8-lane
// groups long, so parking the chains and the horizontal sums cost more than the
// multiply-adds, and those products ran at 15-43 GFLOP/s against 74-80 for the
// square ones. Here the lanes of a register are eight rows instead of eight columns:
// lane i of an accumulator is the same chain of row r + i, so every step of the
// one-token order (the multiply-adds of a chain, (c0 + c1) + (c2 + c3), and the
// hsum8 tree) becomes one vertical instruction for eight outputs, and the result is
// stored as eight consecutive rows of one token. Each output's arithmetic is the
// one-token kernel's exactly, so the results are bit-identical to it.
// Measured on the Zen 2 host (micro-benchmark, 128 tokens of fp16, alternating with
// the tiles in one process, medians of 300 calls in one run, GFLOP/s): 768 × 32
// 10.4 → 35.3, 768 × 64 19.4 → 44.4, 768 × 96 23.5 → 39.3, 768 × 128 30.7 → 51.8
// (fp32 and bf16 at 64 columns: 18.3 → 39.9, 19.5 → 45.1). In another run, at 160
// columns 51 → 79, at 192 both 54, at 224 tiles 57 against 53 (why the gain ends
// there was not investigated). Every RWKV-7 LoRA rank is at most 128 except the
// gates' from 1.5B up (256 and more), hence NARROW_MAX_COLS = 128.
#include "ck_internal.h"

#if CK_X86_SIMD

// Rows per panel: two 8-row groups, the tile's row extent.
enum { NARROW_ROWS = 16 };

// panel[k][i] (k < cols, i < 8·groups; 8·groups floats per k) = weight of row
// r0 + i at column k, as float32: the rows transposed, 8 × 8 at a time. Built once
// per 16 rows and read by every token tile, so its cost is shared by all tokens.
__attribute__((always_inline)) AVX2_TARGET static inline void narrow_fill(int dtype, const uint8_t *base,
                                                                          size_t row_bytes, int r0, int groups,
                                                                          int cols, float *panel) {
    int stride = 8 * groups;
    for (int g = 0; g < groups; g++) {
        const uint8_t *rows = base + (size_t)(r0 + 8 * g) * row_bytes;
        for (int k = 0; k < cols; k += 8) {
            __m256 in[8], out[8];
            UNROLL for (int i = 0; i < 8; i++) in[i] = load8(dtype, rows + (size_t)i * row_bytes, k);
            transpose8(in, out);
            UNROLL for (int q = 0; q < 8; q++) _mm256_store_ps(panel + (size_t)(k + q) * stride + 8 * g, out[q]);
        }
    }
}

// Chains c0 and c0 + 1 of lane l for G row groups × T tokens:
// acc[cc][g][j] = Σ over the chain's columns k of w[k][g] · x_j[k], in column order;
// the columns of chain c, lane l are 32m + 8c + l for m < FULL. FULL is a constant
// in every instance, so each chain is straight-line code. The first term is a
// multiply rather than a multiply-add into zero: the two differ only in the sign of
// an exact zero, which cannot reach an output (any non-zero term absorbs it, and the
// final + 0 that stands for the empty scalar tail turns −0 into +0 as the row kernel's does).
__attribute__((always_inline)) AVX2_TARGET static inline void chain_pair(int G, int T, int FULL, int c0, int l,
                                                                         const float *panel, const float *x, int ldx,
                                                                         __m256 acc[2][2][3]) {
    int stride = 8 * G;
    UNROLL for (int m = 0; m < FULL; m++) {
        UNROLL for (int cc = 0; cc < 2; cc++) {
            int k = 32 * m + 8 * (c0 + cc) + l;
            __m256 w[2];
            UNROLL for (int g = 0; g < G; g++) w[g] = _mm256_load_ps(panel + (size_t)k * stride + 8 * g);
            UNROLL for (int j = 0; j < T; j++) {
                __m256 xb = _mm256_broadcast_ss(x + (size_t)j * ldx + k);
                UNROLL for (int g = 0; g < G; g++)
                    acc[cc][g][j] = m == 0 ? _mm256_mul_ps(w[g], xb) : _mm256_fmadd_ps(w[g], xb, acc[cc][g][j]);
            }
        }
    }
}

// G row groups (8·G rows from r0) × T tokens from x, into y (token j's row r0 at
// y + j·ldy + r0), for FULL · 32 columns.
__attribute__((always_inline)) AVX2_TARGET static inline void narrow_tile(int G, int T, int FULL, const float *panel,
                                                                          const float *x, int ldx, float *y, int ldy,
                                                                          int r0) {
    // v[l][g][j]: lane l of the row kernel's v = (c0 + c1) + (c2 + c3), for 8 rows.
    __m256 v[8][2][3];
    for (int l = 0; l < 8; l++) {
        __m256 acc[2][2][3], p01[2][3];
        chain_pair(G, T, FULL, 0, l, panel, x, ldx, acc);
        UNROLL for (int g = 0; g < G; g++)
            UNROLL for (int j = 0; j < T; j++) p01[g][j] = _mm256_add_ps(acc[0][g][j], acc[1][g][j]);
        chain_pair(G, T, FULL, 2, l, panel, x, ldx, acc);
        UNROLL for (int g = 0; g < G; g++)
            UNROLL for (int j = 0; j < T; j++)
                v[l][g][j] = _mm256_add_ps(p01[g][j], _mm256_add_ps(acc[0][g][j], acc[1][g][j]));
    }
    UNROLL for (int g = 0; g < G; g++)
        UNROLL for (int j = 0; j < T; j++) {
            // hsum8's tree: ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)), then + 0 for
            // the empty scalar tail (which keeps the sign of zero sums equal).
            __m256 s04 = _mm256_add_ps(v[0][g][j], v[4][g][j]), s26 = _mm256_add_ps(v[2][g][j], v[6][g][j]);
            __m256 s15 = _mm256_add_ps(v[1][g][j], v[5][g][j]), s37 = _mm256_add_ps(v[3][g][j], v[7][g][j]);
            __m256 sum = _mm256_add_ps(_mm256_add_ps(s04, s26), _mm256_add_ps(s15, s37));
            _mm256_storeu_ps(y + (size_t)j * ldy + r0 + 8 * g, _mm256_add_ps(sum, _mm256_setzero_ps()));
        }
}

// The tokens of one panel of G groups, three at a time, then the one or two left.
__attribute__((always_inline)) AVX2_TARGET static inline void narrow_panel(int G, int FULL, const float *panel,
                                                                           const float *X, int ldx, int n_tokens,
                                                                           float *Y, int ldy, int r0) {
    int t = 0;
    for (; t + 3 <= n_tokens; t += 3) narrow_tile(G, 3, FULL, panel, X + (size_t)t * ldx, ldx, Y + (size_t)t * ldy, ldy, r0);
    if (n_tokens - t == 2)
        narrow_tile(G, 2, FULL, panel, X + (size_t)t * ldx, ldx, Y + (size_t)t * ldy, ldy, r0);
    else if (n_tokens - t == 1)
        narrow_tile(G, 1, FULL, panel, X + (size_t)t * ldx, ldx, Y + (size_t)t * ldy, ldy, r0);
}

// One instance per width, so that every chain is unrolled.
#define NARROW_PANEL(G)                                                                                         \
    switch (cols / 32) {                                                                                        \
    case 1: narrow_panel(G, 1, panel, X, ldx, n_tokens, Y, ldy, r); break;                                      \
    case 2: narrow_panel(G, 2, panel, X, ldx, n_tokens, Y, ldy, r); break;                                      \
    case 3: narrow_panel(G, 3, panel, X, ldx, n_tokens, Y, ldy, r); break;                                      \
    default: narrow_panel(G, 4, panel, X, ldx, n_tokens, Y, ldy, r); break;                                     \
    }

__attribute__((always_inline)) AVX2_TARGET static inline int narrow_rows_impl(int dtype, const uint8_t *base,
                                                                              size_t row_bytes, int cols,
                                                                              const float *X, int ldx, int n_tokens,
                                                                              float *Y, int ldy, int lo, int hi) {
    // [cols][16] floats: 8 KiB at the widest (NARROW_MAX_COLS columns).
    _Alignas(32) float panel[NARROW_MAX_COLS * NARROW_ROWS];
    int r = lo;
    for (; r + NARROW_ROWS <= hi; r += NARROW_ROWS) {
        narrow_fill(dtype, base, row_bytes, r, 2, cols, panel);
        NARROW_PANEL(2)
    }
    // The thread pool hands out rows in fours, so a range can end in one 8-row group.
    if (r + 8 <= hi) {
        narrow_fill(dtype, base, row_bytes, r, 1, cols, panel);
        NARROW_PANEL(1)
        r += 8;
    }
    return r;
}

AVX2_TARGET int narrow_rows_avx2(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X, int ldx,
                                 int n_tokens, float *Y, int ldy, int lo, int hi) {
    // Whole 32-column blocks only (no 8-lane groups or scalar tail after the last one),
    // and enough tokens for a tile of three to share each panel.
    if (cols > NARROW_MAX_COLS || cols % 32 != 0 || cols == 0 || n_tokens < NARROW_MIN_TOKENS) return lo;
    if (dtype == CK_F16) return narrow_rows_impl(CK_F16, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi);
    if (dtype == CK_BF16) return narrow_rows_impl(CK_BF16, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi);
    return narrow_rows_impl(CK_F32, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi);
}

#endif
