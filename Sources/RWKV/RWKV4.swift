import Foundation
import Kernels

/// RWKV-4 (Pile, Raven): a per-channel WKV with a numerically stabilised running exponent.
///
/// The state per layer is the token-shift inputs and, per channel, the WKV
/// numerator `aa`, denominator `bb` and running maximum exponent `pp` (initially
/// −1e30). Reference expressions are the official package's (rwkv 0.8.32,
/// `RWKV.forward` for version 4), quoted above the Swift that computes them.
final class RWKV4: ModelImplementation, @unchecked Sendable {
    static func implements(_ version: ArchitectureVersion) -> Bool { version == .v4 }

    static let layerNormEps: Float = 1e-5
    static let maxChunk = 128

    struct Block {
        var ln1w: [Float], ln1b: [Float], ln2w: [Float], ln2b: [Float]
        var mixK: [Float], mixV: [Float], mixR: [Float]
        var decay: [Float]  // w = −exp(time_decay)
        var first: [Float]  // u = time_first
        var wR: WeightMatrix, wK: WeightMatrix, wV: WeightMatrix, wO: WeightMatrix
        var ffnMixK: [Float], ffnMixR: [Float]
        var ffn: GatedFeedForward
    }

    let config: ModelConfig
    let stateLayout: StateLayout
    private let io: EmbeddingHead
    private let blocks: [Block]

    init(table: TensorTable) throws {
        let bind = TensorBinder(table: table)
        let embShape = try bind.shape("emb.weight")
        guard embShape.count == 2 else { throw ModelFileError(table.path, .badShape, "emb.weight is not a matrix") }
        let (vocab, c) = (embShape[0], embShape[1])
        let layers = try bind.layerCount()
        let f = try bind.shape("blocks.0.ffn.key.weight").first ?? 0
        config = ModelConfig(
            version: .v4, layerCount: layers, embedding: c, vocabulary: vocab, ffnWidth: f, headCount: 1, headSize: 0,
            loraRanks: [:])
        stateLayout = StateLayout(
            layers: layers,
            perLayer: [("att_x_prev", [c]), ("att_aa", [c]), ("att_bb", [c]), ("att_pp", [c]), ("ffn_x_prev", [c])])
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
                    mixK: try vec(a + "time_mix_k"), mixV: try vec(a + "time_mix_v"), mixR: try vec(a + "time_mix_r"),
                    // w = −exp(time_decay)
                    decay: try vec(a + "time_decay").map { -expf($0) },
                    first: try vec(a + "time_first"),
                    wR: try bind.matrix(a + "receptance.weight", rows: c, cols: c),
                    wK: try bind.matrix(a + "key.weight", rows: c, cols: c),
                    wV: try bind.matrix(a + "value.weight", rows: c, cols: c),
                    wO: try bind.matrix(a + "output.weight", rows: c, cols: c),
                    ffnMixK: try vec(p + "ffn.time_mix_k"), ffnMixR: try vec(p + "ffn.time_mix_r"),
                    ffn: try GatedFeedForward(bind, prefix: p + "ffn.", width: c, hidden: f)))
        }
        blocks = list
    }

    /// Zeros, except `att_pp` = −1e30 (no history: the running maximum is minus infinity).
    /// RWKV-4 has no matrix state to tune.
    static let stateTuningIsTransposed = false

    func initialStateValues() -> [Float] {
        var v = [Float](repeating: 0, count: stateLayout.floatCount)
        for e in stateLayout.entries where e.name.hasSuffix(".att_pp") {
            for i in e.offset..<(e.offset + e.count) { v[i] = -1e30 }
        }
        return v
    }

    private final class Scratch {
        let x, xa, xk, xv, xr, r, k, v, y, tmp, ffn: FloatBuffer
        init(_ cfg: ModelConfig, tokens t: Int) {
            let c = cfg.embedding
            func rows(_ width: Int) -> FloatBuffer { FloatBuffer(count: t * width) }
            (x, xa, xk, xv, xr, r) = (rows(c), rows(c), rows(c), rows(c), rows(c), rows(c))
            (k, v, y, tmp) = (rows(c), rows(c), rows(c), rows(c))
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
        for (l, b) in blocks.enumerated() {
            let ls = state + l * stateLayout.floatsPerLayer
            timeMix(b, tokens: t, attPrev: ls, aa: ls + c, bb: ls + 2 * c, pp: ls + 3 * c, s, pool)
            channelMix(b, tokens: t, ffnPrev: ls + 4 * c, s, pool)
        }
        guard let logits else { return }
        io.logits(x, tokens: t, allRows: allRows, scratch: s.tmp.pointer, into: logits, pool: pool)
    }

    private func timeMix(
        _ b: Block, tokens t: Int, attPrev: UnsafeMutablePointer<Float>, aa: UnsafeMutablePointer<Float>,
        bb: UnsafeMutablePointer<Float>, pp: UnsafeMutablePointer<Float>, _ s: Scratch, _ pool: ThreadPool
    ) {
        let c = config.embedding
        let x = s.x.pointer, xa = s.xa.pointer
        Norm.layerRows(x, rows: t, width: c, weight: b.ln1w, bias: b.ln1b, eps: Self.layerNormEps, out: xa)
        // xk = x·mk + prev·(1 − mk)   (likewise v, r)
        for i in 0..<t {
            let prev = i == 0 ? UnsafePointer(attPrev) : UnsafePointer(xa + (i - 1) * c)
            for q in 0..<c {
                let cur = xa[i * c + q], p = prev[q], o = i * c + q
                s.xk.pointer[o] = cur * b.mixK[q] + p * (1 - b.mixK[q])
                s.xv.pointer[o] = cur * b.mixV[q] + p * (1 - b.mixV[q])
                s.xr.pointer[o] = cur * b.mixR[q] + p * (1 - b.mixR[q])
            }
        }
        attPrev.update(from: xa + (t - 1) * c, count: c)
        // r = σ(xr @ R);  k = xk @ K;  v = xv @ V
        // (one pool job for the three: one hand-off between threads instead of three)
        MatMul.batch(
            [
                .init(b.wR, s.xr.pointer, s.r.pointer), .init(b.wK, s.xk.pointer, s.k.pointer),
                .init(b.wV, s.xv.pointer, s.v.pointer),
            ], count: t, pool: pool)
        let r = s.r.pointer, k = s.k.pointer, v = s.v.pointer, y = s.y.pointer
        for i in 0..<t {
            for q in 0..<c {
                let o = i * c + q
                let kk = k[o], vv = v[o]
                // q = max(pp, u+k);  wkv = (e^(pp−q)·aa + e^(u+k−q)·v) / (e^(pp−q)·bb + e^(u+k−q))
                let uk = b.first[q] + kk
                var m = max(pp[q], uk)
                var e1 = expf(pp[q] - m), e2 = expf(uk - m)
                let wkv = (e1 * aa[q] + e2 * vv) / (e1 * bb[q] + e2)
                // q = max(pp+w, k);  aa = e^(pp+w−q)·aa + e^(k−q)·v;  bb = e^(pp+w−q)·bb + e^(k−q);  pp = q
                let pw = pp[q] + b.decay[q]
                m = max(pw, kk)
                e1 = expf(pw - m)
                e2 = expf(kk - m)
                aa[q] = e1 * aa[q] + e2 * vv
                bb[q] = e1 * bb[q] + e2
                pp[q] = m
                y[o] = Activation.sigmoid(r[o]) * wkv
            }
        }
        // out = Wo·(r·wkv)
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
