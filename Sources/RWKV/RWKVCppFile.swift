import Foundation
import Kernels

/// Reads an rwkv.cpp `.bin` model (ggmf, file versions 100 and 101).
///
/// Header: six little-endian int32 (magic "ggmf", version, n_vocab, n_embed,
/// n_layer, data type), then records until the end of the file: `dim_count`,
/// `key_length`, `data_type`, the dimensions innermost first, the key, the data.
/// rwkv.cpp's converter rearranges some tensors; `canonicalize` undoes that so
/// the version code sees BlinkDL names and shapes (see docs/ARCHITECTURE.md).
enum RWKVCppFile {
    static func read(_ file: MappedFile) throws -> TensorTable {
        let path = file.path
        let version = try file.read(Int32.self, at: 4, what: "the rwkv.cpp header")
        guard version == 100 || version == 101 else {
            throw ModelFileError(
                path, .unsupported, "rwkv.cpp file version \(version) is not supported (100 or 101 expected)")
        }
        _ = try file.bytes(at: 0, count: 24, what: "the rwkv.cpp header")
        let table = TensorTable(path: path, format: .rwkvcpp, owner: file)
        var pos = 24
        while pos < file.size {
            let what = "tensor record at byte \(pos)"
            let dimCount = Int(try file.read(Int32.self, at: pos, what: what))
            let keyLength = Int(try file.read(Int32.self, at: pos + 4, what: what))
            let dataType = try file.read(Int32.self, at: pos + 8, what: what)
            guard (1...4).contains(dimCount), (1...1024).contains(keyLength) else {
                throw ModelFileError(
                    path, .corrupt,
                    "tensor record at byte \(pos) has \(dimCount) dimensions and a \(keyLength)-byte name")
            }
            var dims: [Int] = []
            for d in 0..<dimCount {
                let v = Int(try file.read(Int32.self, at: pos + 12 + 4 * d, what: what))
                guard v > 0, v <= 1 << 28 else {
                    throw ModelFileError(path, .corrupt, "tensor record at byte \(pos) has dimension \(v)")
                }
                dims.append(v)
            }
            let keyAt = pos + 12 + 4 * dimCount
            let key = String(decoding: try file.array(at: keyAt, count: keyLength, what: what), as: UTF8.self)
            let type: WeightType
            switch dataType {
            case 0: type = .f32
            case 1: type = .f16
            case 2, 3, 7, 8, 9:
                // Version 100 files use the older block layouts, which this build does not read.
                guard version == 101 else {
                    throw ModelFileError(
                        path, .unsupported,
                        "tensor '\(key)' uses a quantization layout of rwkv.cpp file version 100; re-quantize it with a current rwkv.cpp (version 101)"
                    )
                }
                type = [2: .q4_0, 3: .q4_1, 7: .q5_0, 8: .q5_1, 9: .q8_0][dataType]!
            default:
                throw ModelFileError(path, .corrupt, "tensor '\(key)' has unknown data type \(dataType)")
            }
            let shape = Array(dims.reversed())
            guard let count = shape.checkedProduct, count <= file.size else {
                throw ModelFileError(path, .corrupt, "tensor '\(key)' has shape \(shape), larger than the file")
            }
            guard !type.isQuantized || dims[0] % 32 == 0 else {
                throw ModelFileError(
                    path, .corrupt, "quantized tensor '\(key)' has a row length \(dims[0]) that is not a multiple of 32"
                )
            }
            let bytes = type.byteCount(elements: count)
            let dataAt = keyAt + keyLength
            let data = try file.bytes(at: dataAt, count: bytes, what: "the data of tensor '\(key)'")
            try table.add(Tensor(name: key, shape: shape, type: type, data: data))
            pos = dataAt + bytes
        }
        try canonicalize(table)
        return table
    }

    /// Undoes rwkv.cpp's converter: RWKV-7's `x_rwkvag` (6,1,C) is split into `x_r … x_g`
    /// and its LoRA factors are transposed back; v4 and v5 decays (stored already
    /// exponentiated) are turned back into the checkpoint's parameters.
    static func canonicalize(_ table: TensorTable) throws {
        let version = ArchitectureVersion.detect(table)
        // v4 stores time_decay as −exp(w); v5 stores it as exp(−exp(w)) and time_first as exp(u).
        let inverse: [String: (Float) -> Float]
        switch version {
        case .v4: inverse = [".att.time_decay": { logf(-$0) }]
        case .v5_0, .v5_1, .v5_2: inverse = [".att.time_decay": { logf(-logf($0)) }, ".att.time_first": { logf($0) }]
        case .v6:
            try canonicalizeV6(table)
            inverse = [:]
        default: inverse = [:]
        }
        for t in table.tensors {
            guard let f = inverse.first(where: { t.name.hasSuffix($0.key) })?.value else { continue }
            let values = t.floats().map(f)
            let raw = table.allocate(byteCount: values.count * 4)
            values.withUnsafeBytes { raw.copyMemory(from: $0.baseAddress!, byteCount: values.count * 4) }
            table.set(Tensor(name: t.name, shape: t.shape, type: .f32, data: UnsafeRawPointer(raw)))
        }
        let loraNames = ["w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"]
        for t in table.tensors {
            if t.name.hasSuffix(".att.x_rwkvag") {
                let stem = String(t.name.dropLast("x_rwkvag".count))
                guard t.shape.count == 3, t.shape[0] == 6, t.shape[1] == 1 else {
                    throw ModelFileError(
                        table.path, .badShape, "tensor '\(t.name)' has shape \(t.shape), expected (6, 1, C)")
                }
                let c = t.shape[2]
                // Kept at x_rwkvag's place, so the file order (and a re-written file) is unchanged.
                let parts = ["x_r", "x_w", "x_k", "x_v", "x_a", "x_g"].enumerated().map { i, part in
                    Tensor(name: stem + part, shape: [1, 1, c], type: t.type, data: t.data + i * c * t.type.byteWidth)
                }
                table.replace(t.name, with: parts)
            } else if t.name.contains(".att."), let last = t.name.split(separator: ".").last,
                loraNames.contains(String(last)), t.shape.count == 2
            {
                table.set(table.transposedFloat32(t))
            }
        }
    }
}

extension RWKVCppFile {
    /// Undoes rwkv.cpp's RWKV-6 rearrangements: `time_maa_w1`, `time_decay_w1` and
    /// `time_decay_w2` are stored transposed, and `time_maa_w2` with its last two axes swapped.
    static func canonicalizeV6(_ table: TensorTable) throws {
        for t in table.tensors {
            if t.name.hasSuffix(".att.time_maa_w1") || t.name.hasSuffix(".att.time_decay_w1")
                || t.name.hasSuffix(".att.time_decay_w2")
            {
                guard t.shape.count == 2 else {
                    throw ModelFileError(table.path, .badShape, "'\(t.name)' is not a matrix")
                }
                table.set(table.transposedFloat32(t))
            } else if t.name.hasSuffix(".att.time_maa_w2") {
                // Stored as [5, C, D]; the checkpoint has [5, D, C].
                guard t.shape.count == 3 else { throw ModelFileError(table.path, .badShape, "'\(t.name)' is not 3-D") }
                table.set(table.swappedLastAxesFloat32(t))
            }
        }
    }
}
