import Kernels

/// Looks up tensors by canonical name and checks their shapes while a version binds its weights.
struct TensorBinder {
    let table: TensorTable

    private func shapeError(_ t: Tensor, _ expected: String) -> ModelFileError {
        ModelFileError(table.path, .badShape, "tensor '\(t.name)' has shape \(t.shape), expected \(expected)")
    }

    /// A vector of `count` elements (size-1 dimensions ignored), upcast to float32.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try table.require(name)
        guard t.count == count, t.squeezedShape.count <= 1 else { throw shapeError(t, "\(count) elements") }
        return t.floats()
    }

    /// All elements of a tensor of exactly `count` elements, any shape, upcast to float32.
    func flat(_ name: String, count: Int) throws -> [Float] {
        let t = try table.require(name)
        guard t.count == count else { throw shapeError(t, "\(count) elements") }
        return t.floats()
    }

    /// A `[rows, cols]` matrix used as `y = W·x`: in place, or — when
    /// `WeightMatrix.prefersPanels` says the row kernel runs faster that way (the wide
    /// FFN value matrices) — laid out once in column panels. A tensor in memory the
    /// table owns is rearranged where it is; a mapped one is copied into the table's
    /// memory and its pages are dropped from the process, so either way the weights
    /// are held once. The table's tensor then describes the panels, and `floats()`
    /// still reads it in row-major order.
    func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        var t = try table.require(name)
        if t.storedTransposed {
            // Only LoRA factors are stored transposed, and they are bound through
            // transposed(); a matrix bound as-is needs its row-major copy.
            var stored = Tensor(name: t.name, shape: [t.shape[1], t.shape[0]], type: t.type, data: t.data)
            stored.owner = t.owner
            t = table.transposedFloat32(stored)
            table.set(t)
        }
        guard t.squeezedShape == [rows, cols] || t.shape == [rows, cols] else {
            throw shapeError(t, "[\(rows), \(cols)]")
        }
        if t.panelColumns > 0 {
            return WeightMatrix(type: t.type, base: t.data, rows: rows, cols: cols, panelColumns: t.panelColumns)
        }
        guard WeightMatrix.prefersPanels(type: t.type, rows: rows, cols: cols) else {
            return WeightMatrix(type: t.type, base: t.data, rows: rows, cols: cols)
        }
        let bytes = t.type.byteCount(elements: rows * cols)
        let m: WeightMatrix
        if t.owner is OwnedBuffer && !overlapsAnotherTensor(t, bytes: bytes) {
            let rowMajor = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            defer { rowMajor.deallocate() }
            rowMajor.copyMemory(from: t.data, byteCount: bytes)
            m = WeightMatrix.panelled(
                t.type, rows: rows, cols: cols, from: rowMajor, into: UnsafeMutableRawPointer(mutating: t.data))
        } else {
            m = WeightMatrix.panelled(
                t.type, rows: rows, cols: cols, from: t.data, into: table.allocate(byteCount: bytes))
            (t.owner as? MappedFile)?.dropPages(t.data, count: bytes)
        }
        var panelled = Tensor(name: t.name, shape: t.shape, type: t.type, data: m.base)
        panelled.panelColumns = m.panelColumns
        table.set(panelled)
        return m
    }

    /// True when another tensor of the table views any of `t`'s bytes (format
    /// translations split fused tensors into views), which rules out rearranging `t` in place.
    private func overlapsAnotherTensor(_ t: Tensor, bytes: Int) -> Bool {
        let lo = t.data, hi = t.data + bytes
        return table.tensors.contains { o in
            o.name != t.name && o.data < hi && lo < o.data + o.type.byteCount(elements: o.count)
        }
    }

    /// A `[inputs, outputs]` matrix applied as `x @ M`, transposed once into an
    /// `[outputs, inputs]` copy so the row kernel can run it. Used for the small LoRA
    /// factors only, so the copy is a small fraction of the model. Half-precision
    /// factors stay half precision (the values are moved, not converted), so a token
    /// reads no more bytes than the file holds; other types become float32.
    func transposed(_ name: String, inputs: Int, outputs: Int) throws -> WeightMatrix {
        let t = try table.require(name)
        guard t.shape == [inputs, outputs] else { throw shapeError(t, "[\(inputs), \(outputs)]") }
        if t.storedTransposed {
            // Already [outputs, inputs] in memory (a GGUF factor): used in place.
            return WeightMatrix(type: t.type, base: t.data, rows: outputs, cols: inputs)
        }
        if t.type == .f16 || t.type == .bf16 {
            let raw = table.allocate(byteCount: inputs * outputs * 2)
            let dst = raw.bindMemory(to: UInt16.self, capacity: inputs * outputs)
            // Mapped tensors may sit at odd offsets; Transpose reads its source unaligned.
            Transpose.copy(t.data, rows: inputs, cols: outputs, into: dst)
            return WeightMatrix(type: t.type, base: UnsafeRawPointer(raw), rows: outputs, cols: inputs)
        }
        let raw = table.allocate(byteCount: inputs * outputs * 4)
        let dst = raw.bindMemory(to: Float.self, capacity: inputs * outputs)
        t.withFloat32Bytes { Transpose.copy($0, rows: inputs, cols: outputs, into: dst) }
        return WeightMatrix(type: .f32, base: UnsafeRawPointer(raw), rows: outputs, cols: inputs)
    }

    /// The shape of `name`, or a missing-tensor error.
    func shape(_ name: String) throws -> [Int] { try table.require(name).shape }

    /// The number of blocks: the largest `blocks.N.` index plus one.
    func layerCount() throws -> Int {
        var n = 0
        for name in table.names where name.hasPrefix("blocks.") {
            let parts = name.split(separator: ".")
            if parts.count > 1, let i = Int(parts[1]) { n = max(n, i + 1) }
        }
        guard n > 0 else {
            throw ModelFileError(table.path, .missingTensor, "no 'blocks.N.' tensors: not an RWKV model")
        }
        return n
    }
}
