// Float matrices stored as column panels (see ck_product in ckernels.h).
//
// Why panels: the one-token row kernel re-reads the input vector x for every row.
// While x fits comfortably in L1 (rows of up to 3072 columns, 12 KiB) that costs
// nothing, but at 4096 columns (16 KiB) the weight stream starts evicting it and at
// 8192 (32 KiB, the FFN value matrix of the 1.5B shape) every x load misses L1:
// measured on this project's development VM, an FP16 2048 × 8192 product read
// 12.4 GB/s against 32–33 GB/s for 2048-column rows. Interleaving rows to share x
// loads was slower still (two adjacent rows at once: 11–16 GB/s), and walking the
// row-major rows in column chunks broke the weight stream into short runs (12–14).
// Stored as panels of 2048 columns — panel p holds columns [2048p, 2048p + 2048) of
// every row, row after row — each panel is an ordinary row-major matrix with an
// 8 KiB x slice, and a block of rows is still one long sequential run per panel
// (32.5 GB/s on the same product).
//
// Summation order: each panel's partial sum is the usual row-kernel sum over that
// panel's columns (the order of matmul_float.c), and a row's result is
// ((P0 + P1) + P2) + … in panel order. Every path (one token, two tokens, tiles,
// portable) computes the partial sums with its own kernel, which all agree bit for
// bit, and adds them in the same order, so a panelled product stays independent of
// the thread count and of how a sequence is cut into chunks.
#include "ck_internal.h"

#include <math.h>

// Rows per block: each panel's share of a block is one sequential run (64 rows of
// 2048 FP16 columns: 256 KiB), and the partial sums of a block for a 512-token
// prefill fit in 128 KiB of scratch.
enum { PANEL_ROW_BLOCK = 64 };

void panel_rows(const ck_product *m, int n_tokens, int lo, int hi) {
    int pw = m->panel_cols;
    size_t elem = elem_size(m->dtype);
    int panels = (m->cols + pw - 1) / pw;
    for (int b = lo; b < hi; b += PANEL_ROW_BLOCK) {
        int e = hi - b < PANEL_ROW_BLOCK ? hi : b + PANEL_ROW_BLOCK;
        int n = e - b;
        // Panel 0 straight into Y.
        ck_matmul_rows(m->dtype, m->W, pw, m->X, m->ldx, n_tokens, m->Y, m->ldy, b, e);
        float *part = panels > 1 ? thread_scratch(SCRATCH_PANEL_PARTIALS, (size_t)n_tokens * n * sizeof(float)) : NULL;
        if (panels > 1 && !part) {
            // Out of memory: NaN outputs rather than partial sums.
            for (int t = 0; t < n_tokens; t++)
                for (int r = b; r < e; r++) m->Y[(size_t)t * m->ldy + r] = NAN;
            continue;
        }
        for (int p = 1; p < panels; p++) {
            // Every panel before p is pw columns wide; the last may be narrower.
            int width = m->cols - p * pw < pw ? m->cols - p * pw : pw;
            const uint8_t *panel = (const uint8_t *)m->W + (size_t)p * m->rows * pw * elem;
            ck_matmul_rows(m->dtype, panel + (size_t)b * width * elem, width, m->X + (size_t)p * pw, m->ldx, n_tokens,
                           part, n, 0, n);
            for (int t = 0; t < n_tokens; t++) {
                float *y = m->Y + (size_t)t * m->ldy + b;
                const float *q = part + (size_t)t * n;
                for (int r = 0; r < n; r++) y[r] = y[r] + q[r];
            }
        }
    }
}
