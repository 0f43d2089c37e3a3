/// Re-laid-out float32 copies of tensors, for formats that store a tensor in another
/// order than the checkpoint (rwkv.cpp and GGUF converters). The copies live in
/// buffers this table owns.
extension TensorTable {
    /// A 2-D tensor `[rows, cols]` transposed into a new float32 `[cols, rows]` (dequantizing it if needed).
    func transposedFloat32(_ t: Tensor) -> Tensor {
        let rows = t.shape[0], cols = t.shape[1]
        let src = t.floats()
        let out = allocate(byteCount: rows * cols * 4).bindMemory(to: Float.self, capacity: rows * cols)
        for r in 0..<rows {
            for c in 0..<cols { out[c * rows + r] = src[r * cols + c] }
        }
        return Tensor(name: t.name, shape: [cols, rows], type: .f32, data: UnsafeRawPointer(out))
    }

    /// A 3-D tensor `(n, a, b)` as a float32 `(n, b, a)`: its last two axes swapped.
    func swappedLastAxesFloat32(_ t: Tensor) -> Tensor {
        let (n, a, b) = (t.shape[0], t.shape[1], t.shape[2])
        let src = t.floats()
        let out = allocate(byteCount: src.count * 4).bindMemory(to: Float.self, capacity: src.count)
        for j in 0..<n {
            for x in 0..<a {
                for y in 0..<b { out[(j * b + y) * a + x] = src[(j * a + x) * b + y] }
            }
        }
        return Tensor(name: t.name, shape: [n, b, a], type: .f32, data: UnsafeRawPointer(out))
    }
}
