import Kernels

/// Re-laid-out float32 copies of tensors, for formats that store a tensor in another
/// order than the checkpoint (rwkv.cpp and GGUF converters). The copies live in
/// buffers this table owns.
extension TensorTable {
    /// A 2-D tensor `[rows, cols]` transposed into a new float32 `[cols, rows]` (dequantizing it if needed).
    func transposedFloat32(_ t: Tensor) -> Tensor {
        let rows = t.shape[0], cols = t.shape[1]
        let out = allocate(byteCount: rows * cols * 4).bindMemory(to: Float.self, capacity: rows * cols)
        t.withFloat32Bytes { Transpose.copy($0, rows: rows, cols: cols, into: out) }
        return Tensor(name: t.name, shape: [cols, rows], type: .f32, data: UnsafeRawPointer(out))
    }

    /// A 3-D tensor `(n, a, b)` as a float32 `(n, b, a)`: its last two axes swapped.
    func swappedLastAxesFloat32(_ t: Tensor) -> Tensor {
        let (n, a, b) = (t.shape[0], t.shape[1], t.shape[2])
        let out = allocate(byteCount: t.count * 4).bindMemory(to: Float.self, capacity: t.count)
        t.withFloat32Bytes { src in
            for j in 0..<n { Transpose.copy(src + j * a * b * 4, rows: a, cols: b, into: out + j * a * b) }
        }
        return Tensor(name: t.name, shape: [n, b, a], type: .f32, data: UnsafeRawPointer(out))
    }
}
