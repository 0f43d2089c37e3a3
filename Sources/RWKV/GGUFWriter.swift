import Foundation
import Kernels

/// Writes an RWKV-6 or RWKV-7 model as a GGUF file (version 3) laid out as llama.cpp's converter does.
///
/// Names and layouts follow `GGUFLayout`; the metadata holds the hyperparameters
/// llama.cpp reads (`{arch}.block_count`, `.embedding_length`,
/// `.feed_forward_length`, `.wkv.head_size`, the LoRA ranks, the layer-norm epsilon)
/// and, when a World tokenizer is given, the vocabulary (`GGUFVocabulary`). The
/// large matrices (the embedding, the head, and every key/value/receptance/gate/
/// output matrix) get the requested type; vectors and the small LoRA factors stay
/// float32, as llama.cpp keeps them. Data goes to a temporary file that replaces
/// `path` only once complete, one tensor at a time, so a large model never needs a
/// second copy in memory.
public enum GGUFWriter {
    /// Writes `model` to `path` with its large matrices in `type`, embedding `tokenizer` if it is a World tokenizer.
    public static func write(_ model: Model, to path: String, type: WeightType, tokenizer: Tokenizer? = nil) throws {
        try write(model, to: path, type: type, tokenizer: tokenizer, rescaleEvery: 0)
    }

    /// One tensor to write: its GGUF name, shape (outermost first), storage type and values.
    struct Record {
        let name: String
        let shape: [Int]
        let type: WeightType
        let values: () -> [Float]
    }

    /// As `write`, optionally dividing RWKV-6 output/value weights for llama.cpp's
    /// `rescale_every_n_layers` (tests use this to check the reader's rescaling).
    static func write(
        _ model: Model, to path: String, type: WeightType, tokenizer: Tokenizer?, rescaleEvery: Int
    ) throws {
        let cfg = model.config
        guard cfg.version == .v6 || cfg.version == .v7 else {
            throw InferenceError(
                "GGUF (llama.cpp) has RWKV-6 and RWKV-7 architectures only; write RWKV v\(cfg.version.rawValue) as an rwkv.cpp .bin"
            )
        }
        let arch = cfg.version == .v6 ? "rwkv6" : "rwkv7"
        let records = try self.records(model, arch: arch, type: type, rescaleEvery: rescaleEvery)

        var meta: [(String, GGUFValue)] = [
            ("general.architecture", .string(Array(arch.utf8))),
            (
                "general.name",
                .string(Array(((model.path as NSString).lastPathComponent as NSString).deletingPathExtension.utf8))
            ),
            ("general.alignment", .int(Int64(alignment))),
            ("general.file_type", .int(Int64(fileType(type)))),
            ("\(arch).context_length", .int(1_048_576)),
            ("\(arch).block_count", .int(Int64(cfg.layerCount))),
            ("\(arch).embedding_length", .int(Int64(cfg.embedding))),
            ("\(arch).feed_forward_length", .int(Int64(cfg.ffnWidth))),
            ("\(arch).attention.layer_norm_epsilon", .float(1e-5)),
            ("\(arch).attention.head_count", .int(0)),
            ("\(arch).wkv.head_size", .int(Int64(cfg.headSize))),
        ]
        if arch == "rwkv6" {
            meta += [
                ("\(arch).time_mix_extra_dim", .int(Int64(cfg.loraRanks["mix"] ?? 0))),
                ("\(arch).time_decay_extra_dim", .int(Int64(cfg.loraRanks["decay"] ?? 0))),
                ("\(arch).rescale_every_n_layers", .int(Int64(rescaleEvery))),
            ]
        } else {
            meta += [
                ("\(arch).attention.decay_lora_rank", .int(Int64(cfg.loraRanks["decay"] ?? 0))),
                ("\(arch).attention.iclr_lora_rank", .int(Int64(cfg.loraRanks["a"] ?? 0))),
                ("\(arch).attention.value_residual_mix_lora_rank", .int(Int64(cfg.loraRanks["v"] ?? 0))),
                ("\(arch).attention.gate_lora_rank", .int(Int64(cfg.loraRanks["gate"] ?? 0))),
            ]
        }
        if let tokenizer, tokenizer is WorldTokenizer {
            meta += GGUFVocabulary.metadata(tokenizer, count: cfg.vocabulary)
        }

        var head: [UInt8] = []
        head += Array("GGUF".utf8)
        head.appendLE(UInt32(3))
        head.appendLE(UInt64(records.count))
        head.appendLE(UInt64(meta.count))
        for (key, value) in meta {
            appendString(Array(key.utf8), to: &head)
            append(value, to: &head)
        }
        var offset = 0
        var offsets: [Int] = []
        for r in records {
            appendString(Array(r.name.utf8), to: &head)
            head.appendLE(UInt32(r.shape.count))
            for d in r.shape.reversed() { head.appendLE(UInt64(d)) }
            head.appendLE(ggmlCode[r.type]!)
            head.appendLE(UInt64(offset))
            offsets.append(offset)
            offset = padded(offset + r.type.byteCount(elements: r.shape.reduce(1, *)))
        }
        head += [UInt8](repeating: 0, count: padded(head.count) - head.count)

        let temporary = path + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
            let handle = FileHandle(forWritingAtPath: temporary)
        else {
            throw ModelFileError(path, .unreadable, "cannot create the output file")
        }
        var finished = false
        defer {
            try? handle.close()
            if !finished { unlink(temporary) }
        }
        try handle.write(contentsOf: head)
        for (r, at) in zip(records, offsets) {
            let values = r.values()
            var data = [UInt8](repeating: 0, count: r.type.byteCount(elements: values.count))
            data.withUnsafeMutableBytes { r.type.encode(values, into: $0.baseAddress!) }
            let next = offsets.first(where: { $0 > at }) ?? padded(at + data.count)
            data += [UInt8](repeating: 0, count: next - at - data.count)
            try handle.write(contentsOf: data)
        }
        try handle.synchronize()
        guard rename(temporary, path) == 0 else {
            throw ModelFileError(path, .unreadable, "cannot move the finished file into place")
        }
        finished = true
    }

    static let alignment = 32
    static func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    static let ggmlCode: [WeightType: UInt32] = [
        .f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q5_0: 6, .q5_1: 7, .q8_0: 8, .bf16: 30,
    ]

    /// llama.cpp's `general.file_type` ("mostly …") code for a requested type.
    static func fileType(_ t: WeightType) -> Int {
        [.f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9, .bf16: 32][t]!
    }

    /// The model's tensors under GGUF names and layouts, in file order.
    static func records(_ model: Model, arch: String, type: WeightType, rescaleEvery: Int) throws -> [Record] {
        let table = model.tensors
        let rules = GGUFLayout.rules[arch]!
        let globalNames = Dictionary(uniqueKeysWithValues: GGUFLayout.globalNames.map { ($1, $0) })
        let blockNames = Dictionary(uniqueKeysWithValues: GGUFLayout.blockNames.map { ($1, $0) })
        let vectors = Dictionary(uniqueKeysWithValues: rules.vectors.map { ($1, $0) })
        let transposed = Dictionary(uniqueKeysWithValues: rules.transposed.map { ($1, $0) })
        let perHead = Dictionary(uniqueKeysWithValues: rules.perHead.map { ($1, $0) })
        let big = [
            "att.key.weight", "att.value.weight", "att.receptance.weight", "att.gate.weight", "att.output.weight",
            "ffn.key.weight", "ffn.value.weight", "ffn.receptance.weight",
        ]

        func storage(_ canonical: String, _ shape: [Int]) -> WeightType {
            let isBig =
                canonical == "emb.weight" || canonical == "head.weight" || big.contains { canonical.hasSuffix($0) }
            guard isBig, shape.count == 2, shape[1] % max(type.blockSize, 1) == 0 else { return .f32 }
            return type
        }
        var out: [Record] = []
        for t in table.tensors {
            if let name = globalNames[t.name] {
                out.append(Record(name: name, shape: t.shape, type: storage(t.name, t.shape), values: t.floats))
                continue
            }
            guard let (n, rest) = GGUFLayout.blockParts(t.name, prefix: "blocks.") else {
                throw InferenceError("tensor '\(t.name)' has no GGUF counterpart")
            }
            let stem = "blk.\(n)."
            // Layer 0's v0/v1/v2 are unused dummies where a checkpoint has them, and their
            // rank (the value LoRA's) is not the one llama.cpp checks them against (the a
            // LoRA's); like its converter, write copies of a0/a1/a2 there instead (below).
            if arch == "rwkv7", n == 0, ["att.v0", "att.v1", "att.v2"].contains(rest) { continue }
            if let name = blockNames[rest] {
                // Output and value weights divided by 2^(n / rescaleEvery), as llama.cpp's converter does.
                let scale: Float =
                    rescaleEvery > 0 && (rest == "att.output.weight" || rest == "ffn.value.weight")
                    ? 1 / Float(1 << (n / rescaleEvery)) : 1
                out.append(
                    Record(
                        name: stem + name, shape: t.shape, type: storage(rest, t.shape),
                        values: { scale == 1 ? t.floats() : t.floats().map { $0 * scale } }))
            } else if let name = vectors[rest] {
                out.append(Record(name: stem + name, shape: [t.count], type: .f32, values: t.floats))
            } else if let name = transposed[rest] {
                guard t.shape.count == 2 else { throw InferenceError("'\(t.name)' is not a matrix") }
                let (rows, cols) = (t.shape[0], t.shape[1])
                out.append(
                    Record(
                        name: stem + name, shape: [cols, rows], type: .f32,
                        values: { RWKVCppWriter.transpose(t.floats(), rows, cols) }))
                // llama.cpp expects v0/v1/v2 on every layer, shaped like a0/a1/a2 on layer 0,
                // which has no use for them: copies of a0/a1/a2, as its converter writes.
                if arch == "rwkv7", n == 0, ["att.a1", "att.a2"].contains(rest) {
                    out.append(
                        Record(
                            name: stem + name.replacingOccurrences(of: "_a", with: "_v"), shape: [cols, rows],
                            type: .f32, values: { RWKVCppWriter.transpose(t.floats(), rows, cols) }))
                }
            } else if let name = perHead[rest] {
                let shape = arch == "rwkv7" ? [t.count] : t.shape
                out.append(Record(name: stem + name, shape: shape, type: .f32, values: t.floats))
            } else if rest == rules.fusedParts[0] {
                let parts = try rules.fusedParts.map { try table.require("blocks.\(n)." + $0) }
                out.append(
                    Record(
                        name: stem + "time_mix_lerp_fused.weight", shape: [parts.count, 1, 1, t.count], type: .f32,
                        values: { parts.flatMap { $0.floats() } }))
            } else if rules.fusedParts.contains(rest) {
                continue
            } else if arch == "rwkv6", rest == GGUFLayout.v6MixW2.1, t.shape.count == 3 {
                let swapped = table.swappedLastAxesFloat32(t)
                out.append(
                    Record(name: stem + GGUFLayout.v6MixW2.0, shape: swapped.shape, type: .f32, values: swapped.floats))
            } else {
                throw InferenceError("tensor '\(t.name)' has no GGUF counterpart")
            }
            if arch == "rwkv7", n == 0, rest == "att.a0" {
                out.append(Record(name: stem + "time_mix_v0.weight", shape: [t.count], type: .f32, values: t.floats))
            }
        }
        return out
    }

    static func appendString(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.appendLE(UInt64(bytes.count))
        out += bytes
    }

    /// Appends a metadata value: integers as u32 (i32 inside arrays, as token types are), floats as f32.
    static func append(_ value: GGUFValue, to out: inout [UInt8], inArray: Bool = false) {
        switch value {
        case .int(let v):
            if !inArray { out.appendLE(UInt32(inArray ? 5 : 4)) }
            out.appendLE(inArray ? UInt32(bitPattern: Int32(truncatingIfNeeded: v)) : UInt32(truncatingIfNeeded: v))
        case .float(let f):
            if !inArray { out.appendLE(UInt32(6)) }
            out.appendLE(Float(f).bitPattern)
        case .bool(let b):
            if !inArray { out.appendLE(UInt32(7)) }
            out.append(b ? 1 : 0)
        case .string(let s):
            if !inArray { out.appendLE(UInt32(8)) }
            appendString(s, to: &out)
        case .array(let items):
            out.appendLE(UInt32(9))
            let elementType: UInt32
            switch items.first {
            case .int?: elementType = 5
            case .float?: elementType = 6
            case .bool?: elementType = 7
            default: elementType = 8
            }
            out.appendLE(elementType)
            out.appendLE(UInt64(items.count))
            for item in items { append(item, to: &out, inArray: true) }
        }
    }
}
