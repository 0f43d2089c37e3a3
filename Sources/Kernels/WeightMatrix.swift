import CKernels
import Dispatch

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

/// A read-only matrix `[rows][cols]` used as `y = W·x`, each row one output.
///
/// Stored row-major, or — for wide matrices, see `prefersPanels` — as column
/// panels: panel p holds columns `[p·panelColumns, (p + 1)·panelColumns)` of every row
/// as a row-major `[rows][width]` matrix, the panels one after another (the last may
/// be narrower). The memory is borrowed: usually a memory-mapped model file,
/// sometimes a buffer the model owns. Whoever creates it keeps that memory alive.
public struct WeightMatrix: @unchecked Sendable {
    /// Element storage type.
    public let type: WeightType
    /// First byte of row 0 (of panel 0 when in panels). Any alignment is fine.
    public let base: UnsafeRawPointer
    /// Number of outputs.
    public let rows: Int
    /// Number of inputs.
    public let cols: Int
    /// Columns per panel, or 0 when the matrix is row-major.
    public let panelColumns: Int

    /// Columns per panel of the matrices `panelled(_:rows:cols:from:into:)` lays out.
    ///
    /// The row kernel re-reads the input vector for every row; 2048 float32 inputs
    /// (8 KiB) stay in L1 beside the weight stream, while 4096 and more were evicted by
    /// it (an FP16 2048 × 8192 product read 12.4 GB/s row-major and 32.5 GB/s in
    /// panels of 2048 on the development machine; see docs/DECISIONS.md).
    public static let panelWidth = 2048

    /// Wraps memory holding `rows × cols` elements of `type`, row-major (`panelColumns`
    /// 0) or in panels of `panelColumns` columns.
    public init(type: WeightType, base: UnsafeRawPointer, rows: Int, cols: Int, panelColumns: Int = 0) {
        precondition(panelColumns >= 0 && panelColumns % type.blockSize == 0, "panels hold whole blocks")
        self.type = type
        self.base = base
        self.rows = rows
        self.cols = cols
        self.panelColumns = panelColumns >= cols ? 0 : panelColumns
    }

    /// True when a matrix of this shape runs faster stored as panels: rows of 4096 or
    /// more columns, in matrices wider than they are tall (the FFN value matrices),
    /// where the copy made at load is a modest share of the model. The same holds for
    /// every type: the kernels' per-row inputs (float32, or the quantized types' 16-bit
    /// and 24-bit roundings) outgrow L1 at these widths. Square 4096-wide matrices lose
    /// about 10% row-major but would mean copying the whole of a mapped 7B model at
    /// load, so they stay as they are.
    public static func prefersPanels(type: WeightType, rows: Int, cols: Int) -> Bool {
        cols >= 2 * panelWidth && cols > rows && cols % type.blockSize == 0
    }

    /// Writes row-major `[rows][cols]` elements of `type` at `src` (any alignment) into
    /// `dst` (the same number of bytes) as panels of `panelWidth` columns, and returns
    /// the matrix over `dst`.
    public static func panelled(
        _ type: WeightType, rows: Int, cols: Int, from src: UnsafeRawPointer, into dst: UnsafeMutableRawPointer
    ) -> WeightMatrix {
        precondition(cols % type.blockSize == 0, "rows of whole blocks")
        let rowBytes = type.byteCount(elements: cols)
        let fullPanelRowBytes = type.byteCount(elements: panelWidth)
        let panels = (cols + panelWidth - 1) / panelWidth
        // Loading a 1.5B FP16 model copies about 800 MB this way, and the fresh pages
        // are zeroed by the system as they are first written: the copy is split by
        // panel across the cores, which halved its share of the load time on two.
        DispatchQueue.concurrentPerform(iterations: panels) { p in
            let start = p * panelWidth
            let pieceBytes = type.byteCount(elements: min(panelWidth, cols - start))
            var out = dst + p * rows * fullPanelRowBytes
            let from = type.byteCount(elements: start)
            for r in 0..<rows {
                out.copyMemory(from: src + r * rowBytes + from, byteCount: pieceBytes)
                out += pieceBytes
            }
        }
        return WeightMatrix(type: type, base: UnsafeRawPointer(dst), rows: rows, cols: cols, panelColumns: panelWidth)
    }

    /// Byte offset from `base` of element (`row`, `column`), `column` a multiple of the
    /// block size: the one statement of both layouts. In panels, the elements from
    /// `column` to the end of its panel follow it contiguously.
    public func byteOffset(row: Int, column: Int) -> Int {
        guard panelColumns > 0 else { return type.byteCount(elements: row * cols + column) }
        let start = column / panelColumns * panelColumns
        let width = min(panelColumns, cols - start)
        return type.byteCount(elements: start * rows + row * width + column - start)
    }

    /// Copies row `r` into `out[0..<cols]` as float32.
    public func copyRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        let run = panelColumns > 0 ? panelColumns : cols
        for start in stride(from: 0, to: cols, by: run) {
            let width = min(run, cols - start)
            Convert.toFloat32(type, base + byteOffset(row: r, column: start), out + start, count: width)
        }
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
