import Foundation
import Kernels

/// RWKV-5 ("Eagle", versions 5.0, 5.1 and 5.2 as the official package tells them apart).
///
/// A multi-head linear-attention state indexed [head, key, value] with a learned
/// per-channel (5.2) or per-head (5.0, 5.1) decay; 5.1 and 5.2 gate the output.
/// The three variants differ only in tensor shapes, which are normalised once at
/// load (a per-head decay is repeated over the head's channels, `exp(time_first)`
/// becomes the bonus `u`), so one code path runs all of them. Reference expressions
/// are the official package's (rwkv 0.8.32, `RWKV.forward` for version 5.x).
final class RWKV5: ModelImplementation, @unchecked Sendable {
    static func implements(_ version: ArchitectureVersion) -> Bool {
        version == .v5_0 || version == .v5_1 || version == .v5_2
    }

    static let layerNormEps: Float = 1e-5
    /// ln_x epsilon: the package hard-codes 64e-5 (RWKV-LM trains with 1e-5 on x/8, the same thing).
    static let groupNormEps: Float = 64e-5
    static let maxChunk = 128

    struct Block {
        var ln1w: [Float], ln1b: [Float], ln2w: [Float], ln2b: [Float]
        var mixK: [Float], mixV: [Float], mixR: [Float], mixG: [Float]?
        var decay: [Float]  // w = exp(−exp(time_decay)), [H·N]
        var bonus: [Float]  // u, [H·N]
        var wR: WeightMatrix, wK: WeightMatrix, wV: WeightMatrix, wO: WeightMatrix, wG: WeightMatrix?
        var lnxW: [Float], lnxB: [Float]
        var ffnMixK: [Float], ffnMixR: [Float]
        var ffn: GatedFeedForward
    }

    let config: ModelConfig
    let stateLayout: StateLayout
    private let io: EmbeddingHead
    private let blocks: [Block]

    init(table: TensorTable) throws {
        let bind = TensorBinder(table: table)
        let version = ArchitectureVersion.detect(table)
        let embShape = try bind.shape("emb.weight")
        guard embShape.count == 2 else { throw ModelFileError(table.path, .badShape, "emb.weight is not a matrix") }
        let (vocab, c) = (embShape[0], embShape[1])
        // The head count is time_decay's first dimension (per head in 5.0/5.1, [H, N] in 5.2).
        let decayShape = try bind.shape("blocks.0.att.time_decay").filter { $0 != 1 }
        guard let h = decayShape.first, h > 0, c % h == 0 else {
            throw ModelFileError(
                table.path, .badShape, "time_decay shape \(decayShape) does not give a head count for width \(c)")
        }
        let n = c / h
        let layers = try bind.layerCount()
        let f = try bind.shape("blocks.0.ffn.key.weight").first ?? 0
        config = ModelConfig(
            version: version, layerCount: layers, embedding: c, vocabulary: vocab, ffnWidth: f, headCount: h,
            headSize: n,
            loraRanks: [:])
        stateLayout = StateLayout(
            layers: layers, perLayer: [("att_x_prev", [c]), ("att_kv", [h, n, n]), ("ffn_x_prev", [c])])
        io = try EmbeddingHead(bind, vocabulary: vocab, width: c)

        /// A per-head ([H]) or per-channel ([H, N]) tensor as [H·N].
        func perChannel(_ name: String, _ transform: (Float) -> Float) throws -> [Float] {
            let t = try table.require(name)
            let v = t.floats().map(transform)
            if v.count == c { return v }
            guard v.count == h else {
                throw ModelFileError(
                    table.path, .badShape, "'\(name)' has shape \(t.shape), expected [\(h)] or [\(h), \(n)]")
            }
            return (0..<c).map { v[$0 / n] }
        }

        var list: [Block] = []
        for l in 0..<layers {
            let p = "blocks.\(l)."
            let a = p + "att."
            func vec(_ name: String) throws -> [Float] { try bind.vector(name, count: c) }
            let hasGate = table[a + "gate.weight"] != nil
            // u = time_faaaa (5.2), or exp(time_first) in older checkpoints.
            let bonus =
                table[a + "time_faaaa"] != nil
                ? try perChannel(a + "time_faaaa", { $0 }) : try perChannel(a + "time_first", { expf($0) })
            list.append(
                Block(
                    ln1w: try vec(p + "ln1.weight"), ln1b: try vec(p + "ln1.bias"),
                    ln2w: try vec(p + "ln2.weight"), ln2b: try vec(p + "ln2.bias"),
                    mixK: try vec(a + "time_mix_k"), mixV: try vec(a + "time_mix_v"), mixR: try vec(a + "time_mix_r"),
                    mixG: hasGate ? try vec(a + "time_mix_g") : nil,
                    // w = exp(−exp(time_decay))
                    decay: try perChannel(a + "time_decay", { expf(-expf($0)) }),
                    bonus: bonus,
                    wR: try bind.matrix(a + "receptance.weight", rows: c, cols: c),
                    wK: try bind.matrix(a + "key.weight", rows: c, cols: c),
                    wV: try bind.matrix(a + "value.weight", rows: c, cols: c),
                    wO: try bind.matrix(a + "output.weight", rows: c, cols: c),
                    wG: hasGate ? try bind.matrix(a + "gate.weight", rows: c, cols: c) : nil,
                    lnxW: try vec(a + "ln_x.weight"), lnxB: try vec(a + "ln_x.bias"),
                    ffnMixK: try vec(p + "ffn.time_mix_k"), ffnMixR: try vec(p + "ffn.time_mix_r"),
                    ffn: try GatedFeedForward(bind, prefix: p + "ffn.", width: c, hidden: f)))
        }
        blocks = list
    }

    /// v5/v6 state tuning stores `time_state` as [head, value, key]; the state is [head, key, value].
    static let stateTuningIsTransposed = true

    func initialStateValues() -> [Float] { [Float](repeating: 0, count: stateLayout.floatCount) }

    private final class Scratch {
        let x, xa, xk, xv, xr, xg, r, k, v, g, y, tmp, ffn: FloatBuffer
        init(_ cfg: ModelConfig, tokens t: Int) {
            let c = cfg.embedding
            func rows(_ width: Int) -> FloatBuffer { FloatBuffer(count: t * width) }
            (x, xa, xk, xv, xr, xg, r) = (rows(c), rows(c), rows(c), rows(c), rows(c), rows(c), rows(c))
            (k, v, g, y, tmp) = (rows(c), rows(c), rows(c), rows(c), rows(c))
            ffn = rows(cfg.ffnWidth)
        }
    }

    func forward(
        tokens: ArraySlice<Int>, state: UnsafeMutablePointer<Float>, all: Bool,
        logits: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        let scratch = Scratch(config, tokens: min(tokens.count, Self.maxChunk))
        forEachChunk(tokens, size: Self.maxChunk, all: all, logits: logits) { chunk, out in
            forwardChunk(chunk, state: state, s: scratch, allRows: all, logits: out, pool: pool)
        }
    }

    private func forwardChunk(
        _ tokens: ArraySlice<Int>, state: UnsafeMutablePointer<Float>, s: Scratch, allRows: Bool,
        logits: UnsafeMutablePointer<Float>?, pool: ThreadPool
    ) {
        let c = config.embedding
        let t = tokens.count
        let x = s.x.pointer
        io.embed(tokens, into: x)
        let nn = config.headCount * config.headSize * config.headSize
        for (l, b) in blocks.enumerated() {
            let ls = state + l * stateLayout.floatsPerLayer
            timeMix(b, tokens: t, attPrev: ls, kv: ls + c, s, pool)
            channelMix(b, tokens: t, ffnPrev: ls + c + nn, s, pool)
        }
        guard let logits else { return }
        io.logits(x, tokens: t, allRows: allRows, scratch: s.tmp.pointer, into: logits, pool: pool)
    }

    private func timeMix(
        _ b: Block, tokens t: Int, attPrev: UnsafeMutablePointer<Float>, kv: UnsafeMutablePointer<Float>,
        _ s: Scratch, _ pool: ThreadPool
    ) {
        let c = config.embedding, h = config.headCount, n = config.headSize
        let x = s.x.pointer, xa = s.xa.pointer
        Norm.layerRows(x, rows: t, width: c, weight: b.ln1w, bias: b.ln1b, eps: Self.layerNormEps, out: xa)
        // xk = x·mk + prev·(1 − mk)   (likewise v, r, g)
        for i in 0..<t {
            let prev = i == 0 ? UnsafePointer(attPrev) : UnsafePointer(xa + (i - 1) * c)
            for q in 0..<c {
                let cur = xa[i * c + q], p = prev[q], o = i * c + q
                s.xk.pointer[o] = cur * b.mixK[q] + p * (1 - b.mixK[q])
                s.xv.pointer[o] = cur * b.mixV[q] + p * (1 - b.mixV[q])
                s.xr.pointer[o] = cur * b.mixR[q] + p * (1 - b.mixR[q])
                if let mg = b.mixG { s.xg.pointer[o] = cur * mg[q] + p * (1 - mg[q]) }
            }
        }
        attPrev.update(from: xa + (t - 1) * c, count: c)
        // r = xr @ R;  k = xk @ K;  v = xv @ V;  5.1/5.2: g = silu(xg @ G)
        // (one pool job for all four: one hand-off between threads instead of four)
        var products: [MatMul.Product] = [
            .init(b.wR, s.xr.pointer, s.r.pointer), .init(b.wK, s.xk.pointer, s.k.pointer),
            .init(b.wV, s.xv.pointer, s.v.pointer),
        ]
        if let wG = b.wG { products.append(.init(wG, s.xg.pointer, s.g.pointer)) }
        MatMul.batch(products, count: t, pool: pool)
        if b.wG != nil {
            for idx in 0..<t * c { s.g.pointer[idx] *= Activation.sigmoid(s.g.pointer[idx]) }
        }
        // Per head, S[i,j] indexed [key i, value j]:
        //   y[j] = Σ_i r[i]·(u[i]·k[i]·v[j] + S[i,j]);   S[i,j] = k[i]·v[j] + w[i]·S[i,j]
        let r = s.r.pointer, k = s.k.pointer, v = s.v.pointer, y = s.y.pointer
        for i in 0..<t {
            let o = i * c
            for hh in 0..<h {
                let base = o + hh * n
                let sh = kv + hh * n * n
                for j in 0..<n { y[base + j] = 0 }
                for ki in 0..<n {
                    let ch = hh * n + ki
                    let rk = r[base + ki], kk = k[base + ki]
                    let uk = b.bonus[ch] * kk, wi = b.decay[ch]
                    let row = sh + ki * n
                    for j in 0..<n {
                        let vj = v[base + j]
                        y[base + j] += rk * (uk * vj + row[j])
                        row[j] = kk * vj + wi * row[j]
                    }
                }
            }
            // y = GN(y);  5.1/5.2: y = y·g;  out = Wo·y
            Norm.group(y + o, groups: h, weight: b.lnxW, bias: b.lnxB, eps: Self.groupNormEps, count: c, out: y + o)
            if b.wG != nil { for q in 0..<c { y[o + q] *= s.g.pointer[o + q] } }
        }
        MatMul.tokens(b.wO, y, ldx: c, count: t, s.tmp.pointer, ldy: c, pool: pool)
        for idx in 0..<t * c { x[idx] += s.tmp.pointer[idx] }
    }

    private func channelMix(
        _ b: Block, tokens t: Int, ffnPrev: UnsafeMutablePointer<Float>, _ s: Scratch, _ pool: ThreadPool
    ) {
        let c = config.embedding
        let x = s.x.pointer, xa = s.xa.pointer, xk = s.xk.pointer, xr = s.xr.pointer
        Norm.layerRows(x, rows: t, width: c, weight: b.ln2w, bias: b.ln2b, eps: Self.layerNormEps, out: xa)
        // xk = x·mk + prev·(1 − mk);  xr likewise
        for i in 0..<t {
            let prev = i == 0 ? UnsafePointer(ffnPrev) : UnsafePointer(xa + (i - 1) * c)
            for q in 0..<c {
                let cur = xa[i * c + q]
                xk[i * c + q] = cur * b.ffnMixK[q] + prev[q] * (1 - b.ffnMixK[q])
                xr[i * c + q] = cur * b.ffnMixR[q] + prev[q] * (1 - b.ffnMixR[q])
            }
        }
        ffnPrev.update(from: xa + (t - 1) * c, count: c)
        // out = σ(xr @ R) · (relu(xk @ K)² @ V)
        b.ffn.apply(
            xk: xk, xr: xr, tokens: t, x: x, hidden: s.ffn.pointer, r: s.r.pointer, out: s.tmp.pointer, pool: pool)
    }
}
