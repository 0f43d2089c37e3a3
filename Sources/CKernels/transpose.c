// Cache-blocked transposition of 2- and 4-byte matrices (see include/ckernels.h), for
// re-laying out weights at load.
//
// A plain double loop writes its destination with a stride of `rows` elements, so
// every store lands on a new cache line; on the 1.5B shape the LoRA factors'
// transposes (about 50M floats, twice for a GGUF file) took about 0.6 s of a 1.1 s
// load. Square tiles keep both sides of each tile in L1, and memcpy of one element
// is the unaligned load or store the compiler emits anyway (mapped tensors may sit
// at any offset).
#include "ckernels.h"

#include <string.h>

// A 32 × 32 tile of floats is 4 KiB on each side.
enum { TRANSPOSE_TILE = 32 };

#define TRANSPOSE_WITH(TYPE)                                                                     \
    do {                                                                                         \
        const unsigned char *s = (const unsigned char *)src;                                     \
        unsigned char *d = (unsigned char *)dst;                                                 \
        for (size_t r0 = 0; r0 < rows; r0 += TRANSPOSE_TILE) {                                   \
            size_t r1 = r0 + TRANSPOSE_TILE < rows ? r0 + TRANSPOSE_TILE : rows;                 \
            for (size_t c0 = 0; c0 < cols; c0 += TRANSPOSE_TILE) {                               \
                size_t c1 = c0 + TRANSPOSE_TILE < cols ? c0 + TRANSPOSE_TILE : cols;             \
                for (size_t r = r0; r < r1; r++)                                                 \
                    for (size_t c = c0; c < c1; c++) {                                           \
                        TYPE v;                                                                  \
                        memcpy(&v, s + (r * cols + c) * sizeof(TYPE), sizeof(TYPE));             \
                        memcpy(d + (c * rows + r) * sizeof(TYPE), &v, sizeof(TYPE));             \
                    }                                                                            \
            }                                                                                    \
        }                                                                                        \
    } while (0)

void ck_transpose(const void *src, size_t rows, size_t cols, size_t elem_size, void *dst) {
    if (elem_size == 2)
        TRANSPOSE_WITH(unsigned short);
    else
        TRANSPOSE_WITH(unsigned int);
}
