import Kernels

/// The parts every RWKV version shares around its blocks: the layer-normed embedding
/// and the output head.
///
/// `x = LN(emb[token]; ln0)` on the way in (the package precomputes that table at
/// load; computing it per token gives the same float32 values without a second copy
/// of `emb`), and `logits = head · LN(x; ln_out)` on the way out.
struct EmbeddingHead {
    /// Layer-norm epsilon of ln0 and ln_out (PyTorch's default).
    static let eps: Float = 1e-5

    let emb: WeightMatrix  // [V, C]
    let head: WeightMatrix  // [V, C]
    let ln0w: [Float], ln0b: [Float], lnOutW: [Float], lnOutB: [Float]

    init(_ bind: TensorBinder, vocabulary v: Int, width c: Int) throws {
        emb = try bind.matrix("emb.weight", rows: v, cols: c)
        head = try bind.matrix("head.weight", rows: v, cols: c)
        ln0w = try bind.vector("blocks.0.ln0.weight", count: c)
        ln0b = try bind.vector("blocks.0.ln0.bias", count: c)
        lnOutW = try bind.vector("ln_out.weight", count: c)
        lnOutB = try bind.vector("ln_out.bias", count: c)
    }

    /// x[t] = LN(emb[tokens[t]]; ln0). x: [T][C].
    func embed(_ tokens: ArraySlice<Int>, into x: UnsafeMutablePointer<Float>) {
        let c = emb.cols
        for (i, token) in tokens.enumerated() {
            emb.copyRow(token, into: x + i * c)
            Norm.layer(x + i * c, weight: ln0w, bias: ln0b, eps: Self.eps, count: c, out: x + i * c)
        }
    }

    /// logits = head · LN(x; ln_out) for the last of `t` rows, or for every row when `allRows`.
    /// x, scratch: [T][C]; logits: [1 or T][V].
    func logits(
        _ x: UnsafePointer<Float>, tokens t: Int, allRows: Bool, scratch: UnsafeMutablePointer<Float>,
        into logits: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        let c = emb.cols
        let first = allRows ? 0 : t - 1
        for i in first..<t {
            Norm.layer(x + i * c, weight: lnOutW, bias: lnOutB, eps: Self.eps, count: c, out: scratch + i * c)
        }
        MatMul.tokens(head, scratch + first * c, ldx: c, count: t - first, logits, ldy: head.rows, pool: pool)
    }
}

/// The receptance-gated squared-ReLU feed-forward of RWKV-4, 5 and 6 channel mixing.
struct GatedFeedForward {
    let key: WeightMatrix  // [F, C]
    let value: WeightMatrix  // [C, F]
    let receptance: WeightMatrix  // [C, C]

    init(_ bind: TensorBinder, prefix p: String, width c: Int, hidden f: Int) throws {
        key = try bind.matrix(p + "key.weight", rows: f, cols: c)
        value = try bind.matrix(p + "value.weight", rows: c, cols: f)
        receptance = try bind.matrix(p + "receptance.weight", rows: c, cols: c)
    }

    /// x += σ(xr @ R) · (relu(xk @ K)² @ V) for `t` tokens.
    /// xk, xr, x, r, out: [T][C]; hidden: [T][F].
    func apply(
        xk: UnsafePointer<Float>, xr: UnsafePointer<Float>, tokens t: Int, x: UnsafeMutablePointer<Float>,
        hidden: UnsafeMutablePointer<Float>, r: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>,
        pool: ThreadPool
    ) {
        let c = receptance.rows, f = key.rows
        // The key and receptance products share one pool job (one hand-off instead of two).
        MatMul.batch([.init(key, xk, hidden), .init(receptance, xr, r)], count: t, pool: pool)
        Activation.squaredReLU(hidden, count: t * f)
        MatMul.tokens(value, hidden, ldx: f, count: t, out, ldy: c, pool: pool)
        for idx in 0..<t * c { x[idx] += Activation.sigmoid(r[idx]) * out[idx] }
    }
}

extension ModelImplementation {
    /// Splits `tokens` into chunks of at most `size` and hands each chunk the logits rows it
    /// must fill: its own rows when `all`, the single row for the last chunk otherwise, or nil.
    func forEachChunk(
        _ tokens: ArraySlice<Int>, size: Int, all: Bool, logits: UnsafeMutablePointer<Float>,
        _ body: (ArraySlice<Int>, UnsafeMutablePointer<Float>?) -> Void
    ) {
        var start = tokens.startIndex
        while start < tokens.endIndex {
            let end = min(start + size, tokens.endIndex)
            let out: UnsafeMutablePointer<Float>? =
                all ? logits + (start - tokens.startIndex) * config.vocabulary : (end == tokens.endIndex ? logits : nil)
            body(tokens[start..<end], out)
            start = end
        }
    }
}
