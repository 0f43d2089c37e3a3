import Kernels

/// One named tensor of a model file, viewed in place.
///
/// `shape` is PyTorch's (outermost first), whatever order the file stored the
/// dimensions in. The data is contiguous row-major, except for the wide matrices the
/// binder lays out in column panels for the kernels (`panelColumns`) and the float32
/// matrices a file stores transposed (`storedTransposed`); `floats()` and
/// `withRowMajorBytes` read both back in row-major order. The memory
/// belongs to the `TensorTable` (a mapped file or a buffer it owns).
public struct Tensor: @unchecked Sendable {
    /// Canonical name, as in BlinkDL checkpoints (`blocks.3.att.key.weight`).
    public let name: String
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// Element type.
    public let type: WeightType
    /// First byte of the data, any alignment.
    public let data: UnsafeRawPointer
    /// What keeps `data` alive (the mapped file or a buffer), so a tensor stays valid
    /// after the table it came from is gone.
    var owner: AnyObject?
    /// Columns per panel when the data is laid out in column panels
    /// (`WeightMatrix.panelled`), or 0 when it is row-major.
    public internal(set) var panelColumns = 0
    /// True when `data` holds the row-major `[shape[1], shape[0]]` transpose of this 2-D
    /// float32 tensor: GGUF stores the RWKV-7 LoRA factors as `(out, in)`, the layout
    /// the row kernel runs, so the binder uses them in place instead of transposing
    /// them to the checkpoint's `(in, out)` and back.
    public internal(set) var storedTransposed = false

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Creates a view.
    public init(name: String, shape: [Int], type: WeightType, data: UnsafeRawPointer) {
        self.name = name
        self.shape = shape
        self.type = type
        self.data = data
    }

    /// The shape with every size-1 dimension removed (PyTorch's `squeeze`).
    public var squeezedShape: [Int] { shape.filter { $0 != 1 } }

    /// All elements as float32 (a copy), in row-major order.
    public func floats() -> [Float] {
        if storedTransposed {
            let rows = shape[0], cols = shape[1]
            return [Float](unsafeUninitializedCapacity: count) { buf, n in
                // The stored matrix is [cols, rows]; its transpose is this tensor.
                Transpose.copy(data, rows: cols, cols: rows, into: buf.baseAddress!)
                n = count
            }
        }
        guard panelColumns > 0, let cols = shape.last, cols > 0 else {
            return Convert.toFloat32Array(type, data, count: count)
        }
        let rows = count / cols
        let m = WeightMatrix(type: type, base: data, rows: rows, cols: cols, panelColumns: panelColumns)
        return [Float](unsafeUninitializedCapacity: count) { buf, n in
            for r in 0..<rows { m.copyRow(r, into: buf.baseAddress! + r * cols) }
            n = count
        }
    }

    /// Calls `body` with the elements as row-major float32 bytes: the tensor's own
    /// bytes when it is float32 and not in panels (no copy; possibly unaligned), else a
    /// converted copy (`floats()`).
    func withFloat32Bytes<R>(_ body: (UnsafeRawPointer) -> R) -> R {
        if type == .f32 && panelColumns == 0 && !storedTransposed { return body(data) }
        return floats().withUnsafeBytes { body($0.baseAddress!) }
    }

    /// Calls `body` with `count` bytes of the row-major data from byte `offset`
    /// (gathered from the panels when the data is laid out in panels).
    func withRowMajorBytes<R>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        // Byte by byte, in units of one element (float types) or one block (ggml types):
        // unit c of row r sits at `address(r, c)`.
        let unitBytes: Int, units: Int, address: (Int, Int) -> Int
        if storedTransposed {
            // Element (r, c) of this [rows, cols] float32 tensor is stored at c · rows + r.
            let rows = shape[0]
            (unitBytes, units, address) = (4, shape[1], { r, c in (c * rows + r) * 4 })
        } else if panelColumns > 0, let cols = shape.last, cols > 0 {
            let m = WeightMatrix(
                type: type, base: data, rows: self.count / cols, cols: cols, panelColumns: panelColumns)
            let blockSize = type.blockSize
            (unitBytes, units, address) = (
                type.blockBytes, cols / blockSize, { r, c in m.byteOffset(row: r, column: c * blockSize) }
            )
        } else {
            return body(UnsafeRawBufferPointer(start: data + offset, count: count))
        }
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let (u, within) = (offset + i).quotientAndRemainder(dividingBy: unitBytes)
            let (r, c) = u.quotientAndRemainder(dividingBy: units)
            bytes[i] = data.load(fromByteOffset: address(r, c) + within, as: UInt8.self)
        }
        return bytes.withUnsafeBytes(body)
    }
}

/// The tensors of one model file under canonical names, plus what keeps their memory alive.
///
/// Every file format produces one of these; the version code binds names from it
/// once at load and never looks at the file format again.
public final class TensorTable: @unchecked Sendable {
    /// The file the tensors came from, for error messages.
    public let path: String
    /// The file's format, for `info`.
    public let format: ModelFormat
    /// Tensors in file order.
    public private(set) var tensors: [Tensor] = []
    private var index: [String: Int] = [:]
    // Owners of the memory the tensors point into: the mapped file, and buffers
    // made when a format's layout had to be rearranged at load. Each tensor also
    // holds its own owner, so none can outlive its memory.
    private let fileOwner: AnyObject
    /// Every `n` blocks the residual stream is halved (llama.cpp's RWKV-6 GGUF
    /// `rescale_every_n_layers`, which comes with correspondingly scaled weights); 0 for none.
    public internal(set) var residualRescaleEvery = 0
    /// The file's own metadata as text (GGUF key/values), for `info`.
    public internal(set) var metadata: [String: String] = [:]
    /// The tokenizer stored inside the model file (GGUF), if any.
    public internal(set) var embeddedTokenizer: Tokenizer?
    private var buffers: [UnsafeMutableRawPointer: OwnedBuffer] = [:]
    // The chunk that small allocations are carved from, and how much of it is used.
    private var arena: (chunk: OwnedBuffer, used: Int)?
    /// Size of the chunks that converted and synthetic tensors are carved from.
    static let arenaChunkBytes = 64 << 20

    /// An empty table for `path`, whose tensor memory `owner` keeps alive.
    public init(path: String, format: ModelFormat, owner: AnyObject) {
        self.path = path
        self.format = format
        fileOwner = owner
    }

    /// `t` holding a reference to whatever owns its memory.
    private func owned(_ t: Tensor) -> Tensor {
        var c = t
        if c.owner == nil { c.owner = buffers[UnsafeMutableRawPointer(mutating: t.data)] ?? fileOwner }
        return c
    }

    /// Adds a tensor; a second tensor with the same name is a `corrupt` file.
    public func add(_ t: Tensor) throws {
        if index[t.name] != nil {
            throw ModelFileError(path, .corrupt, "tensor '\(t.name)' appears twice")
        }
        index[t.name] = tensors.count
        tensors.append(owned(t))
    }

    /// Replaces or adds a tensor (used by format translations).
    public func set(_ t: Tensor) {
        if let i = index[t.name] {
            tensors[i] = owned(t)
        } else {
            index[t.name] = tensors.count
            tensors.append(owned(t))
        }
    }

    /// Replaces the tensor `name` by `parts`, at its position in file order.
    public func replace(_ name: String, with parts: [Tensor]) {
        guard let i = index[name] else {
            for p in parts { set(p) }
            return
        }
        tensors.replaceSubrange(i...i, with: parts.map(owned))
        index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// Removes a tensor by name, if present.
    public func remove(_ name: String) {
        guard let i = index[name] else { return }
        tensors.remove(at: i)
        index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// Allocates a buffer of `byteCount` bytes that lives as long as this table.
    ///
    /// Buffers are carved from 64 MiB chunks rather than allocated one by one, so that
    /// the many 1–2 MB matrices of a converted model share huge pages (a mapping
    /// smaller than 2 MiB cannot use one). The memory is zeroed and 64-byte aligned.
    public func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = (max(byteCount, 1) + 63) & ~63
        if size > Self.arenaChunkBytes / 4 {
            let b = OwnedBuffer(byteCount: size)
            buffers[b.pointer] = b
            return b.pointer
        }
        if arena == nil || arena!.used + size > arena!.chunk.byteCount {
            arena = (OwnedBuffer(byteCount: Self.arenaChunkBytes), 0)
        }
        let p = arena!.chunk.pointer + arena!.used
        arena!.used += size
        buffers[p] = arena!.chunk
        return p
    }

    /// The tensor called `name`, if present.
    public subscript(name: String) -> Tensor? {
        index[name].map { tensors[$0] }
    }

    /// The tensor called `name`, or a `missingTensor` error naming the file.
    public func require(_ name: String) throws -> Tensor {
        guard let t = self[name] else {
            throw ModelFileError(path, .missingTensor, "tensor '\(name)' is missing")
        }
        return t
    }

    /// All tensor names in file order.
    public var names: [String] { tensors.map(\.name) }

    /// Total bytes of tensor data.
    public var dataBytes: Int { tensors.reduce(0) { $0 + $1.type.byteCount(elements: $1.count) } }
}

/// A heap buffer freed when the last tensor or table referring to it goes away.
///
/// Large buffers (converted or synthetic weights) come from `PageMemory`, so they sit
/// on huge pages where the system offers them.
final class OwnedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = PageMemory.allocate(byteCount: byteCount)
    }

    deinit { PageMemory.deallocate(pointer, byteCount: byteCount) }
}
