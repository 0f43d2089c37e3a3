import Kernels

/// RWKV-7 models of the released shapes with deterministic pseudo-random weights, built in memory.
///
/// They compute nonsense, but they cost exactly what a real model of the same shape
/// costs, so benchmarks and timing reports can use them without a download.
public enum SyntheticModel {
    /// A released RWKV-7 World/G1 shape.
    public struct Shape: Sendable {
        /// The name used on the command line (`0.1b`).
        public let name: String
        /// Blocks.
        public let layers: Int
        /// Embedding width C (head size is 64).
        public let embedding: Int
        /// LoRA ranks: decay, a, v, gate.
        public let ranks: (decay: Int, a: Int, v: Int, gate: Int)
    }

    /// The shapes of the released RWKV-7 models.
    public static let shapes: [Shape] = [
        Shape(name: "0.1b", layers: 12, embedding: 768, ranks: (64, 64, 32, 128)),
        Shape(name: "0.4b", layers: 24, embedding: 1024, ranks: (64, 64, 32, 128)),
        Shape(name: "1.5b", layers: 24, embedding: 2048, ranks: (96, 96, 64, 256)),
        Shape(name: "2.9b", layers: 32, embedding: 2560, ranks: (96, 96, 64, 320)),
        Shape(name: "7.2b", layers: 32, embedding: 4096, ranks: (128, 128, 96, 480)),
    ]

    /// Builds the model of shape `name` with weights stored as `type`.
    public static func make(
        _ name: String, type: WeightType = .f16, threads: Int = 1, vocabulary: Int = 65536
    ) throws
        -> Model
    {
        guard let shape = shapes.first(where: { $0.name == name }) else {
            throw InferenceError(
                "unknown synthetic shape '\(name)' (known: \(shapes.map(\.name).joined(separator: ", ")))")
        }
        return try make(shape, type: type, threads: threads, vocabulary: vocabulary)
    }

    /// Builds a model of any `shape` (tests use cut-down ones: few layers, a real width).
    static func make(_ shape: Shape, type: WeightType, threads: Int, vocabulary: Int) throws -> Model {
        let name = shape.name
        let c = shape.embedding
        let f = 4 * c
        let h = c / 64
        let table = TensorTable(path: "synthetic:\(name)", format: .synthetic, owner: shape as AnyObject)
        var seed: UInt64 = 1
        func add(_ tname: String, _ dims: [Int], scale: Float, offset: Float = 0, as t: WeightType) throws {
            let count = dims.reduce(1, *)
            let raw = table.allocate(byteCount: t.byteCount(elements: count))
            var g = SeededGenerator(seed: seed)
            seed += 1
            // Values uniform in offset ± scale.
            func value() -> Float {
                offset + scale * Float(Double(g.next() >> 11) * (2.0 / 9_007_199_254_740_992.0) - 1)
            }
            if t.isQuantized {
                // Quantized in slices, so no float copy of a large matrix is ever held.
                let slice = 32 * 1024
                var values = [Float](repeating: 0, count: slice)
                for start in stride(from: 0, to: count, by: slice) {
                    let n = min(slice, count - start)
                    for i in 0..<n { values[i] = value() }
                    t.encode(Array(values.prefix(n)), into: raw + t.byteCount(elements: start))
                }
            } else {
                // Written directly in the storage type.
                for i in 0..<count {
                    let v = value()
                    switch t {
                    case .f32: raw.storeBytes(of: v, toByteOffset: 4 * i, as: Float.self)
                    case .f16: raw.storeBytes(of: Float16(v).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
                    default: raw.storeBytes(of: UInt16(v.bitPattern >> 16), toByteOffset: 2 * i, as: UInt16.self)
                    }
                }
            }
            try table.add(Tensor(name: tname, shape: dims, type: t, data: UnsafeRawPointer(raw)))
        }
        // The small LoRA factors stay in half precision when the matrices are quantized,
        // as `--precision` leaves them when it converts a real file.
        let loraType: WeightType = type.isQuantized ? .f16 : type
        try add("emb.weight", [vocabulary, c], scale: 1, as: type)
        for l in 0..<shape.layers {
            let p = "blocks.\(l)."
            let a = p + "att."
            for n in ["ln1", "ln2"] + (l == 0 ? ["ln0"] : []) {
                try add(p + n + ".weight", [c], scale: 0.1, offset: 1, as: .f32)
                try add(p + n + ".bias", [c], scale: 0.1, as: .f32)
            }
            for n in ["x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "a0", "v0", "k_k", "k_a"] {
                try add(a + n, [1, 1, c], scale: 0.4, offset: 0.5, as: .f32)
            }
            try add(a + "r_k", [h, 64], scale: 0.5, as: .f32)
            for (n, r) in [
                ("w", shape.ranks.decay), ("a", shape.ranks.a), ("v", shape.ranks.v), ("g", shape.ranks.gate),
            ] {
                try add(a + n + "1", [c, r], scale: 0.1, as: loraType)
                try add(a + n + "2", [r, c], scale: 0.1, as: loraType)
            }
            for n in ["receptance", "key", "value", "output"] {
                try add(a + n + ".weight", [c, c], scale: 1 / Float(c).squareRoot(), as: type)
            }
            try add(a + "ln_x.weight", [c], scale: 0.1, offset: 1, as: .f32)
            try add(a + "ln_x.bias", [c], scale: 0.1, as: .f32)
            try add(p + "ffn.x_k", [1, 1, c], scale: 0.4, offset: 0.5, as: .f32)
            try add(p + "ffn.key.weight", [f, c], scale: 1 / Float(c).squareRoot(), as: type)
            try add(p + "ffn.value.weight", [c, f], scale: 1 / Float(f).squareRoot(), as: type)
        }
        try add("ln_out.weight", [c], scale: 0.1, offset: 1, as: .f32)
        try add("ln_out.bias", [c], scale: 0.1, as: .f32)
        try add("head.weight", [vocabulary, c], scale: 1 / Float(c).squareRoot(), as: type)
        return try Model.load(table: table, threads: threads)
    }
}
