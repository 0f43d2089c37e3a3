import Foundation
import Kernels

/// RWKV-7 ("Goose", x070): the generation of the World v3 and G1 chat models.
///
/// Each block is `x += TimeMix(LN1(x)); x += ChannelMix(LN2(x))`, with the
/// embedding layer-normed by `ln0` and the head applied to `LN_out(x)`. The time
/// mix is a per-head N×N state updated by a generalised delta rule. The reference
/// expressions from the official package (rwkv 0.8.32, `RWKV_x070_TMix_one`) are
/// quoted above the Swift that computes them.
///
/// Tokens run in chunks: every projection is one matrix-matrix product over the
/// chunk and only the recurrence loops over tokens. A single token is a chunk of one,
/// and each output is summed in the same order either way, so step mode and
/// sequence mode give bit-identical results.
final class RWKV7: ModelImplementation, @unchecked Sendable {
    static func implements(_ version: ArchitectureVersion) -> Bool { version == .v7 }

    /// Layer-norm epsilon of ln0/ln1/ln2/ln_out (PyTorch's default).
    static let layerNormEps: Float = 1e-5
    /// Group-norm epsilon of ln_x, hard-coded as 64e-5 in the official package.
    static let groupNormEps: Float = 64e-5
    /// Tokens per internal chunk; bounds scratch memory for long prompts.
    ///
    /// Each chunk reads every weight from memory once and, on AVX2, copies it into the
    /// prefill tiles' float32 panels once, so longer chunks spread that over more
    /// tokens: 0.1B FP16 prefill on the Zen 2 host, A/B in one run, one thread 264 →
    /// 278 tokens/s from 64 to 128 (276 at 256), two threads 524 → 538 (539). At 128
    /// a chunk's 768-wide activations (384 KiB) still fit a 512 KiB L2.
    static let maxChunk = 128

    struct Block {
        var ln1w: [Float], ln1b: [Float], ln2w: [Float], ln2b: [Float]
        // Token-shift mixing coefficients [6][C] in the order r, w, k, v, a, g (one
        // buffer so the token-parallel mixing loop has plain pointers to all six).
        var mixes: FloatBuffer
        var w0: [Float], a0: [Float], v0: [Float]
        var kK: [Float], kA: [Float], rK: [Float]  // rK: [H*N]
        // LoRA factors as (out, in), half precision when the file's are, else float32:
        // w1T [Dw, C], w2T [C, Dw], etc.
        var w1T: WeightMatrix, w2T: WeightMatrix, a1T: WeightMatrix, a2T: WeightMatrix
        var v1T: WeightMatrix?, v2T: WeightMatrix?, g1T: WeightMatrix, g2T: WeightMatrix
        // Projections [C, C], used in place from the file.
        var wR: WeightMatrix, wK: WeightMatrix, wV: WeightMatrix, wO: WeightMatrix
        var lnxW: [Float], lnxB: [Float]
        var ffnXK: [Float]
        var ffnKey: WeightMatrix  // [F, C]
        var ffnValue: WeightMatrix  // [C, F]
    }

    let config: ModelConfig
    let stateLayout: StateLayout
    private let io: EmbeddingHead
    private let blocks: [Block]

    init(table: TensorTable) throws {
        let bind = TensorBinder(table: table)
        let embShape = try bind.shape("emb.weight")
        let rkShape = try bind.shape("blocks.0.att.r_k")
        guard embShape.count == 2, rkShape.count == 2 else {
            throw ModelFileError(table.path, .badShape, "emb.weight or blocks.0.att.r_k is not a matrix")
        }
        let (vocab, c) = (embShape[0], embShape[1])
        let (h, n) = (rkShape[0], rkShape[1])
        guard h * n == c, n > 0 else {
            throw ModelFileError(
                table.path, .badShape, "r_k shape \(rkShape) does not split the embedding width \(c) into heads")
        }
        let layers = try bind.layerCount()
        let ffnShape = try bind.shape("blocks.0.ffn.key.weight")
        guard ffnShape.count == 2 else {
            throw ModelFileError(table.path, .badShape, "blocks.0.ffn.key.weight is not a matrix")
        }
        let f = ffnShape[0]
        func rank(_ name: String) throws -> Int {
            let s = try bind.shape("blocks.0.att.\(name)")
            guard s.count == 2 else {
                throw ModelFileError(table.path, .badShape, "blocks.0.att.\(name) is not a matrix")
            }
            return s[1]
        }
        let dw = try rank("w1"), da = try rank("a1"), dg = try rank("g1")
        // Layer 0 has no value residual; v1 sets the rank when another layer exists.
        let dv = layers > 1 ? try bind.shape("blocks.1.att.v1").last ?? 0 : 0

        config = ModelConfig(
            version: .v7, layerCount: layers, embedding: c, vocabulary: vocab, ffnWidth: f,
            headCount: h, headSize: n, loraRanks: ["decay": dw, "a": da, "v": dv, "gate": dg])
        stateLayout = StateLayout(
            layers: layers, perLayer: [("att_x_prev", [c]), ("att_kv", [h, n, n]), ("ffn_x_prev", [c])])

        io = try EmbeddingHead(bind, vocabulary: vocab, width: c)

        var list: [Block] = []
        for l in 0..<layers {
            let p = "blocks.\(l)."
            let a = p + "att."
            func vec(_ name: String) throws -> [Float] { try bind.vector(name, count: c) }
            list.append(
                Block(
                    ln1w: try vec(p + "ln1.weight"), ln1b: try vec(p + "ln1.bias"),
                    ln2w: try vec(p + "ln2.weight"), ln2b: try vec(p + "ln2.bias"),
                    mixes: FloatBuffer(try ["x_r", "x_w", "x_k", "x_v", "x_a", "x_g"].flatMap { try vec(a + $0) }),
                    w0: try vec(a + "w0"), a0: try vec(a + "a0"),
                    v0: l == 0 ? [] : try vec(a + "v0"),
                    kK: try vec(a + "k_k"), kA: try vec(a + "k_a"), rK: try bind.flat(a + "r_k", count: c),
                    w1T: try bind.transposed(a + "w1", inputs: c, outputs: dw),
                    w2T: try bind.transposed(a + "w2", inputs: dw, outputs: c),
                    a1T: try bind.transposed(a + "a1", inputs: c, outputs: da),
                    a2T: try bind.transposed(a + "a2", inputs: da, outputs: c),
                    v1T: l == 0 ? nil : try bind.transposed(a + "v1", inputs: c, outputs: dv),
                    v2T: l == 0 ? nil : try bind.transposed(a + "v2", inputs: dv, outputs: c),
                    g1T: try bind.transposed(a + "g1", inputs: c, outputs: dg),
                    g2T: try bind.transposed(a + "g2", inputs: dg, outputs: c),
                    wR: try bind.matrix(a + "receptance.weight", rows: c, cols: c),
                    wK: try bind.matrix(a + "key.weight", rows: c, cols: c),
                    wV: try bind.matrix(a + "value.weight", rows: c, cols: c),
                    wO: try bind.matrix(a + "output.weight", rows: c, cols: c),
                    lnxW: try vec(a + "ln_x.weight"), lnxB: try vec(a + "ln_x.bias"),
                    ffnXK: try vec(p + "ffn.x_k"),
                    ffnKey: try bind.matrix(p + "ffn.key.weight", rows: f, cols: c),
                    ffnValue: try bind.matrix(p + "ffn.value.weight", rows: c, cols: f)))
        }
        blocks = list
    }

    /// v7 state tuning stores `time_state` in the state's own [head, value, key] order.
    static let stateTuningIsTransposed = false

    func initialStateValues() -> [Float] {
        [Float](repeating: 0, count: stateLayout.floatCount)
    }

    /// Scratch rows for one chunk of up to `maxChunk` tokens.
    private final class Scratch {
        let x, xa, xr, xw, xk, xv, xaa, xg, r, k, v, w, a, g, vFirst, y, tmp: FloatBuffer
        let loraW, loraA, loraV, loraG: FloatBuffer
        let ffn: FloatBuffer
        init(_ cfg: ModelConfig, tokens t: Int) {
            let c = cfg.embedding
            func rows(_ width: Int) -> FloatBuffer { FloatBuffer(count: t * width) }
            (x, xa, xr, xw, xk, xv) = (rows(c), rows(c), rows(c), rows(c), rows(c), rows(c))
            (xaa, xg, r, k, v, w) = (rows(c), rows(c), rows(c), rows(c), rows(c), rows(c))
            (a, g, vFirst, y, tmp) = (rows(c), rows(c), rows(c), rows(c), rows(c))
            loraW = rows(cfg.loraRanks["decay"] ?? 0)
            loraA = rows(cfg.loraRanks["a"] ?? 0)
            loraV = rows(cfg.loraRanks["v"] ?? 0)
            loraG = rows(cfg.loraRanks["gate"] ?? 0)
            ffn = rows(cfg.ffnWidth)
        }
    }

    func forward(
        tokens: ArraySlice<Int>, state: UnsafeMutablePointer<Float>, all: Bool,
        logits: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        let scratch = Scratch(config, tokens: min(tokens.count, Self.maxChunk))
        forEachChunk(tokens, size: Self.maxChunk, all: all, logits: logits) { chunk, out in
            forwardChunk(chunk, state: state, scratch: scratch, allRows: all, logits: out, pool: pool)
        }
    }

    private func forwardChunk(
        _ tokens: ArraySlice<Int>, state: UnsafeMutablePointer<Float>, scratch s: Scratch,
        allRows: Bool, logits: UnsafeMutablePointer<Float>?, pool: ThreadPool
    ) {
        let c = config.embedding
        let t = tokens.count
        let x = s.x.pointer

        io.embed(tokens, into: x)

        for (l, b) in blocks.enumerated() {
            let layerState = state + l * stateLayout.floatsPerLayer
            timeMix(l, b, tokens: t, attPrev: layerState, kv: layerState + c, s, pool)
            channelMix(
                b, tokens: t, ffnPrev: layerState + c + config.headCount * config.headSize * config.headSize, s, pool)
        }

        guard let logits else { return }
        io.logits(x, tokens: t, allRows: allRows, scratch: s.tmp.pointer, into: logits, pool: pool)
    }

    // swiftlint:disable:next function_body_length
    private func timeMix(
        _ layer: Int, _ b: Block, tokens t: Int, attPrev: UnsafeMutablePointer<Float>,
        kv: UnsafeMutablePointer<Float>, _ s: Scratch, _ pool: ThreadPool
    ) {
        let c = config.embedding
        let h = config.headCount
        let n = config.headSize
        let x = s.x.pointer, xa = s.xa.pointer
        // Per-token work below runs on token ranges across the pool: in a long prefill
        // it would otherwise be the serial part that a second thread cannot speed up.
        // Each token's values depend only on its own inputs, so the split cannot
        // change a result.
        pool.forEachBlock(count: t, minimumPerBlock: 8) { tokens in
            Norm.layerRows(
                x + tokens.lowerBound * c, rows: tokens.count, width: c, weight: b.ln1w, bias: b.ln1b,
                eps: Self.layerNormEps, out: xa + tokens.lowerBound * c)
        }

        // xx = x_prev − x;  xr = x + xx·x_r  (likewise w, k, v, a, g)
        let xr = s.xr.pointer, xw = s.xw.pointer, xk = s.xk.pointer
        let xv = s.xv.pointer, xaa = s.xaa.pointer, xg = s.xg.pointer
        let mR = UnsafePointer(b.mixes.pointer), mW = mR + c, mK = mR + 2 * c
        let mV = mR + 3 * c, mA = mR + 4 * c, mG = mR + 5 * c
        pool.forEachBlock(count: t, minimumPerBlock: 8) { tokens in
            for i in tokens {
                let prev = i == 0 ? UnsafePointer(attPrev) : UnsafePointer(xa + (i - 1) * c)
                let cur = xa + i * c
                let o = i * c
                for j in 0..<c {
                    let d = prev[j] - cur[j]
                    xr[o + j] = cur[j] + d * mR[j]
                    xw[o + j] = cur[j] + d * mW[j]
                    xk[o + j] = cur[j] + d * mK[j]
                    xv[o + j] = cur[j] + d * mV[j]
                    xaa[o + j] = cur[j] + d * mA[j]
                    xg[o + j] = cur[j] + d * mG[j]
                }
            }
        }
        attPrev.update(from: xa + (t - 1) * c, count: c)

        // r = xr @ R;  k = xk @ K;  v = xv @ V
        // and the first factors of the LoRA projections below (w1, a1, g1, v1), all
        // from this layer's mixes, as one pool job: the LoRA factors are too small to
        // split on their own, and one hand-off replaces seven.
        var first: [MatMul.Product] = [
            .init(b.wR, s.xr.pointer, s.r.pointer), .init(b.wK, s.xk.pointer, s.k.pointer),
            .init(b.wV, s.xv.pointer, s.v.pointer), .init(b.w1T, s.xw.pointer, s.loraW.pointer),
            .init(b.a1T, s.xaa.pointer, s.loraA.pointer), .init(b.g1T, s.xg.pointer, s.loraG.pointer),
        ]
        if let v1T = b.v1T { first.append(.init(v1T, s.xv.pointer, s.loraV.pointer)) }
        MatMul.batch(first, count: t, pool: pool)

        // w = tanh(xw @ w1) @ w2;  decay = exp(−0.606531 · σ(w0 + w))
        // a = σ(a0 + (xa @ a1) @ a2)
        // g = σ(xg @ g1) @ g2
        // (v's gate, σ(v0 + (xv @ v1) @ v2), is finished below.)
        Activation.tanh(s.loraW.pointer, count: t * b.w1T.rows)
        Activation.sigmoid(s.loraG.pointer, count: t * b.g1T.rows)
        var second: [MatMul.Product] = [
            .init(b.w2T, s.loraW.pointer, s.w.pointer), .init(b.a2T, s.loraA.pointer, s.a.pointer),
            .init(b.g2T, s.loraG.pointer, s.g.pointer),
        ]
        if let v2T = b.v2T { second.append(.init(v2T, s.loraV.pointer, s.tmp.pointer)) }
        MatMul.batch(second, count: t, pool: pool)
        // The element-wise steps below run on token ranges across the pool, like the
        // mixes above: in a long prefill, serial passes over every token were the part
        // a second thread could not speed up. The activations give the same value for
        // an element whatever range it is in, so the split cannot change a result.
        let w = s.w.pointer, a = s.a.pointer
        let vNow = s.v.pointer, vFirst = s.vFirst.pointer, gate = s.tmp.pointer
        pool.forEachBlock(count: t, minimumPerBlock: 8) { tokens in
            let lo = tokens.lowerBound * c, n = tokens.count * c
            for i in tokens {
                let o = i * c
                for j in 0..<c {
                    w[o + j] = b.w0[j] + w[o + j]
                    a[o + j] = b.a0[j] + a[o + j]
                }
            }
            Activation.sigmoid(w + lo, count: n)
            for idx in lo..<(lo + n) { w[idx] *= -0.606531 }
            Activation.exp(w + lo, count: n)
            Activation.sigmoid(a + lo, count: n)

            // layer 0: v_first = v;  else: v = v + (v_first − v) · σ(v0 + (xv @ v1) @ v2)
            if layer == 0 {
                (vFirst + lo).update(from: vNow + lo, count: n)
            } else if b.v2T != nil {
                for i in tokens {
                    for j in 0..<c { gate[i * c + j] = b.v0[j] + gate[i * c + j] }
                }
                Activation.sigmoid(gate + lo, count: n)
                for idx in lo..<(lo + n) { vNow[idx] += (vFirst[idx] - vNow[idx]) * gate[idx] }
            }
        }

        let r = s.r.pointer, k = s.k.pointer, v = s.v.pointer
        let y = s.y.pointer, kk = s.tmp.pointer
        // The mixes xr and xk are spent (their products are in r and k), so they hold
        // the delta rule's correction vectors: −kk and kk·a.
        let negKK = s.xr.pointer, kkA = s.xk.pointer
        pool.forEachBlock(count: t, minimumPerBlock: 8) { tokens in
            for i in tokens {
                let o = i * c
                // kk = normalize(k · k_k) per head (L2, eps 1e-12);  k = k · (1 + (a − 1) · k_a)
                for hh in 0..<h {
                    var norm: Float = 0
                    for j in 0..<n {
                        let q = k[o + hh * n + j] * b.kK[hh * n + j]
                        kk[o + hh * n + j] = q
                        norm += q * q
                    }
                    let inv = 1 / max(norm.squareRoot(), 1e-12)
                    for j in 0..<n { kk[o + hh * n + j] *= inv }
                }
                for j in 0..<c {
                    k[o + j] = k[o + j] * (1 + (a[o + j] - 1) * b.kA[j])
                    negKK[o + j] = -kk[o + j]
                    kkA[o + j] = kk[o + j] * a[o + j]
                }
            }
        }

        // Per head, with S[i,j] indexed [value channel, key channel]:
        //   S = S·diag(decay) + (S·(−kk)) (kk·a)ᵀ + v kᵀ;   y = S·r
        DeltaRule.run(
            state: kv, heads: h, n: n, tokens: t, r: r, w: w, k: k, v: v, a: negKK, b: kkA, y: y, pool: pool)

        pool.forEachBlock(count: t, minimumPerBlock: 8) { tokens in
            for i in tokens {
                let o = i * c
                // y = GN(y; ln_x) + (Σ_j r·k·r_k per head) · v;  y = y · g
                Norm.group(y + o, groups: h, weight: b.lnxW, bias: b.lnxB, eps: Self.groupNormEps, count: c, out: y + o)
                for hh in 0..<h {
                    let base = o + hh * n
                    var bonus: Float = 0
                    for j in 0..<n { bonus += r[base + j] * k[base + j] * b.rK[hh * n + j] }
                    for j in 0..<n { y[base + j] += bonus * v[base + j] }
                }
                for j in 0..<c { y[o + j] *= s.g.pointer[o + j] }
            }
        }

        // x = x + (y · g) @ O
        MatMul.tokens(b.wO, y, ldx: c, count: t, s.tmp.pointer, ldy: c, pool: pool)
        let out = s.tmp.pointer
        pool.forEachBlock(count: t, minimumPerBlock: 8) { tokens in
            for idx in (tokens.lowerBound * c)..<(tokens.upperBound * c) { x[idx] += out[idx] }
        }
    }

    private func channelMix(
        _ b: Block, tokens t: Int, ffnPrev: UnsafeMutablePointer<Float>, _ s: Scratch, _ pool: ThreadPool
    ) {
        let c = config.embedding
        let f = config.ffnWidth
        let x = s.x.pointer, xa = s.xa.pointer, xk = s.xk.pointer
        // k = x + (x_prev − x) · x_k, on token ranges across the pool (see timeMix).
        b.ffnXK.withUnsafeBufferPointer { mK in
            pool.forEachBlock(count: t, minimumPerBlock: 8) { tokens in
                Norm.layerRows(
                    x + tokens.lowerBound * c, rows: tokens.count, width: c, weight: b.ln2w, bias: b.ln2b,
                    eps: Self.layerNormEps, out: xa + tokens.lowerBound * c)
            }
            pool.forEachBlock(count: t, minimumPerBlock: 8) { tokens in
                for i in tokens {
                    let prev = i == 0 ? UnsafePointer(ffnPrev) : UnsafePointer(xa + (i - 1) * c)
                    for j in 0..<c { xk[i * c + j] = xa[i * c + j] + (prev[j] - xa[i * c + j]) * mK[j] }
                }
            }
        }
        ffnPrev.update(from: xa + (t - 1) * c, count: c)
        // out = relu(k @ K)² @ V
        MatMul.tokens(b.ffnKey, xk, ldx: c, count: t, s.ffn.pointer, ldy: f, pool: pool)
        let hidden = s.ffn.pointer, out = s.tmp.pointer
        pool.forEachBlock(count: t, minimumPerBlock: 8) { tokens in
            Activation.squaredReLU(hidden + tokens.lowerBound * f, count: tokens.count * f)
        }
        MatMul.tokens(b.ffnValue, hidden, ldx: f, count: t, out, ldy: c, pool: pool)
        pool.forEachBlock(count: t, minimumPerBlock: 8) { tokens in
            for idx in (tokens.lowerBound * c)..<(tokens.upperBound * c) { x[idx] += out[idx] }
        }
    }
}
