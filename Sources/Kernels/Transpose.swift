import CKernels

/// Cache-blocked matrix transposition, for re-laying out weights at load (`ck_transpose`).
public enum Transpose {
    /// `dst[c * rows + r] = src[r * cols + c]` for a row-major `[rows, cols]` source of
    /// 2- or 4-byte elements (`T`: `UInt16` or `Float`), read unaligned (mapped tensors
    /// may sit at any offset). `dst` holds `rows * cols` elements and must not overlap `src`.
    public static func copy<T: BitwiseCopyable>(
        _ src: UnsafeRawPointer, rows: Int, cols: Int, into dst: UnsafeMutablePointer<T>
    ) {
        precondition(MemoryLayout<T>.size == 2 || MemoryLayout<T>.size == 4, "2- or 4-byte elements only")
        ck_transpose(src, rows, cols, MemoryLayout<T>.size, dst)
    }
}
