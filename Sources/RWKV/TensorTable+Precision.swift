import Kernels

extension TensorTable {
    /// True for the tensors a `--precision` applies to: the embedding, the head and the
    /// key/value/receptance/gate/output matrices (the weights a token reads; everything
    /// else is small and stays as the version file binds it).
    static func isLargeMatrix(_ t: Tensor) -> Bool {
        guard t.squeezedShape.count == 2 else { return false }
        if t.name == "emb.weight" || t.name == "head.weight" { return true }
        let suffixes = [".key.weight", ".value.weight", ".receptance.weight", ".gate.weight", ".output.weight"]
        return suffixes.contains { t.name.hasSuffix($0) }
    }

    /// Converts every large matrix not already in `type` to `type`, once, into memory the
    /// table owns (the mapped file is then no longer used for them). Quantized targets need
    /// rows that are a multiple of the block size; other matrices keep their type.
    /// Returns the number of tensors converted.
    @discardableResult
    func convertLargeMatrices(to type: WeightType) -> Int {
        var converted = 0
        for t in tensors where Self.isLargeMatrix(t) && t.type != type {
            let cols = t.shape.last ?? 0
            if type.isQuantized && cols % type.blockSize != 0 { continue }
            let values = t.floats()
            let bytes = type.byteCount(elements: values.count)
            let raw = allocate(byteCount: bytes)
            type.encode(values, into: raw)
            set(Tensor(name: t.name, shape: t.shape, type: type, data: UnsafeRawPointer(raw)))
            converted += 1
        }
        return converted
    }
}
