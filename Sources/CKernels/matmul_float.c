// Matrix products over float32, fp16 and bf16 rows (see include/ckernels.h).
//
// Summation order (the same on every call of one code path, which is what makes
// step mode, sequence mode and every thread count agree bit for bit):
//   four 8-lane accumulators take 32-element blocks round-robin; a remaining
//   8-element block goes to accumulator 0; the last cols % 8 elements go to a
//   scalar sum. The result is hsum((acc0 + acc1) + (acc2 + acc3)) + scalar.
// The one-token kernel, the two-token row kernel and the register tiles below all
// produce exactly this sum; they differ in how loads are shared.
#include "ck_internal.h"

// ---------------------------------------------------------------- portable path

// One token: the reference summation order, written with plain loops.
void dot_rows_portable(int dtype, const uint8_t *row, int cols, const float *X, int ldx,
                              int n_tokens, float *Y, int ldy, int r) {
    float w[8];
    for (int t = 0; t < n_tokens; t++) {
        const float *x = X + (size_t)t * ldx;
        float acc[4][8] = {{0}};
        int i = 0;
        for (; i + 32 <= cols; i += 32) {
            for (int a = 0; a < 4; a++) {
                for (int l = 0; l < 8; l++) w[l] = load_scalar(dtype, row, i + 8 * a + l);
                for (int l = 0; l < 8; l++) acc[a][l] = acc[a][l] + w[l] * x[i + 8 * a + l];
            }
        }
        for (; i + 8 <= cols; i += 8) {
            for (int l = 0; l < 8; l++) w[l] = load_scalar(dtype, row, i + l);
            for (int l = 0; l < 8; l++) acc[0][l] = acc[0][l] + w[l] * x[i + l];
        }
        float tail = 0.0f;
        for (; i < cols; i++) tail = tail + load_scalar(dtype, row, i) * x[i];
        float v[8];
        for (int l = 0; l < 8; l++) v[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
        Y[(size_t)t * ldy + r] = hsum8_portable(v) + tail;
    }
}

#if CK_X86_SIMD

// ROW_PREFETCH_BYTES (ck_internal.h), how far ahead the one-token kernels prefetch
// 2-byte weights when ck_row_prefetch() is on, is 1 KiB, sixteen lines. Measured on the Zen 2 host (a 768-column FP16 stream,
// T0 hint): 512 bytes ahead gained less, 2 KiB lost against no prefetch at all, and
// the T1 and NTA hints were no better than T0. FP32 rows (two prefetches per 32
// elements) were slower with it at both distances tried, 1 and 2 KiB, so they go
// without. Q8_0 rows use the same distance (matmul_q8_0.c).
// One row's 8-lane vector (acc0 + acc1) + (acc2 + acc3) for one token: the reference
// order, which dot_rows_avx2 keeps for each of two tokens. With `prefetch` (a 2-byte
// type), each 32-element step also prefetches the line ROW_PREFETCH_BYTES ahead; a
// prefetch past the end of the matrix is only a hint and cannot fault.
__attribute__((always_inline)) AVX2_TARGET static inline __m256 row_vector(int dtype, const uint8_t *row, int cols,
                                                                           const float *x, int prefetch) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= cols; i += 32) {
        if (prefetch) _mm_prefetch((const char *)row + 2 * (size_t)i + ROW_PREFETCH_BYTES, _MM_HINT_T0);
        a0 = _mm256_fmadd_ps(load8(dtype, row, i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(load8(dtype, row, i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(load8(dtype, row, i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(load8(dtype, row, i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= cols; i += 8) a0 = _mm256_fmadd_ps(load8(dtype, row, i), _mm256_loadu_ps(x + i), a0);
    return _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
}

// Two tokens share every weight load; each token's own summation order is the
// one-token order exactly.
AVX2_TARGET void dot_rows_avx2(int dtype, const uint8_t *row, int cols, const float *X, int ldx,
                                      int n_tokens, float *Y, int ldy, int r) {
    int t = 0;
    for (; t + 2 <= n_tokens; t += 2) {
        const float *x0 = X + (size_t)t * ldx;
        const float *x1 = x0 + ldx;
        __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a02 = _mm256_setzero_ps(), a03 = _mm256_setzero_ps();
        __m256 a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps(), a12 = _mm256_setzero_ps(), a13 = _mm256_setzero_ps();
        int i = 0;
        for (; i + 32 <= cols; i += 32) {
            __m256 w0 = load8(dtype, row, i), w1 = load8(dtype, row, i + 8);
            __m256 w2 = load8(dtype, row, i + 16), w3 = load8(dtype, row, i + 24);
            a00 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + i), a00);
            a01 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x0 + i + 8), a01);
            a02 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x0 + i + 16), a02);
            a03 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x0 + i + 24), a03);
            a10 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + i), a10);
            a11 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x1 + i + 8), a11);
            a12 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x1 + i + 16), a12);
            a13 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x1 + i + 24), a13);
        }
        for (; i + 8 <= cols; i += 8) {
            __m256 w0 = load8(dtype, row, i);
            a00 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + i), a00);
            a10 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + i), a10);
        }
        __m256 v0 = _mm256_add_ps(_mm256_add_ps(a00, a01), _mm256_add_ps(a02, a03));
        __m256 v1 = _mm256_add_ps(_mm256_add_ps(a10, a11), _mm256_add_ps(a12, a13));
        Y[(size_t)t * ldy + r] = hsum8(v0) + tail_dot(dtype, row, i, cols, x0);
        Y[(size_t)(t + 1) * ldy + r] = hsum8(v1) + tail_dot(dtype, row, i, cols, x1);
    }
    for (; t < n_tokens; t++) {
        const float *x0 = X + (size_t)t * ldx;
        Y[(size_t)t * ldy + r] = hsum8(row_vector(dtype, row, cols, x0, 0)) + tail_dot(dtype, row, cols & ~7, cols, x0);
    }
}

// ---- one token, four rows per reduction (generation)

// y[0..3] for four consecutive rows from their 8-lane vectors: hsum8x4 (the same
// additions as hsum8 of each) plus each row's scalar tail from column tail_at.
__attribute__((always_inline)) AVX2_TARGET static inline void store_quad(int dtype, __m256 v0, __m256 v1, __m256 v2,
                                                                         __m256 v3, const uint8_t *row,
                                                                         size_t row_bytes, int tail_at, int cols,
                                                                         const float *x, float *y) {
    __m128 sums = hsum8x4(v0, v1, v2, v3);
    if (tail_at < cols) {
        __m128 tails = _mm_set_ps(tail_dot(dtype, row + 3 * row_bytes, tail_at, cols, x),
                                  tail_dot(dtype, row + 2 * row_bytes, tail_at, cols, x),
                                  tail_dot(dtype, row + row_bytes, tail_at, cols, x),
                                  tail_dot(dtype, row, tail_at, cols, x));
        sums = _mm_add_ps(sums, tails);
    } else {
        // dot_rows_avx2 adds a zero tail; adding it here too keeps the sign of zero sums equal.
        sums = _mm_add_ps(sums, _mm_setzero_ps());
    }
    _mm_storeu_ps(y, sums);
}

// y[r] for rows [lo, hi) of one token; bit-identical to dot_rows_avx2 with n_tokens = 1.
__attribute__((always_inline)) AVX2_TARGET static inline void vector_rows_impl(int dtype, const uint8_t *base,
                                                                               size_t row_bytes, int cols, const float *x,
                                                                               float *y, int lo, int hi, int prefetch) {
    int tail_at = cols & ~7;
    int r = lo;
    for (; r + 4 <= hi; r += 4) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        __m256 v0 = row_vector(dtype, row, cols, x, prefetch);
        __m256 v1 = row_vector(dtype, row + row_bytes, cols, x, prefetch);
        __m256 v2 = row_vector(dtype, row + 2 * row_bytes, cols, x, prefetch);
        __m256 v3 = row_vector(dtype, row + 3 * row_bytes, cols, x, prefetch);
        store_quad(dtype, v0, v1, v2, v3, row, row_bytes, tail_at, cols, x, y + r);
    }
    for (; r < hi; r++) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        y[r] = hsum8(row_vector(dtype, row, cols, x, prefetch)) + tail_dot(dtype, row, tail_at, cols, x);
    }
}

AVX2_TARGET void vector_rows_f32(const uint8_t *b, size_t rb, int cols, const float *x, float *y, int lo, int hi) {
    vector_rows_impl(CK_F32, b, rb, cols, x, y, lo, hi, 0);
}
// The prefetch is chosen once per call, so each loop is compiled with or without it.
AVX2_TARGET void vector_rows_f16(const uint8_t *b, size_t rb, int cols, const float *x, float *y, int lo, int hi) {
    if (ck_row_prefetch())
        vector_rows_impl(CK_F16, b, rb, cols, x, y, lo, hi, 1);
    else
        vector_rows_impl(CK_F16, b, rb, cols, x, y, lo, hi, 0);
}
AVX2_TARGET void vector_rows_bf16(const uint8_t *b, size_t rb, int cols, const float *x, float *y, int lo, int hi) {
    if (ck_row_prefetch())
        vector_rows_impl(CK_BF16, b, rb, cols, x, y, lo, hi, 1);
    else
        vector_rows_impl(CK_BF16, b, rb, cols, x, y, lo, hi, 0);
}

// ---- many tokens: register tiles (prefill)
//
// The matrix-vector order gives each output four 8-lane accumulators that take
// 32-element blocks round-robin. They are independent chains, so a tile can run
// them one after another: chain c over every 8-lane group at 32m + 8c for R rows
// × T tokens at once (R·T accumulators in registers, each weight load and
// conversion shared by T tokens, each token load by R rows), park the partial
// sums, and combine them at the end exactly as (acc0 + acc1) + (acc2 + acc3).
// The results are bit-identical to dot_rows_avx2; only the memory traffic and
// the number of loads per multiply-add change.

// One chain over the tile: acc[i][j] = Σ over groups at 32m + 8c of w_i·x_j
// (chain 0 also takes the 8-lane groups after the last full block).
__attribute__((always_inline)) AVX2_TARGET static inline void chain_pass(int dtype, int R, int T, int c,
                                                                         const uint8_t *row, size_t row_bytes, int cols,
                                                                         const float *x, int ldx, __m256 acc[6][6]) {
    // An opaque zero: a literal one let the compiler clear the accumulators with memset.
    __m256 zero = _mm256_setzero_ps();
    __asm__("" : "+x"(zero));
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) acc[i][j] = zero;
    int full = cols / 32;
    int groups_end = c == 0 ? full * 4 + (cols % 32) / 8 : full * 4;
    for (int g = c; g < groups_end; g += (g < full * 4 ? 4 : 1)) {
        int col = 8 * g;
        __m256 w[6];
        for (int i = 0; i < R; i++) w[i] = load8(dtype, row + (size_t)i * row_bytes, col);
        for (int j = 0; j < T; j++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)j * ldx + col);
            for (int i = 0; i < R; i++) acc[i][j] = _mm256_fmadd_ps(w[i], xv, acc[i][j]);
        }
    }
}

__attribute__((always_inline)) AVX2_TARGET static inline void tile_impl(int dtype, int R, int T, const uint8_t *row,
                                                                        size_t row_bytes, int cols, const float *x,
                                                                        int ldx, float *y, int ldy, int r) {
    // Chains 0 and 1 are folded into one parked sum as soon as chain 1 ends, which is
    // the (acc0 + acc1) of the row kernel; chain 2 is parked, chain 3 stays in registers.
    __m256 p01[6][6], p2[6][6], acc[6][6];
    // The empty asm statements keep the parking copies as register stores; without
    // them the compiler spilled the accumulators to call memcpy (4% of prefill).
    chain_pass(dtype, R, T, 0, row, row_bytes, cols, x, ldx, acc);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            __asm__("" : "+x"(acc[i][j]));
            p01[i][j] = acc[i][j];
        }
    chain_pass(dtype, R, T, 1, row, row_bytes, cols, x, ldx, acc);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) p01[i][j] = _mm256_add_ps(p01[i][j], acc[i][j]);
    chain_pass(dtype, R, T, 2, row, row_bytes, cols, x, ldx, acc);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            __asm__("" : "+x"(acc[i][j]));
            p2[i][j] = acc[i][j];
        }
    chain_pass(dtype, R, T, 3, row, row_bytes, cols, x, ldx, acc);
    int tail_at = cols & ~7;
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < T; j++) {
            __m256 v = _mm256_add_ps(p01[i][j], _mm256_add_ps(p2[i][j], acc[i][j]));
            y[(size_t)j * ldy + r + i] = hsum8(v) + tail_dot(dtype, row + (size_t)i * row_bytes, tail_at, cols, x + (size_t)j * ldx);
        }
    }
}

// AVX-512 walks its tiles by token block: tokens in blocks of TILE_TOKEN_BLOCK whose
// activations stay in L2 while every row tile of the range passes over them, each
// row tile's weights staying in L1 across the block. (AVX2 blocks rows and columns
// and reads fp32 panels instead; see panel_rows_impl below.)
enum { TILE_TOKEN_BLOCK = 48 };

#define TILE_CALL(R, T)                                                                         \
    do {                                                                                        \
        if (dtype == CK_F16)                                                                    \
            TILE_FN(CK_F16, R, T, row, row_bytes, cols, x, ldx, y, ldy, r);                     \
        else if (dtype == CK_BF16)                                                              \
            TILE_FN(CK_BF16, R, T, row, row_bytes, cols, x, ldx, y, ldy, r);                    \
        else                                                                                    \
            TILE_FN(CK_F32, R, T, row, row_bytes, cols, x, ldx, y, ldy, r);                     \
    } while (0)

// The one narrower tile for the n (1 … 5) tokens left over after whole T-token tiles.
#define TILE_CALL_LEFTOVER(R, T, n)                                                             \
    switch (n) {                                                                                \
    case 1: TILE_CALL(R, 1); break;                                                             \
    case 2: TILE_CALL(R, 2); break;                                                             \
    case 3: TILE_CALL(R, 3); break;                                                             \
    case 4: TILE_CALL(R, (T) > 4 ? 4 : 1); break;                                               \
    default: TILE_CALL(R, (T) > 5 ? 5 : 1); break;                                              \
    }

// Rows [lo, returned) for all tokens: whole T-token tiles, then one narrower tile
// for the tokens left over. The caller runs the leftover rows (fewer than R).
#define TILED_ROWS(NAME, TARGET, R, T)                                                                          \
    TARGET int NAME(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X, int ldx,         \
                    int n_tokens, float *Y, int ldy, int lo, int hi) {                                          \
        int rows_done = lo + (hi - lo) / (R) * (R);                                                             \
        int tokens_done = n_tokens / (T) * (T);                                                                 \
        for (int t0 = 0; t0 < n_tokens; t0 += TILE_TOKEN_BLOCK) {                                               \
            int t1 = t0 + TILE_TOKEN_BLOCK < n_tokens ? t0 + TILE_TOKEN_BLOCK : n_tokens;                       \
            for (int r = lo; r < rows_done; r += (R)) {                                                         \
                const uint8_t *row = base + (size_t)r * row_bytes;                                              \
                int t = t0;                                                                                     \
                for (; t + (T) <= t1 && t < tokens_done; t += (T)) {                                            \
                    const float *x = X + (size_t)t * ldx;                                                       \
                    float *y = Y + (size_t)t * ldy;                                                             \
                    TILE_CALL(R, T);                                                                            \
                }                                                                                               \
                if (t < t1) {                                                                                   \
                    const float *x = X + (size_t)t * ldx;                                                       \
                    float *y = Y + (size_t)t * ldy;                                                             \
                    TILE_CALL_LEFTOVER(R, T, t1 - t)                                                            \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
        return rows_done;                                                                                       \
    }

// ---- many tokens on AVX2: tiles over fp32 panels of a row block
//
// The 3 × 4 tiles of tile_impl, with two changes that move memory traffic and
// keep the arithmetic:
// - Each block of rows is first copied, as float32, into a panel laid out in the
//   order the tiles read it: for each 3-row tile, for each chain c, for each of the
//   chain's 8-lane groups, the tile's three rows' 8 weights (96 bytes). The inner
//   loop then reads one sequential stream with no conversion; fp16 and bf16 are
//   converted once per call instead of once per 4-token tile, which on the Zen 2
//   host was what held the fp16 tiles below the fp32 ones. The panel (at most
//   PANEL_BYTES, so it stays in L2) is built once and read by every token tile.
// - The four chains are cut into column blocks of KB_COLS and carried in memory
//   from one block to the next, so that a 4-token tile of wide activations (a
//   3072-column tile is 48 KiB) is read one L1-sized block (16 KiB) at a time.
// A chain is a sequence of multiply-adds into one accumulator, so stopping it
// after any group and going on from the stored value gives the same bits; chain
// 0's 8-lane groups after the last full block come after all its blocks, and the
// chains are combined and reduced exactly as tile_impl does. So the results equal
// tile_impl's (and the row kernel's) bit for bit.
// Measured on the Zen 2 host (micro-benchmark, 512 tokens of fp16, GFLOP/s),
// against the unpanelled column-blocked tiles before it: 768 × 768 58-66 → 74-80,
// 3072 × 768 59-64 → 75-78, 768 × 3072 59-69 → 63-71. Converting to an fp16 panel
// instead (half the bytes, the conversion left in the loop) ran at 63-67; panels
// of 96 KiB lost on 3072 columns, 288 KiB gained nothing; software prefetch of the
// panel and walking two token tiles per panel pass were no better.
// The chains' state for a row block (16 tiles × 4 chains × 12 accumulators) is
// 24 KiB on the stack; the panel is this thread's scratch (at most PANEL_BYTES, or
// three rows of the matrix if one row is wider than that), kept for the next call.
enum { PANEL_MAX_ROWS = 48, PANEL_BYTES = 192 << 10, KB_COLS = 1024 };

// The leftover tokens' narrower tiles (TILE_CALL_LEFTOVER) are tile_impl's.
#define TILE_FN tile_impl

// Copies rows [r0, r0 + 3·tiles) into the panel layout described above.
__attribute__((always_inline)) AVX2_TARGET static inline void fill_panel(int dtype, const uint8_t *base,
                                                                         size_t row_bytes, int cols, int r0, int tiles,
                                                                         float *panel) {
    int full = cols / 32, rem8 = (cols % 32) / 8;
    for (int k = 0; k < tiles; k++) {
        const uint8_t *row = base + (size_t)(r0 + 3 * k) * row_bytes;
        for (int c = 0; c < 4; c++) {
            int groups = c == 0 ? full + rem8 : full;
            for (int g = 0; g < groups; g++) {
                int col = g < full ? 32 * g + 8 * c : 32 * full + 8 * (g - full);
                UNROLL for (int i = 0; i < 3; i++)
                    _mm256_store_ps(panel + 8 * i, load8(dtype, row + (size_t)i * row_bytes, col));
                panel += 24;
            }
        }
    }
}

// One 8-lane group of a 3 × 4 tile from its panel entry: acc[i][j] += w_i · x_j.
__attribute__((always_inline)) AVX2_TARGET static inline void panel_fma(const float *w, const float *x, int ldx,
                                                                        __m256 acc[3][4]) {
    __m256 w0 = _mm256_load_ps(w), w1 = _mm256_load_ps(w + 8), w2 = _mm256_load_ps(w + 16);
    UNROLL for (int j = 0; j < 4; j++) {
        __m256 xv = _mm256_loadu_ps(x + (size_t)j * ldx);
        acc[0][j] = _mm256_fmadd_ps(w0, xv, acc[0][j]);
        acc[1][j] = _mm256_fmadd_ps(w1, xv, acc[1][j]);
        acc[2][j] = _mm256_fmadd_ps(w2, xv, acc[2][j]);
    }
}

// Chain c of one tile over full blocks [m0, m1), continuing acc, reading the chain's
// panel entries from `w` (the entry of block m0); then, with rem8, chain 0's 8-lane
// groups after the last full block (`full` of them), whose entries follow.
__attribute__((always_inline)) AVX2_TARGET static inline void panel_chain(int c, const float *w, int m0, int m1,
                                                                          int full, int rem8, const float *x, int ldx,
                                                                          __m256 acc[3][4]) {
    for (int m = m0; m < m1; m++, w += 24) panel_fma(w, x + 32 * m + 8 * c, ldx, acc);
    for (int e = 0; e < rem8; e++, w += 24) panel_fma(w, x + 32 * full + 8 * e, ldx, acc);
}

// Tokens [t0, n_tokens) — fewer than a whole tile — of rows [r0, r1): one narrower
// tile_impl tile per 3-row tile, reading the stored rows (no panel).
__attribute__((always_inline)) AVX2_TARGET static inline void leftover_tokens(int dtype, const uint8_t *base,
                                                                              size_t row_bytes, int cols,
                                                                              const float *X, int ldx, int t0,
                                                                              int n_tokens, float *Y, int ldy, int r0,
                                                                              int r1) {
    const float *x = X + (size_t)t0 * ldx;
    float *y = Y + (size_t)t0 * ldy;
    for (int r = r0; r < r1; r += 3) {
        const uint8_t *row = base + (size_t)r * row_bytes;
        TILE_CALL_LEFTOVER(3, 4, n_tokens - t0)
    }
}

__attribute__((always_inline)) AVX2_TARGET static inline int panel_rows_impl(int dtype, const uint8_t *base,
                                                                             size_t row_bytes, int cols,
                                                                             const float *X, int ldx, int n_tokens,
                                                                             float *Y, int ldy, int lo, int hi) {
    enum { R = 3, T = 4, BLOCKS = KB_COLS / 32 };
    int rows_done = lo + (hi - lo) / R * R;
    if (rows_done == lo) return lo;
    int tokens_done = n_tokens / T * T;
    // Fewer tokens than one tile: nothing would read a panel.
    if (tokens_done == 0) {
        leftover_tokens(dtype, base, row_bytes, cols, X, ldx, 0, n_tokens, Y, ldy, lo, rows_done);
        return rows_done;
    }
    int full = cols / 32, rem8 = (cols % 32) / 8, tail_at = cols & ~7;
    // One row's panel entries: tail_at floats (32-byte aligned, since tail_at % 8 == 0).
    size_t row_floats = (size_t)tail_at;
    size_t fit = row_floats ? PANEL_BYTES / (row_floats * sizeof(float)) / R * R : PANEL_MAX_ROWS;
    int row_block = fit < R ? R : fit < PANEL_MAX_ROWS ? (int)fit : PANEL_MAX_ROWS;
    size_t panel_bytes = (size_t)row_block * row_floats * sizeof(float);
    // Without memory for the panel the caller's row kernel does every row: same bits, slower.
    float *panel = thread_scratch(SCRATCH_TILE_PANEL, panel_bytes);
    if (!panel) return lo;
    size_t tile_floats = (size_t)R * row_floats;
    __m256 state[PANEL_MAX_ROWS / R][4][R][T];
    for (int r0 = lo; r0 < rows_done; r0 += row_block) {
        int r1 = r0 + row_block < rows_done ? r0 + row_block : rows_done;
        int tiles = (r1 - r0) / R;
        fill_panel(dtype, base, row_bytes, cols, r0, tiles, panel);
        for (int t = 0; t < tokens_done; t += T) {
            const float *x = X + (size_t)t * ldx;
            float *y = Y + (size_t)t * ldy;
            // Column blocks in order; a matrix narrower than one full block runs one pass.
            for (int m0 = 0; m0 == 0 || m0 < full; m0 += BLOCKS) {
                int m1 = m0 + BLOCKS < full ? m0 + BLOCKS : full;
                int last = m1 == full;
                for (int k = 0; k < tiles; k++) {
                    const float *tile = panel + (size_t)k * tile_floats;
                    for (int c = 0; c < 4; c++) {
                        // Chain c's entries start after chains 0 … c-1 (chain 0 has rem8 more).
                        const float *w = tile + 24 * ((size_t)c * full + (c > 0 ? rem8 : 0) + m0);
                        __m256 acc[R][T];
                        // An opaque zero, as in chain_pass, for the first block.
                        __m256 zero = _mm256_setzero_ps();
                        __asm__("" : "+x"(zero));
                        UNROLL for (int i = 0; i < R; i++)
                            UNROLL for (int j = 0; j < T; j++) acc[i][j] = m0 == 0 ? zero : state[k][c][i][j];
                        panel_chain(c, w, m0, m1, full, last && c == 0 ? rem8 : 0, x, ldx, acc);
                        UNROLL for (int i = 0; i < R; i++)
                            UNROLL for (int j = 0; j < T; j++) state[k][c][i][j] = acc[i][j];
                    }
                }
            }
            // (chain 0 + chain 1) + (chain 2 + chain 3), reduced as tile_impl reduces.
            for (int k = 0; k < tiles; k++) {
                int r = r0 + k * R;
                const uint8_t *row = base + (size_t)r * row_bytes;
                UNROLL for (int i = 0; i < R; i++)
                    UNROLL for (int j = 0; j < T; j++) {
                        __m256 p01 = _mm256_add_ps(state[k][0][i][j], state[k][1][i][j]);
                        __m256 v = _mm256_add_ps(p01, _mm256_add_ps(state[k][2][i][j], state[k][3][i][j]));
                        y[(size_t)j * ldy + r + i] =
                            hsum8(v) + tail_dot(dtype, row + (size_t)i * row_bytes, tail_at, cols, x + (size_t)j * ldx);
                    }
            }
        }
        // The tokens after the last whole tile.
        if (tokens_done < n_tokens)
            leftover_tokens(dtype, base, row_bytes, cols, X, ldx, tokens_done, n_tokens, Y, ldy, r0, r1);
    }
    return rows_done;
}

// ---- many tokens with AVX-512: two chains per register
//
// A 16-lane register over 16 consecutive columns at 32m holds chain 0 in lanes
// 0–7 and chain 1 in lanes 8–15 (at 32m + 16: chains 2 and 3), so each lane
// still does exactly the 8-lane arithmetic. A tile keeps both registers of every
// (row, token) pair, so all four chains finish in one pass over the columns and
// nothing is parked between passes (a two-pass 4 × 6 tile spent a tenth of a
// 768-column tile's time parking and reducing). The 8-lane groups after the last
// full block belong to chain 0 alone and are added to lanes 0–7 under a mask.

__attribute__((always_inline)) AVX512_TARGET static inline __m512 load16(int dtype, const uint8_t *row, int i) {
    switch (dtype) {
    case CK_F16: return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 2 * (size_t)i)));
    case CK_BF16:
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(row + 2 * (size_t)i))), 16));
    default: return _mm512_loadu_ps((const float *)(row + 4 * (size_t)i));
    }
}

__attribute__((always_inline)) AVX512_TARGET static inline __m512 load8_low(int dtype, const uint8_t *row, int i) {
    return _mm512_castps256_ps512(load8(dtype, row, i));
}

AVX512_TARGET static inline __m256 high8(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

// R rows × T tokens (R ≤ 4, T ≤ 3: 24 accumulators, 8 weights and 2 token registers).
// `groups` is 0 when cols % 32 < 8, so that the usual widths compile without the
// masked loop.
__attribute__((always_inline)) AVX512_TARGET static inline void tile512_body(int dtype, int R, int T, int groups,
                                                                             const uint8_t *row, size_t row_bytes,
                                                                             int cols, const float *x, int ldx, float *y,
                                                                             int ldy, int r) {
    // lo: chains 0 and 1 (columns 32m … 32m + 15); hi: chains 2 and 3 (32m + 16 … 32m + 31).
    __m512 lo[4][3], hi[4][3];
    // An opaque zero: a literal one let the compiler clear the accumulators with memset.
    __m512 zero = _mm512_setzero_ps();
    __asm__("" : "+v"(zero));
    UNROLL for (int i = 0; i < R; i++)
        UNROLL for (int j = 0; j < T; j++) lo[i][j] = hi[i][j] = zero;
    int full = cols / 32;
    for (int m = 0; m < full; m++) {
        int col = 32 * m;
        __m512 w0[4], w1[4];
        UNROLL for (int i = 0; i < R; i++) {
            w0[i] = load16(dtype, row + (size_t)i * row_bytes, col);
            w1[i] = load16(dtype, row + (size_t)i * row_bytes, col + 16);
        }
        UNROLL for (int j = 0; j < T; j++) {
            __m512 x0 = _mm512_loadu_ps(x + (size_t)j * ldx + col), x1 = _mm512_loadu_ps(x + (size_t)j * ldx + col + 16);
            UNROLL for (int i = 0; i < R; i++) {
                lo[i][j] = _mm512_fmadd_ps(w0[i], x0, lo[i][j]);
                hi[i][j] = _mm512_fmadd_ps(w1[i], x1, hi[i][j]);
            }
        }
    }
    for (int e = 0; groups && e < (cols % 32) / 8; e++) {
        int col = 32 * full + 8 * e;
        __m512 w[4];
        UNROLL for (int i = 0; i < R; i++) w[i] = load8_low(dtype, row + (size_t)i * row_bytes, col);
        UNROLL for (int j = 0; j < T; j++) {
            __m512 xv = _mm512_castps256_ps512(_mm256_loadu_ps(x + (size_t)j * ldx + col));
            UNROLL for (int i = 0; i < R; i++) lo[i][j] = _mm512_mask3_fmadd_ps(w[i], xv, lo[i][j], 0x00FF);
        }
    }
    int tail_at = cols & ~7;
    UNROLL for (int j = 0; j < T; j++) {
        __m256 v[4];
        UNROLL for (int i = 0; i < R; i++) {
            // (chain 0 + chain 1) + (chain 2 + chain 3), as the row kernel adds them.
            __m256 s01 = _mm256_add_ps(_mm512_castps512_ps256(lo[i][j]), high8(lo[i][j]));
            __m256 s23 = _mm256_add_ps(_mm512_castps512_ps256(hi[i][j]), high8(hi[i][j]));
            v[i] = _mm256_add_ps(s01, s23);
        }
        const float *xj = x + (size_t)j * ldx;
        float *yj = y + (size_t)j * ldy + r;
        if (R == 4) {
            // Four rows of one token reduced together, as the one-token kernel does.
            store_quad(dtype, v[0], v[1], v[2], v[3], row, row_bytes, tail_at, cols, xj, yj);
        } else {
            UNROLL for (int i = 0; i < R; i++)
                yj[i] = hsum8(v[i]) + tail_dot(dtype, row + (size_t)i * row_bytes, tail_at, cols, xj);
        }
    }
}

__attribute__((always_inline)) AVX512_TARGET static inline void tile512_impl(int dtype, int R, int T,
                                                                             const uint8_t *row, size_t row_bytes,
                                                                             int cols, const float *x, int ldx, float *y,
                                                                             int ldy, int r) {
    if (cols % 32 < 8)
        tile512_body(dtype, R, T, 0, row, row_bytes, cols, x, ldx, y, ldy, r);
    else
        tile512_body(dtype, R, T, 1, row, row_bytes, cols, x, ldx, y, ldy, r);
}

// AVX2 has 16 vector registers: 3 × 4 accumulators, 3 weights and a token.
AVX2_TARGET int tiled_rows_avx2(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X, int ldx,
                                int n_tokens, float *Y, int ldy, int lo, int hi) {
    if (dtype == CK_F16) return panel_rows_impl(CK_F16, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi);
    if (dtype == CK_BF16) return panel_rows_impl(CK_BF16, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi);
    return panel_rows_impl(CK_F32, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi);
}
#undef TILE_FN
// AVX-512's 32 registers: 4 rows × 3 tokens × two 16-lane accumulators (all four chains).
#define TILE_FN tile512_impl
TILED_ROWS(tiled_rows_avx512, AVX512_TARGET, 4, 3)
#undef TILE_FN

#endif
