import Foundation
import Kernels

/// One metadata value of a GGUF file.
public enum GGUFValue: Equatable, Sendable {
    /// Any of the integer types (u8 … i64), widened.
    case int(Int64)
    /// f32 or f64, widened.
    case float(Double)
    /// A boolean.
    case bool(Bool)
    /// A string's raw bytes (GGUF strings are UTF-8 but the tokenizer's are escaped byte strings).
    case string([UInt8])
    /// An array of values of one type.
    case array([GGUFValue])

    /// The integer, if this is one.
    var int: Int? { if case .int(let v) = self, let i = Int(exactly: v) { return i } else { return nil } }
    /// The text, if this is a string.
    var text: String? {
        if case .string(let b) = self { return String(decoding: b, as: UTF8.self) } else { return nil }
    }
}

/// Reads a GGUF file (versions 2 and 3) as llama.cpp writes it for `rwkv6` and `rwkv7`.
///
/// Layout (little-endian): magic "GGUF", u32 version, u64 tensor count, u64
/// metadata count; the metadata as (string key, u32 type, value); the tensor infos
/// as (string name, u32 rank, u64 dims innermost first, u32 ggml type, u64 offset);
/// padding to `general.alignment` (default 32); the tensor data, each at its offset
/// from the start of the data section. Strings are a u64 length and bytes.
/// `GGUFLayout` maps llama.cpp's tensor names and layouts to the canonical ones.
enum GGUFFile {
    /// The largest count (tensors, metadata entries, array elements) accepted before
    /// reading, so a corrupt count fails cleanly instead of allocating without bound.
    static let maxCount = 1 << 24

    /// GGML type codes and what rwkv-chat does with them.
    static func weightType(_ code: UInt32, tensor: String, path: String) throws -> WeightType {
        func refuse(_ why: String) -> ModelFileError { ModelFileError(path, .unsupported, "tensor '\(tensor)' \(why)") }
        switch code {
        case 0: return .f32
        case 1: return .f16
        case 2: return .q4_0
        case 3: return .q4_1
        case 6: return .q5_0
        case 7: return .q5_1
        case 8: return .q8_0
        case 30: return .bf16
        default:
            let names: [UInt32: String] = [
                10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS",
                18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16",
                26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0",
            ]
            if let name = names[code] {
                throw refuse(
                    "uses the GGML type \(name), which rwkv-chat does not read yet (supported: F32, F16, BF16, Q8_0, Q5_1, Q5_0, Q4_1, Q4_0); re-quantize with one of those"
                )
            }
            throw ModelFileError(path, .corrupt, "tensor '\(tensor)' has unknown GGML type \(code)")
        }
    }

    /// A bounds-checked cursor over the mapped file.
    struct Cursor {
        let file: MappedFile
        var offset: Int

        mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
            let v = try file.read(T.self, at: offset, what: what())
            offset += MemoryLayout<T>.size
            return v
        }

        mutating func count(_ what: @autoclosure () -> String) throws -> Int {
            let v = try read(UInt64.self, what())
            guard v <= UInt64(GGUFFile.maxCount) else {
                throw ModelFileError(file.path, .corrupt, "\(what()) has an impossible count \(v)")
            }
            return Int(v)
        }

        mutating func string(_ what: @autoclosure () -> String) throws -> [UInt8] {
            let n = try read(UInt64.self, what())
            guard n <= UInt64(file.size - min(offset, file.size)) else {
                throw ModelFileError(file.path, .truncated, "file ends inside \(what()) (a \(n)-byte string)")
            }
            let bytes = try file.array(at: offset, count: Int(n), what: what())
            offset += Int(n)
            return bytes
        }

        mutating func value(type: UInt32, _ what: String, depth: Int = 0) throws -> GGUFValue {
            switch type {
            case 0: return .int(Int64(try read(UInt8.self, what)))
            case 1: return .int(Int64(try read(Int8.self, what)))
            case 2: return .int(Int64(try read(UInt16.self, what)))
            case 3: return .int(Int64(try read(Int16.self, what)))
            case 4: return .int(Int64(try read(UInt32.self, what)))
            case 5: return .int(Int64(try read(Int32.self, what)))
            case 6: return .float(Double(Float(bitPattern: try read(UInt32.self, what))))
            case 7: return .bool(try read(UInt8.self, what) != 0)
            case 8: return .string(try string(what))
            case 9:
                guard depth == 0 else { throw ModelFileError(file.path, .corrupt, "\(what) nests arrays") }
                let elementType = try read(UInt32.self, what)
                let n = try count(what)
                var items: [GGUFValue] = []
                items.reserveCapacity(n)
                for _ in 0..<n { items.append(try value(type: elementType, what, depth: 1)) }
                return .array(items)
            case 10: return .int(Int64(bitPattern: try read(UInt64.self, what)))
            case 11: return .int(try read(Int64.self, what))
            case 12: return .float(Double(bitPattern: try read(UInt64.self, what)))
            default: throw ModelFileError(file.path, .corrupt, "\(what) has unknown value type \(type)")
            }
        }
    }

    /// Reads the file into a table under canonical names.
    static func read(_ file: MappedFile) throws -> TensorTable {
        let path = file.path
        var cur = Cursor(file: file, offset: 4)
        let version = try cur.read(UInt32.self, "the GGUF header")
        guard version == 2 || version == 3 else {
            let hint = version > 0xFFFF ? " (a big-endian GGUF file?)" : ""
            throw ModelFileError(
                path, .unsupported, "GGUF version \(version) is not supported (2 or 3 expected)\(hint)")
        }
        let tensorCount = try cur.count("the GGUF header's tensor count")
        let metadataCount = try cur.count("the GGUF header's metadata count")
        var meta: [String: GGUFValue] = [:]
        for i in 0..<metadataCount {
            let key = String(decoding: try cur.string("metadata entry \(i)'s key"), as: UTF8.self)
            let type = try cur.read(UInt32.self, "metadata '\(key)'")
            meta[key] = try cur.value(type: type, "metadata '\(key)'")
        }
        guard let arch = meta["general.architecture"]?.text else {
            throw ModelFileError(path, .corrupt, "GGUF file has no general.architecture")
        }
        guard arch == "rwkv6" || arch == "rwkv7" else {
            throw ModelFileError(
                path, .unsupported,
                "GGUF architecture '\(arch)' is not an RWKV model this build reads (rwkv6 or rwkv7)")
        }
        let alignment = meta["general.alignment"]?.int ?? 32
        guard alignment > 0, alignment <= 1 << 16, alignment & (alignment - 1) == 0 else {
            throw ModelFileError(path, .corrupt, "general.alignment \(alignment) is not a power of two")
        }
        struct Info {
            let name: String
            let shape: [Int]
            let type: WeightType
            let offset: Int
        }
        var infos: [Info] = []
        for i in 0..<tensorCount {
            let name = String(decoding: try cur.string("tensor info \(i)'s name"), as: UTF8.self)
            let rank = try cur.read(UInt32.self, "tensor '\(name)'")
            guard (1...4).contains(rank) else {
                throw ModelFileError(path, .corrupt, "tensor '\(name)' has \(rank) dimensions")
            }
            var dims: [Int] = []
            for _ in 0..<rank {
                let d = try cur.read(UInt64.self, "tensor '\(name)'")
                guard d > 0, d <= UInt64(file.size) else {
                    throw ModelFileError(path, .corrupt, "tensor '\(name)' has dimension \(d)")
                }
                dims.append(Int(d))
            }
            let type = try weightType(try cur.read(UInt32.self, "tensor '\(name)'"), tensor: name, path: path)
            let offset = try cur.read(UInt64.self, "tensor '\(name)'")
            guard offset <= UInt64(file.size), Int(offset) % alignment == 0 else {
                throw ModelFileError(
                    path, .corrupt, "tensor '\(name)' has data offset \(offset), outside the file or not aligned")
            }
            guard !type.isQuantized || dims[0] % type.blockSize == 0 else {
                throw ModelFileError(
                    path, .corrupt,
                    "quantized tensor '\(name)' has a row length \(dims[0]) that is not a multiple of \(type.blockSize)"
                )
            }
            infos.append(Info(name: name, shape: Array(dims.reversed()), type: type, offset: Int(offset)))
        }
        let dataStart = (cur.offset + alignment - 1) / alignment * alignment
        let table = TensorTable(path: path, format: .gguf, owner: file)
        for info in infos {
            guard let count = info.shape.checkedProduct, count <= file.size * 2 else {
                throw ModelFileError(
                    path, .corrupt, "tensor '\(info.name)' has shape \(info.shape), larger than the file")
            }
            let data = try file.bytes(
                at: dataStart + info.offset, count: info.type.byteCount(elements: count),
                what: "the data of tensor '\(info.name)'")
            try table.add(Tensor(name: info.name, shape: info.shape, type: info.type, data: data))
        }
        let headSize = meta["\(arch).wkv.head_size"]?.int ?? 64
        try GGUFLayout.canonicalize(table, architecture: arch, headSize: headSize)
        table.residualRescaleEvery = meta["\(arch).rescale_every_n_layers"]?.int ?? 0
        table.metadata = meta.compactMapValues { v -> String? in
            switch v {
            case .int(let i): return String(i)
            case .float(let f): return String(f)
            case .bool(let b): return String(b)
            case .string: return v.text.map { $0.count > 200 ? String($0.prefix(200)) + "…" : $0 }
            case .array(let a): return "[\(a.count) items]"
            }
        }
        table.embeddedTokenizer = try GGUFVocabulary.tokenizer(meta, path: path)
        return table
    }
}
