import CKernels

/// How the elements of a weight matrix are stored in memory.
public enum WeightType: Int, Sendable, CustomStringConvertible {
    /// IEEE float32.
    case f32 = 0
    /// IEEE half precision.
    case f16 = 1
    /// bfloat16 (the upper half of a float32).
    case bf16 = 2
    /// ggml Q4_0: blocks of 32, 4-bit values and an fp16 scale.
    case q4_0 = 3
    /// ggml Q4_1: blocks of 32, 4-bit values, fp16 scale and minimum.
    case q4_1 = 4
    /// ggml Q5_0: blocks of 32, 5-bit values and an fp16 scale.
    case q5_0 = 5
    /// ggml Q5_1: blocks of 32, 5-bit values, fp16 scale and minimum.
    case q5_1 = 6
    /// ggml Q8_0: blocks of 32, 8-bit values and an fp16 scale.
    case q8_0 = 7

    /// True for the block-quantized types.
    public var isQuantized: Bool { rawValue >= WeightType.q4_0.rawValue }

    /// Elements per block (32 when quantized, else 1).
    public var blockSize: Int { Int(ck_block_size(Int32(rawValue))) }

    /// Bytes per block.
    public var blockBytes: Int { Int(ck_block_bytes(Int32(rawValue))) }

    /// Bytes per element of an unquantized type (for slicing rows and vectors).
    public var byteWidth: Int { self == .f32 ? 4 : 2 }

    /// Bytes that `elements` values take (a multiple of the block size when quantized).
    public func byteCount(elements: Int) -> Int { elements / blockSize * blockBytes }

    /// Storage bits per weight.
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockSize) }

    /// The lower-case name used on the command line and in `info`.
    public var description: String {
        switch self {
        case .f32: return "fp32"
        case .f16: return "fp16"
        case .bf16: return "bf16"
        case .q4_0: return "q4_0"
        case .q4_1: return "q4_1"
        case .q5_0: return "q5_0"
        case .q5_1: return "q5_1"
        case .q8_0: return "q8_0"
        }
    }
}

/// A read-only row-major matrix `[rows][cols]` used as `y = W·x`, each row one output.
///
/// The memory is borrowed: usually a memory-mapped model file, sometimes a buffer
/// the model owns. Whoever creates it keeps that memory alive.
public struct WeightMatrix: @unchecked Sendable {
    /// Element storage type.
    public let type: WeightType
    /// First byte of row 0. Any alignment is fine.
    public let base: UnsafeRawPointer
    /// Number of outputs.
    public let rows: Int
    /// Number of inputs.
    public let cols: Int

    /// Wraps memory holding `rows × cols` elements of `type`.
    public init(type: WeightType, base: UnsafeRawPointer, rows: Int, cols: Int) {
        self.type = type
        self.base = base
        self.rows = rows
        self.cols = cols
    }

    /// Copies row `r` into `out[0..<cols]` as float32.
    public func copyRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        let start = base + r * type.byteCount(elements: cols)
        Convert.toFloat32(type, start, out, count: cols)
    }
}

/// Conversion of stored element types to float32.
public enum Convert {
    /// Converts `count` elements of `type` at `src` (any alignment) to float32 at `dst`.
    public static func toFloat32(
        _ type: WeightType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int
    ) {
        switch type {
        case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case .f16: ck_f16_to_f32(src, dst, count)
        case .bf16: ck_bf16_to_f32(src, dst, count)
        default: ck_dequantize(Int32(type.rawValue), src, dst, count)
        }
    }

    /// Returns `count` elements of `type` at `src` as a new float32 array.
    public static func toFloat32Array(_ type: WeightType, _ src: UnsafeRawPointer, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buf, n in
            if count > 0 { toFloat32(type, src, buf.baseAddress!, count: count) }
            n = count
        }
    }
}
