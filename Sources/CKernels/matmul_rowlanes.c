// Many-token products of float32, fp16 and bf16 rows on AVX2 with the lanes of a
// register over rows ("row lanes"): prefill's square and wide matrices.
//
// The register tiles of matmul_float.c keep the row kernel's layout, lanes over
// columns: every multiply-add needs a vector of weights and a vector of one
// token's inputs, and every output ends in a horizontal sum. Here, as in
// matmul_narrow.c, lane i of an accumulator is row r + i: a tile is 16 rows (two
// registers) × 6 tokens, and each step loads two vectors of transposed weights and
// broadcasts one input per token, so 12 multiply-adds cost 2 vector loads and 6
// broadcasts, and the reduction is vertical adds on eight rows at once.
//
// The summation order stays the one-token kernel's (matmul_float.c, top): output
// (r, t) is hsum8((a0 + a1) + (a2 + a3)) + tail, where chain c, lane l, is the
// running multiply-add over columns 32m + 8c + l (chain 0 also takes the 8-lane
// groups after the last whole 32-column block). A register lane holds one row's
// chain c, lane l, which is one "pass" (c, l) over the columns of that residue; the
// 32 passes are run one after another and combined exactly as the row kernel
// combines its lanes. So every output is bit-identical to the one-token kernel's.
//
// Both operands are laid out so that each pass reads memory in sequence:
// - the weights of a row block are copied, as float32, into a panel: per 16-row
//   tile, pass by pass, for each group of the pass, the 16 rows' weights;
// - each token's inputs are permuted the same way (pass by pass, its columns in
//   order), once per call. With the inputs left in place a pass reads one float in
//   every 128 bytes, and a first version that did so ran slower than the tiles
//   (0.3 of the FMA peak against 0.6 at 768 × 3072).
// Measured on the Zen 3 host (micro-benchmark, fp16, each call's GFLOP/s over an
// FMA-loop reading taken just before it, medians of 9-15 calls per shape, this kernel
// alternating with the 3 × 4 tiles in one process): with 128 tokens (one prefill
// chunk) 768 × 768 1.00-1.11×, 3072 × 768 1.00-1.09×, 768 × 3072 1.12-1.28×; with
// 512 tokens 1.16×, 1.10× and 1.46×. The tiles' best was 0.62-0.68 of the FMA
// loop, this kernel's 0.70-0.76. Sizes tried for the panel budget: 96, 288 and 384
// KiB were no better than 192. Bench A/B end to end in docs/BENCHMARKS.md.
//
// Known limits: AVX-512 hosts keep their own tiles (not measured against this);
// each call, or each pool batch, lays out its inputs once (n_tokens × cols floats of
// scratch: 1.5 MiB for a 128-token chunk of 3072-wide inputs); matrices narrower
// than 32 columns, ranges of fewer than 16 rows and calls of fewer than 6 tokens go
// to the register tiles.
#include "ck_internal.h"

#if CK_X86_SIMD

// Rows per tile (two registers), tokens per tile, the float32 panel's budget (the
// rows of one block, kept in L2 and read by every token tile) and its most rows.
enum { RL_ROWS = 16, RL_TOKENS = 6, RL_PANEL_BYTES = 192 << 10, RL_MAX_ROWS = 64 };

// Where pass (c, l) begins in a permuted row: the eight passes of chain 0 (full +
// rem8 groups each) come first, then chains 1 to 3 (full groups each).
static inline size_t pass_start(int c, int l, int full, int rem8) {
    return c == 0 ? (size_t)l * (size_t)(full + rem8) : (size_t)8 * (size_t)(full + rem8) + (size_t)(8 * (c - 1) + l) * (size_t)full;
}

// xp[pass_start(c, l) + g] = x[column g of pass (c, l)] for the first tail_at
// columns of each token: whole runs of eight 32-column blocks with transpose8,
// the rest one float at a time.
AVX2_TARGET static void permute_inputs(const float *X, int ldx, int n_tokens, int full, int rem8, float *XP,
                                       size_t xld) {
    for (int t = 0; t < n_tokens; t++) {
        const float *x = X + (size_t)t * ldx;
        float *xp = XP + (size_t)t * xld;
        for (int c = 0; c < 4; c++) {
            int m = 0;
            for (; m + 8 <= full; m += 8) {
                __m256 in[8], out[8];
                // in[i] = lanes 0-7 of chain c in block m + i; out[l] = pass (c, l), groups m … m + 7.
                UNROLL for (int i = 0; i < 8; i++) in[i] = _mm256_loadu_ps(x + 32 * (size_t)(m + i) + 8 * c);
                transpose8(in, out);
                UNROLL for (int l = 0; l < 8; l++) _mm256_storeu_ps(xp + pass_start(c, l, full, rem8) + m, out[l]);
            }
            for (; m < full; m++)
                for (int l = 0; l < 8; l++) xp[pass_start(c, l, full, rem8) + m] = x[32 * m + 8 * c + l];
        }
        for (int e = 0; e < rem8; e++)
            for (int l = 0; l < 8; l++) xp[pass_start(0, l, full, rem8) + full + e] = x[32 * full + 8 * e + l];
    }
}

// The panel of one 16-row tile from r0: entry (pass_start(c, l) + g) holds the 16
// rows' weights at column g of pass (c, l), as float32. Eight rows × eight columns
// are converted and transposed at a time.
AVX2_TARGET static void fill_tile(int dtype, const uint8_t *base, size_t row_bytes, int r0, int full, int rem8,
                                  float *panel) {
    int groups8 = 4 * full + rem8;
    for (int h = 0; h < 2; h++) {
        const uint8_t *rows = base + (size_t)(r0 + 8 * h) * row_bytes;
        for (int b = 0; b < groups8; b++) {
            // Columns 8b … 8b + 7 are lanes 0-7 of chain c, group g.
            int c = b < 4 * full ? b % 4 : 0, g = b < 4 * full ? b / 4 : full + (b - 4 * full);
            __m256 in[8], out[8];
            UNROLL for (int i = 0; i < 8; i++) in[i] = load8(dtype, rows + (size_t)i * row_bytes, 8 * b);
            transpose8(in, out);
            UNROLL for (int l = 0; l < 8; l++)
                _mm256_store_ps(panel + (pass_start(c, l, full, rem8) + (size_t)g) * RL_ROWS + 8 * h, out[l]);
        }
    }
}

// A stretch of memory prefetched into L2 `slice` bytes at a time.
typedef struct {
    const uint8_t *base;
    size_t bytes, slice, done;
} prefetcher;

AVX2_TARGET static inline void prefetch_slice(prefetcher *p) {
    for (size_t end = p->done + p->slice; p->done < p->bytes && p->done < end; p->done += 64)
        _mm_prefetch((const char *)p->base + p->done, _MM_HINT_T1);
}

// One pass over `groups` entries for T tokens: acc[h][j] = Σ_g w[g][8h …] · xp_j[g],
// in group order, from zero (as the row kernel's chains start).
__attribute__((always_inline)) AVX2_TARGET static inline void run_pass(int T, const float *w, const float *xp,
                                                                       size_t xld, int groups,
                                                                       __m256 acc[2][RL_TOKENS]) {
    // An opaque zero: a literal one let the compiler clear the accumulators with memset.
    __m256 zero = _mm256_setzero_ps();
    __asm__("" : "+x"(zero));
    UNROLL for (int j = 0; j < T; j++) acc[0][j] = acc[1][j] = zero;
    for (int g = 0; g < groups; g++, w += RL_ROWS) {
        __m256 w0 = _mm256_load_ps(w), w1 = _mm256_load_ps(w + 8);
        UNROLL for (int j = 0; j < T; j++) {
            __m256 b = _mm256_broadcast_ss(xp + (size_t)j * xld + g);
            acc[0][j] = _mm256_fmadd_ps(w0, b, acc[0][j]);
            acc[1][j] = _mm256_fmadd_ps(w1, b, acc[1][j]);
        }
    }
}

// 16 rows from r0 × T tokens (the first at xp, permuted; at x, as given) into y
// (token j's row r0 at y + j·ldy + r0).
__attribute__((always_inline)) AVX2_TARGET static inline void rowlane_tile(
    int T, int dtype, const float *panel, const float *xp, size_t xld, const uint8_t *base, size_t row_bytes,
    int cols, int full, int rem8, const float *x, int ldx, float *y, int ldy, int r0) {
    // v[l][h][j]: lane l of the row kernel's (a0 + a1) + (a2 + a3), for 8 rows.
    __m256 v[8][2][RL_TOKENS];
    for (int l = 0; l < 8; l++) {
        __m256 acc[2][RL_TOKENS], p01[2][RL_TOKENS], p2[2][RL_TOKENS];
        run_pass(T, panel + pass_start(0, l, full, rem8) * RL_ROWS, xp + pass_start(0, l, full, rem8), xld,
                 full + rem8, acc);
        UNROLL for (int h = 0; h < 2; h++) UNROLL for (int j = 0; j < T; j++) p01[h][j] = acc[h][j];
        run_pass(T, panel + pass_start(1, l, full, rem8) * RL_ROWS, xp + pass_start(1, l, full, rem8), xld, full, acc);
        UNROLL for (int h = 0; h < 2; h++) UNROLL for (int j = 0; j < T; j++) p01[h][j] = _mm256_add_ps(p01[h][j], acc[h][j]);
        run_pass(T, panel + pass_start(2, l, full, rem8) * RL_ROWS, xp + pass_start(2, l, full, rem8), xld, full, acc);
        UNROLL for (int h = 0; h < 2; h++) UNROLL for (int j = 0; j < T; j++) p2[h][j] = acc[h][j];
        run_pass(T, panel + pass_start(3, l, full, rem8) * RL_ROWS, xp + pass_start(3, l, full, rem8), xld, full, acc);
        UNROLL for (int h = 0; h < 2; h++)
            UNROLL for (int j = 0; j < T; j++) v[l][h][j] = _mm256_add_ps(p01[h][j], _mm256_add_ps(p2[h][j], acc[h][j]));
    }
    int tail_at = cols & ~7;
    UNROLL for (int h = 0; h < 2; h++)
        UNROLL for (int j = 0; j < T; j++) {
            // hsum8's tree, ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)), then the scalar tail.
            __m256 s04 = _mm256_add_ps(v[0][h][j], v[4][h][j]), s26 = _mm256_add_ps(v[2][h][j], v[6][h][j]);
            __m256 s15 = _mm256_add_ps(v[1][h][j], v[5][h][j]), s37 = _mm256_add_ps(v[3][h][j], v[7][h][j]);
            __m256 sum = _mm256_add_ps(_mm256_add_ps(s04, s26), _mm256_add_ps(s15, s37));
            __m256 tail = _mm256_setzero_ps();
            if (tail_at < cols) {
                // Rare (cols % 8 != 0): the row kernel's scalar tail, row by row.
                _Alignas(32) float t8[8];
                for (int i = 0; i < 8; i++)
                    t8[i] = tail_dot(dtype, base + (size_t)(r0 + 8 * h + i) * row_bytes, tail_at, cols, x + (size_t)j * ldx);
                tail = _mm256_load_ps(t8);
            }
            // + 0 for an empty tail, as the row kernel adds it (it keeps the sign of zero sums equal).
            _mm256_storeu_ps(y + (size_t)j * ldy + r0 + 8 * h, _mm256_add_ps(sum, tail));
        }
}

#define ROWLANE_TILE(T)                                                                                         \
    rowlane_tile(T, dtype, tile, xp, xld, base, row_bytes, cols, full, rem8, x, ldx, y, ldy, r)

__attribute__((always_inline)) AVX2_TARGET static inline int rowlane_rows_impl(int dtype, const uint8_t *base,
                                                                               size_t row_bytes, int cols,
                                                                               const float *X, int ldx, int n_tokens,
                                                                               float *Y, int ldy, int lo, int hi,
                                                                               const rowlane_inputs *prepared,
                                                                               int rows_total) {
    int full = cols / 32, rem8 = (cols % 32) / 8;
    size_t xld = (size_t)(cols & ~7);
    int rows_done = lo + (hi - lo) / RL_ROWS * RL_ROWS;
    // Rows per block: as many whole tiles as the panel budget holds, at least one.
    size_t tile_floats = xld * RL_ROWS;
    int fit = (int)(RL_PANEL_BYTES / (tile_floats * sizeof(float))) * RL_ROWS;
    int row_block = fit < RL_ROWS ? RL_ROWS : fit > RL_MAX_ROWS ? RL_MAX_ROWS : fit;
    float *panel = thread_scratch(SCRATCH_ROWLANE_PANEL, (size_t)row_block * xld * sizeof(float));
    // A pool batch prepares each input once for all its threads and claims; a call on
    // its own lays them out here.
    const float *XP = prepared && prepared->data ? prepared->data : NULL;
    if (panel && !XP) {
        float *mem = thread_scratch(SCRATCH_ROWLANE_INPUTS, rowlane_inputs_bytes(cols, n_tokens));
        if (mem) XP = rowlane_prepare(X, ldx, cols, n_tokens, mem).data;
    }
    // Without the memory the caller's tiles do every row: same bits, slower.
    if (!panel || !XP) return lo;
    int tokens_done = n_tokens / RL_TOKENS * RL_TOKENS;
    for (int r0 = lo; r0 < rows_done; r0 += row_block) {
        int r1 = r0 + row_block < rows_done ? r0 + row_block : rows_done;
        for (int r = r0; r < r1; r += RL_ROWS) fill_tile(dtype, base, row_bytes, r, full, rem8, panel + (size_t)(r - r0) * xld);
        // The next block's weights go into L2 a slice per tile call while this block
        // computes, so that its fill does not wait on memory (the weights of one
        // product are read once per call, from memory at prefill's sizes).
        // After the range's last block, the rows that follow it in the matrix: a pool
        // thread's next claim is usually the next 64 rows.
        int next_end = r1 < rows_done ? rows_done : rows_total;
        size_t next_bytes = r1 < next_end ? (size_t)(next_end - r1 < row_block ? next_end - r1 : row_block) * row_bytes : 0;
        int token_tiles = (n_tokens + RL_TOKENS - 1) / RL_TOKENS, prefetch_from = token_tiles - (token_tiles + 3) / 4;
        size_t tile_calls = (size_t)(token_tiles - prefetch_from) * (size_t)((r1 - r0) / RL_ROWS);
        prefetcher ahead = {base + (size_t)r1 * row_bytes, next_bytes, (next_bytes / tile_calls + 63) & ~(size_t)63, 0};
        // Token tiles outside, row tiles inside: a token tile's permuted inputs stay
        // in cache while every row tile of the block reads them.
        for (int t = 0; t < n_tokens; t += RL_TOKENS) {
            const float *xp = XP + (size_t)t * xld, *x = X + (size_t)t * ldx;
            float *y = Y + (size_t)t * ldy;
            for (int r = r0; r < r1; r += RL_ROWS) {
                if (t / RL_TOKENS >= prefetch_from) prefetch_slice(&ahead);
                const float *tile = panel + (size_t)(r - r0) * xld;
                switch (t < tokens_done ? RL_TOKENS : n_tokens - t) {
                case 1: ROWLANE_TILE(1); break;
                case 2: ROWLANE_TILE(2); break;
                case 3: ROWLANE_TILE(3); break;
                case 4: ROWLANE_TILE(4); break;
                case 5: ROWLANE_TILE(5); break;
                default: ROWLANE_TILE(RL_TOKENS); break;
                }
            }
        }
    }
    return rows_done;
}

AVX2_TARGET int rowlane_rows_avx2(int dtype, const uint8_t *base, size_t row_bytes, int cols, const float *X,
                                  int ldx, int n_tokens, float *Y, int ldy, int lo, int hi,
                                  const rowlane_inputs *prepared, int rows_total) {
    // At least one whole 32-column block (so that every pass has a group), one tile
    // of rows and one of tokens.
    if (cols < 32 || hi - lo < RL_ROWS || n_tokens < RL_MIN_TOKENS) return lo;
    if (rows_total < hi) rows_total = hi;
    if (dtype == CK_F16)
        return rowlane_rows_impl(CK_F16, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi, prepared, rows_total);
    if (dtype == CK_BF16)
        return rowlane_rows_impl(CK_BF16, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi, prepared, rows_total);
    return rowlane_rows_impl(CK_F32, base, row_bytes, cols, X, ldx, n_tokens, Y, ldy, lo, hi, prepared, rows_total);
}

size_t rowlane_inputs_bytes(int cols, int n_tokens) { return (size_t)n_tokens * (size_t)(cols & ~7) * sizeof(float); }

rowlane_inputs rowlane_prepare(const float *X, int ldx, int cols, int n_tokens, float *mem) {
    size_t stride = (size_t)(cols & ~7);
    permute_inputs(X, ldx, n_tokens, cols / 32, (cols % 32) / 8, mem, stride);
    rowlane_inputs in = {mem, stride};
    return in;
}

#else

// Without the x86 kernels nothing takes row-lane inputs (rowlane_takes is 0).
size_t rowlane_inputs_bytes(int cols, int n_tokens) {
    (void)cols;
    (void)n_tokens;
    return 0;
}

rowlane_inputs rowlane_prepare(const float *X, int ldx, int cols, int n_tokens, float *mem) {
    (void)X, (void)ldx, (void)cols, (void)n_tokens, (void)mem;
    rowlane_inputs none = {NULL, 0};
    return none;
}

#endif
