import Foundation
import Kernels

/// How llama.cpp's GGUF converter names and lays out RWKV-6 and RWKV-7 tensors,
/// and the mapping to and from the canonical (BlinkDL `.pth`) names and shapes.
///
/// llama.cpp's `convert_hf_to_gguf.py` renames every tensor, squeezes the
/// `(1, 1, C)` vectors to `(C)`, stores the LoRA factors transposed (as
/// `[out, in]` matrices), stacks the token-shift mixes into one
/// `time_mix_lerp_fused` tensor (v6: `w k v r g` as `(5, 1, 1, C)`; v7:
/// `r w k v a g` as `(6, 1, 1, C)`), swaps the last two axes of v6's
/// `time_maa_w2` and flattens v7's `r_k`. Both directions are described by the
/// tables below so the reader and the writer cannot disagree.
enum GGUFLayout {
    /// Whole-model tensors that only change name (GGUF → canonical).
    static let globalNames: [String: String] = [
        "token_embd.weight": "emb.weight",
        "token_embd_norm.weight": "blocks.0.ln0.weight", "token_embd_norm.bias": "blocks.0.ln0.bias",
        "output_norm.weight": "ln_out.weight", "output_norm.bias": "ln_out.bias",
        "output.weight": "head.weight",
    ]

    /// Per-block tensors that only change name (GGUF suffix after `blk.N.` → canonical after `blocks.N.`).
    static let blockNames: [String: String] = [
        "attn_norm.weight": "ln1.weight", "attn_norm.bias": "ln1.bias",
        "attn_norm_2.weight": "ln2.weight", "attn_norm_2.bias": "ln2.bias",
        "time_mix_key.weight": "att.key.weight", "time_mix_value.weight": "att.value.weight",
        "time_mix_receptance.weight": "att.receptance.weight", "time_mix_gate.weight": "att.gate.weight",
        "time_mix_output.weight": "att.output.weight",
        "time_mix_ln.weight": "att.ln_x.weight", "time_mix_ln.bias": "att.ln_x.bias",
        "channel_mix_key.weight": "ffn.key.weight", "channel_mix_value.weight": "ffn.value.weight",
        "channel_mix_receptance.weight": "ffn.receptance.weight",
    ]

    /// Per-architecture rules for the tensors whose layout changes.
    struct Rules {
        /// GGUF `(C)` vectors that are `(1, 1, C)` in the checkpoint.
        let vectors: [String: String]
        /// LoRA factors stored transposed.
        let transposed: [String: String]
        /// The parts of `time_mix_lerp_fused`, in stacking order.
        let fusedParts: [String]
        /// Tensors stored as `(C)` that are `(H, N)` in the checkpoint.
        let perHead: [String: String]
    }

    static let rules: [String: Rules] = [
        "rwkv6": Rules(
            vectors: [
                "time_mix_lerp_x.weight": "att.time_maa_x", "time_mix_lerp_w.weight": "att.time_maa_w",
                "time_mix_lerp_k.weight": "att.time_maa_k", "time_mix_lerp_v.weight": "att.time_maa_v",
                "time_mix_lerp_r.weight": "att.time_maa_r", "time_mix_lerp_g.weight": "att.time_maa_g",
                "time_mix_decay.weight": "att.time_decay",
                "channel_mix_lerp_k.weight": "ffn.time_maa_k", "channel_mix_lerp_r.weight": "ffn.time_maa_r",
            ],
            transposed: [
                "time_mix_w1.weight": "att.time_maa_w1", "time_mix_decay_w1.weight": "att.time_decay_w1",
                "time_mix_decay_w2.weight": "att.time_decay_w2",
            ],
            fusedParts: ["att.time_maa_w", "att.time_maa_k", "att.time_maa_v", "att.time_maa_r", "att.time_maa_g"],
            perHead: ["time_mix_first.weight": "att.time_faaaa"]),
        "rwkv7": Rules(
            vectors: [
                "time_mix_w0.weight": "att.w0", "time_mix_a0.weight": "att.a0", "time_mix_v0.weight": "att.v0",
                "time_mix_k_k.weight": "att.k_k", "time_mix_k_a.weight": "att.k_a",
                "channel_mix_lerp_k.weight": "ffn.x_k",
            ],
            transposed: [
                "time_mix_w1.weight": "att.w1", "time_mix_w2.weight": "att.w2", "time_mix_a1.weight": "att.a1",
                "time_mix_a2.weight": "att.a2", "time_mix_v1.weight": "att.v1", "time_mix_v2.weight": "att.v2",
                "time_mix_g1.weight": "att.g1", "time_mix_g2.weight": "att.g2",
            ],
            fusedParts: ["att.x_r", "att.x_w", "att.x_k", "att.x_v", "att.x_a", "att.x_g"],
            perHead: ["time_mix_r_k.weight": "att.r_k"]),
    ]

    /// v6's `time_maa_w2`: `(5, D, C)` in the checkpoint, `(5, C, D)` in GGUF.
    static let v6MixW2 = ("time_mix_w2.weight", "att.time_maa_w2")

    /// Splits `blk.N.rest` into (N, rest).
    static func blockParts(_ name: String, prefix: String) -> (Int, String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let tail = name.dropFirst(prefix.count)
        guard let dot = tail.firstIndex(of: "."), let n = Int(tail[..<dot]) else { return nil }
        return (n, String(tail[tail.index(after: dot)...]))
    }

    /// Renames and reshapes a GGUF file's tensors into the canonical layout, in place.
    static func canonicalize(_ table: TensorTable, architecture: String, headSize: Int) throws {
        let r = rules[architecture]!
        for t in table.tensors {
            if let name = globalNames[t.name] {
                table.replace(t.name, with: [t.renamed(name)])
                continue
            }
            guard let (n, rest) = blockParts(t.name, prefix: "blk.") else { continue }
            let stem = "blocks.\(n)."
            if let name = blockNames[rest] {
                table.replace(t.name, with: [t.renamed(stem + name)])
            } else if let name = r.vectors[rest] {
                table.replace(t.name, with: [t.renamed(stem + name, shape: [1, 1, t.count])])
            } else if let name = r.transposed[rest] {
                guard t.shape.count == 2 else { throw badShape(table, t, "a matrix") }
                // Float32 factors stay where the file has them, marked as stored
                // transposed; other types are converted into a transposed copy.
                if t.type == .f32 {
                    var view = t.renamed(stem + name, shape: [t.shape[1], t.shape[0]])
                    view.storedTransposed = true
                    table.replace(t.name, with: [view])
                } else {
                    table.replace(t.name, with: [table.transposedFloat32(t).renamed(stem + name)])
                }
            } else if let name = r.perHead[rest] {
                guard headSize > 0, t.count % headSize == 0 else { throw badShape(table, t, "heads of \(headSize)") }
                table.replace(t.name, with: [t.renamed(stem + name, shape: [t.count / headSize, headSize])])
            } else if rest == "time_mix_lerp_fused.weight" {
                let parts = r.fusedParts.count
                guard t.shape.first == parts, t.count % parts == 0, !t.type.isQuantized else {
                    throw badShape(table, t, "(\(parts), 1, 1, C)")
                }
                let c = t.count / parts
                table.replace(
                    t.name,
                    with: r.fusedParts.enumerated().map { i, part in
                        Tensor(
                            name: stem + part, shape: [1, 1, c], type: t.type, data: t.data + i * c * t.type.byteWidth)
                    })
            } else if architecture == "rwkv6", rest == v6MixW2.0 {
                guard t.shape.count == 3 else { throw badShape(table, t, "(5, C, D)") }
                table.replace(t.name, with: [table.swappedLastAxesFloat32(t).renamed(stem + v6MixW2.1)])
            }
        }
    }

    static func badShape(_ table: TensorTable, _ t: Tensor, _ expected: String) -> ModelFileError {
        ModelFileError(table.path, .badShape, "tensor '\(t.name)' has shape \(t.shape), expected \(expected)")
    }
}

extension Tensor {
    /// The same data under another name, optionally viewed with another shape of equal size.
    func renamed(_ name: String, shape: [Int]? = nil) -> Tensor {
        var t = Tensor(name: name, shape: shape ?? self.shape, type: type, data: data)
        t.owner = owner
        return t
    }
}
