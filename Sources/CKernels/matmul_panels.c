// Matrices stored as column panels (see ck_product in ckernels.h).
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
// (32.5 GB/s on the same product). The ggml types have the same problem with their
// rounded inputs (16-bit for Q8_0, three bytes per value for Q4/Q5: at 1.5B the value
// product read 17 GB/s in Q8_0 against 29 for the other matrices, and Q5_1 7.4 GB/s
// against 13): their panels run on views of the activations rounded once for the
// whole row (acts_from_column), so a panel's partial sum is the row-major kernel's
// on those columns, scaled by the same per-token scale.
//
// Summation order: each panel's partial sum is the usual row-kernel sum over that
// panel's columns (the order of matmul_float.c), and a row's result is
// ((P0 + P1) + P2) + … in panel order. On one instruction-set path the one-token,
// two-token and tiled kernels compute a panel's partial sum bit for bit alike (as
// they do for whole rows), and the sums are added in the same order whoever runs
// them, so a panelled product stays independent of the thread count and of how a
// sequence is cut into chunks. (The float paths differ from each other in the last
// bits, as they do without panels; the quantized paths agree exactly.)
#include "ck_internal.h"

// Rows per block: each panel's share of a block is one sequential run (256 rows of
// 2048 FP16 columns: 1 MiB; blocks of 64 rows read the 0.4B value matrix about 3%
// slower, of 16 about 10%), and the partial sums of a block for a 128-token chunk
// of prefill fit in 128 KiB of scratch. Pool threads claim 64 rows at a time, so
// on two threads the runs are 256 KiB.
enum { PANEL_ROW_BLOCK = 256 };

void panel_rows(const ck_product *m, const int_acts *acts, int n_tokens, int lo, int hi) {
    int pw = m->panel_cols;
    // Bytes per row of a panel `width` columns wide (whole blocks for the ggml types).
    size_t unit_bytes = ck_block_bytes(m->dtype), unit = (size_t)ck_block_size(m->dtype);
    size_t full_row_bytes = (size_t)pw / unit * unit_bytes;
    int panels = (m->cols + pw - 1) / pw;
    for (int b = lo; b < hi; b += PANEL_ROW_BLOCK) {
        int e = hi - b < PANEL_ROW_BLOCK ? hi : b + PANEL_ROW_BLOCK;
        int n = e - b;
        float *part = panels > 1 ? thread_scratch(SCRATCH_PANEL_PARTIALS, (size_t)n_tokens * n * sizeof(float)) : NULL;
        if (panels > 1 && !part) {
            fill_nan_rows(m->Y, m->ldy, n_tokens, b, e);
            continue;
        }
        for (int p = 0; p < panels; p++) {
            // Every panel before p is pw columns wide; the last may be narrower.
            int width = m->cols - p * pw < pw ? m->cols - p * pw : pw;
            size_t row_bytes = (size_t)width / unit * unit_bytes;
            const uint8_t *rows_b = (const uint8_t *)m->W + (size_t)p * m->rows * full_row_bytes + (size_t)b * row_bytes;
            // Panel 0 goes straight into Y; the others into `part`, then added.
            float *y = p == 0 ? m->Y + b : part;
            int ldy = p == 0 ? m->ldy : n;
            if (acts) {
                int_acts view = acts_from_column(acts, p * pw);
                quant_rows(m->dtype, rows_b, width, &view, n_tokens, y, ldy, 0, n);
            } else {
                ck_matmul_rows(m->dtype, rows_b, width, m->X + (size_t)p * pw, m->ldx, n_tokens, y, ldy, 0, n);
            }
            if (p == 0) continue;
            for (int t = 0; t < n_tokens; t++) {
                float *yt = m->Y + (size_t)t * m->ldy + b;
                const float *q = part + (size_t)t * n;
                for (int r = 0; r < n; r++) yt[r] = yt[r] + q[r];
            }
        }
    }
}
