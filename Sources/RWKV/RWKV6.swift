import Foundation
import Kernels

/// RWKV-6 ("Finch", x060): data-dependent token shift and decay (World v3 models of 2024).
///
/// Each block is `x += TimeMix(LN1(x)); x += ChannelMix(LN2(x))`, with the embedding
/// layer-normed by `ln0` and the head applied to `LN_out(x)`. The time mix keeps a
/// per-head N×N state indexed [head, key, value]. Reference expressions are the
/// official package's (rwkv 0.8.32, `RWKV.forward` for version 6), quoted above the
/// Swift that computes them. Chunks work as in `RWKV7`: projections as matrix-matrix
/// products, the recurrence per token, so step and sequence mode agree bit for bit.
final class RWKV6: ModelImplementation, @unchecked Sendable {
    static func implements(_ version: ArchitectureVersion) -> Bool { version == .v6 }

    static let layerNormEps: Float = 1e-5
    /// Group-norm epsilon of ln_x (64e-5 in the package for v5.x, v6 and v7).
    static let groupNormEps: Float = 64e-5
    static let maxChunk = 128

    struct Block {
        var ln1w: [Float], ln1b: [Float], ln2w: [Float], ln2b: [Float]
        var maaX: [Float], maaW: [Float], maaK: [Float], maaV: [Float], maaR: [Float], maaG: [Float]
        var maaW1T: WeightMatrix  // [5·D, C]
        var maaW2T: [WeightMatrix]  // 5 × [C, D], order w, k, v, r, g
        var decay: [Float]  // time_decay [C]
        var decayW1T: WeightMatrix, decayW2T: WeightMatrix  // [D', C], [C, D']
        var faaaa: [Float]  // [H·N]
        var wR: WeightMatrix, wK: WeightMatrix, wV: WeightMatrix, wG: WeightMatrix, wO: WeightMatrix
        var lnxW: [Float], lnxB: [Float]
        var ffnMaaK: [Float], ffnMaaR: [Float]
        var ffn: GatedFeedForward
    }

    let config: ModelConfig
    let stateLayout: StateLayout
    private let io: EmbeddingHead
    private let blocks: [Block]
    private let mixRank: Int, decayRank: Int
    /// Halve the residual stream after every `rescaleEvery` blocks (0: never); see `TensorTable.residualRescaleEvery`.
    private let rescaleEvery: Int

    init(table: TensorTable) throws {
        let bind = TensorBinder(table: table)
        let embShape = try bind.shape("emb.weight")
        let uShape = try bind.shape("blocks.0.att.time_faaaa")
        guard embShape.count == 2, uShape.count >= 2 else {
            throw ModelFileError(table.path, .badShape, "emb.weight or blocks.0.att.time_faaaa has an unexpected rank")
        }
        let (vocab, c) = (embShape[0], embShape[1])
        let (h, n) = (uShape[0], uShape[1])
        guard h * n == c else {
            throw ModelFileError(
                table.path, .badShape, "time_faaaa shape \(uShape) does not split the width \(c) into heads")
        }
        let layers = try bind.layerCount()
        let f = try bind.shape("blocks.0.ffn.key.weight").first ?? 0
        let w1 = try bind.shape("blocks.0.att.time_maa_w1")
        guard w1.count == 2, w1[1] % 5 == 0 else {
            throw ModelFileError(table.path, .badShape, "time_maa_w1 has shape \(w1), expected [C, 5·D]")
        }
        let mixRank = w1[1] / 5
        let decayRank = try bind.shape("blocks.0.att.time_decay_w1").last ?? 0
        self.mixRank = mixRank
        self.decayRank = decayRank
        rescaleEvery = table.residualRescaleEvery
        config = ModelConfig(
            version: .v6, layerCount: layers, embedding: c, vocabulary: vocab, ffnWidth: f, headCount: h, headSize: n,
            loraRanks: ["mix": mixRank, "decay": decayRank])
        stateLayout = StateLayout(
            layers: layers, perLayer: [("att_x_prev", [c]), ("att_kv", [h, n, n]), ("ffn_x_prev", [c])])
        io = try EmbeddingHead(bind, vocabulary: vocab, width: c)

        var list: [Block] = []
        for l in 0..<layers {
            let p = "blocks.\(l)."
            let a = p + "att."
            func vec(_ name: String) throws -> [Float] { try bind.vector(name, count: c) }
            // time_maa_w2 is [5, D, C]: five [D, C] matrices applied as m_j @ w2[j].
            let w2 = try table.require(a + "time_maa_w2")
            guard w2.shape == [5, mixRank, c] else {
                throw ModelFileError(
                    table.path, .badShape, "'\(w2.name)' has shape \(w2.shape), expected [5, \(mixRank), \(c)]")
            }
            let w2All = w2.floats()
            let maaW2T: [WeightMatrix] = (0..<5).map { j in
                let raw = table.allocate(byteCount: mixRank * c * 4).bindMemory(to: Float.self, capacity: mixRank * c)
                for d in 0..<mixRank {
                    for o in 0..<c { raw[o * mixRank + d] = w2All[(j * mixRank + d) * c + o] }
                }
                return WeightMatrix(type: .f32, base: UnsafeRawPointer(raw), rows: c, cols: mixRank)
            }
            list.append(
                Block(
                    ln1w: try vec(p + "ln1.weight"), ln1b: try vec(p + "ln1.bias"),
                    ln2w: try vec(p + "ln2.weight"), ln2b: try vec(p + "ln2.bias"),
                    maaX: try vec(a + "time_maa_x"), maaW: try vec(a + "time_maa_w"), maaK: try vec(a + "time_maa_k"),
                    maaV: try vec(a + "time_maa_v"), maaR: try vec(a + "time_maa_r"), maaG: try vec(a + "time_maa_g"),
                    maaW1T: try bind.transposed(a + "time_maa_w1", inputs: c, outputs: 5 * mixRank),
                    maaW2T: maaW2T,
                    decay: try bind.flat(a + "time_decay", count: c),
                    decayW1T: try bind.transposed(a + "time_decay_w1", inputs: c, outputs: decayRank),
                    decayW2T: try bind.transposed(a + "time_decay_w2", inputs: decayRank, outputs: c),
                    faaaa: try bind.flat(a + "time_faaaa", count: c),
                    wR: try bind.matrix(a + "receptance.weight", rows: c, cols: c),
                    wK: try bind.matrix(a + "key.weight", rows: c, cols: c),
                    wV: try bind.matrix(a + "value.weight", rows: c, cols: c),
                    wG: try bind.matrix(a + "gate.weight", rows: c, cols: c),
                    wO: try bind.matrix(a + "output.weight", rows: c, cols: c),
                    lnxW: try vec(a + "ln_x.weight"), lnxB: try vec(a + "ln_x.bias"),
                    ffnMaaK: try vec(p + "ffn.time_maa_k"), ffnMaaR: try vec(p + "ffn.time_maa_r"),
                    ffn: try GatedFeedForward(bind, prefix: p + "ffn.", width: c, hidden: f)))
        }
        blocks = list
    }

    /// v5/v6 state tuning stores `time_state` as [head, value, key]; the state is [head, key, value].
    static let stateTuningIsTransposed = true

    func initialStateValues() -> [Float] { [Float](repeating: 0, count: stateLayout.floatCount) }

    private final class Scratch {
        let x, xa, xxx, xw, xk, xv, xr, xg, r, k, v, g, w, y, tmp, ffn, mix, decayHidden: FloatBuffer
        init(_ cfg: ModelConfig, mixRank: Int, decayRank: Int, tokens t: Int) {
            let c = cfg.embedding
            func rows(_ width: Int) -> FloatBuffer { FloatBuffer(count: t * width) }
            (x, xa, xxx, xw, xk, xv) = (rows(c), rows(c), rows(c), rows(c), rows(c), rows(c))
            (xr, xg, r, k, v, g) = (rows(c), rows(c), rows(c), rows(c), rows(c), rows(c))
            (w, y, tmp) = (rows(c), rows(c), rows(c))
            ffn = rows(max(cfg.ffnWidth, c))
            mix = rows(5 * mixRank)
            decayHidden = rows(decayRank)
        }
    }

    func forward(
        tokens: ArraySlice<Int>, state: UnsafeMutablePointer<Float>, all: Bool,
        logits: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        let scratch = Scratch(config, mixRank: mixRank, decayRank: decayRank, tokens: min(tokens.count, Self.maxChunk))
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
            // llama.cpp's RWKV-6 GGUF files store output and value weights divided by
            // 2^(layer / rescaleEvery) (the fp16 overflow guard of the official package);
            // halving x at the same layers gives the model they were made from.
            if rescaleEvery > 0, (l + 1) % rescaleEvery == 0 {
                for idx in 0..<t * c { x[idx] *= 0.5 }
            }
        }
        guard let logits else { return }
        io.logits(x, tokens: t, allRows: allRows, scratch: s.tmp.pointer, into: logits, pool: pool)
    }

    // swiftlint:disable:next function_body_length
    private func timeMix(
        _ b: Block, tokens t: Int, attPrev: UnsafeMutablePointer<Float>, kv: UnsafeMutablePointer<Float>,
        _ s: Scratch, _ pool: ThreadPool
    ) {
        let c = config.embedding, h = config.headCount, n = config.headSize, d = mixRank
        let x = s.x.pointer, xa = s.xa.pointer
        Norm.layerRows(x, rows: t, width: c, weight: b.ln1w, bias: b.ln1b, eps: Self.layerNormEps, out: xa)

        // dxx = prev − x;  xxx = x + dxx·time_maa_x
        for i in 0..<t {
            let prev = i == 0 ? UnsafePointer(attPrev) : UnsafePointer(xa + (i - 1) * c)
            for j in 0..<c { s.xxx.pointer[i * c + j] = xa[i * c + j] + (prev[j] - xa[i * c + j]) * b.maaX[j] }
        }
        // m = tanh(xxx @ time_maa_w1) viewed as (5, D);  m_j = m[j] @ time_maa_w2[j]
        MatMul.tokens(b.maaW1T, s.xxx.pointer, ldx: c, count: t, s.mix.pointer, ldy: 5 * d, pool: pool)
        Activation.tanh(s.mix.pointer, count: t * 5 * d)
        // xw = x + dxx·(time_maa_w + m_w)   (likewise k, v, r, g)
        let targets = [(s.xw, b.maaW), (s.xk, b.maaK), (s.xv, b.maaV), (s.xr, b.maaR), (s.xg, b.maaG)]
        for (j, (dst, maa)) in targets.enumerated() {
            MatMul.tokens(b.maaW2T[j], s.mix.pointer + j * d, ldx: 5 * d, count: t, s.tmp.pointer, ldy: c, pool: pool)
            for i in 0..<t {
                let prev = i == 0 ? UnsafePointer(attPrev) : UnsafePointer(xa + (i - 1) * c)
                for q in 0..<c {
                    let cur = xa[i * c + q]
                    dst.pointer[i * c + q] = cur + (prev[q] - cur) * (maa[q] + s.tmp.pointer[i * c + q])
                }
            }
        }
        attPrev.update(from: xa + (t - 1) * c, count: c)

        // r = xr @ R;  k = xk @ K;  v = xv @ V;  g = silu(xg @ G)
        // and the first factor of the decay below, as one pool job (one hand-off
        // between threads instead of five; the decay factor is too small to split alone).
        MatMul.batch(
            [
                .init(b.wR, s.xr.pointer, s.r.pointer), .init(b.wK, s.xk.pointer, s.k.pointer),
                .init(b.wV, s.xv.pointer, s.v.pointer), .init(b.wG, s.xg.pointer, s.g.pointer),
                .init(b.decayW1T, s.xw.pointer, s.decayHidden.pointer),
            ], count: t, pool: pool)
        for idx in 0..<t * c { s.g.pointer[idx] *= Activation.sigmoid(s.g.pointer[idx]) }

        // w = exp(−exp(time_decay + tanh(xw @ time_decay_w1) @ time_decay_w2))
        Activation.tanh(s.decayHidden.pointer, count: t * decayRank)
        MatMul.tokens(b.decayW2T, s.decayHidden.pointer, ldx: decayRank, count: t, s.w.pointer, ldy: c, pool: pool)
        for i in 0..<t {
            for q in 0..<c { s.w.pointer[i * c + q] = expf(-expf(b.decay[q] + s.w.pointer[i * c + q])) }
        }

        // Per head, S[i,j] indexed [key i, value j]:
        //   y[j] = Σ_i r[i]·(u[i]·k[i]·v[j] + S[i,j]);   S[i,j] = k[i]·v[j] + w[i]·S[i,j]
        let r = s.r.pointer, k = s.k.pointer, v = s.v.pointer, w = s.w.pointer, y = s.y.pointer
        for i in 0..<t {
            let o = i * c
            for hh in 0..<h {
                let base = o + hh * n
                let sh = kv + hh * n * n
                for j in 0..<n { y[base + j] = 0 }
                for ki in 0..<n {
                    let rk = r[base + ki]
                    let kk = k[base + ki]
                    let uk = b.faaaa[hh * n + ki] * kk
                    let wi = w[base + ki]
                    let row = sh + ki * n
                    for j in 0..<n {
                        let vj = v[base + j]
                        y[base + j] += rk * (uk * vj + row[j])
                        row[j] = kk * vj + wi * row[j]
                    }
                }
            }
            // out = Wo·(GN(y)·g)
            Norm.group(y + o, groups: h, weight: b.lnxW, bias: b.lnxB, eps: Self.groupNormEps, count: c, out: y + o)
            for q in 0..<c { y[o + q] *= s.g.pointer[o + q] }
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
        // xk = x + (prev − x)·time_maa_k;  xr = x + (prev − x)·time_maa_r
        for i in 0..<t {
            let prev = i == 0 ? UnsafePointer(ffnPrev) : UnsafePointer(xa + (i - 1) * c)
            for q in 0..<c {
                let cur = xa[i * c + q]
                xk[i * c + q] = cur + (prev[q] - cur) * b.ffnMaaK[q]
                xr[i * c + q] = cur + (prev[q] - cur) * b.ffnMaaR[q]
            }
        }
        ffnPrev.update(from: xa + (t - 1) * c, count: c)
        // out = σ(xr @ R) · (relu(xk @ K)² @ V)
        b.ffn.apply(
            xk: xk, xr: xr, tokens: t, x: x, hidden: s.ffn.pointer, r: s.r.pointer, out: s.tmp.pointer, pool: pool)
    }
}
