import CKernels

/// How the elements of a weight matrix are stored in memory.
public enum WeightType: Int, Sendable, CustomStringConvertible {
    /// IEEE float32.
    case f32 = 0
    /// IEEE half precision.
    case f16 = 1
    /// bfloat16 (the upper half of a float32).
    case bf16 = 2

    /// Bytes per element.
    public var byteWidth: Int { self == .f32 ? 4 : 2 }

    /// The lower-case name used on the command line and in `info`.
    public var description: String {
        switch self {
        case .f32: return "fp32"
        case .f16: return "fp16"
        case .bf16: return "bf16"
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
        let start = base + r * cols * type.byteWidth
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
