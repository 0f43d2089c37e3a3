/// A value produced by `Unpickler`.
///
/// Only the shapes of data that `torch.save` writes are represented. Lists and
/// dicts are boxed so that the pickle memo shares them, as Python does.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A `module.name` global that was not called.
    case global(module: String, name: String)
    /// A storage record from a persistent id: `('storage', StorageType, key, location, numel)`.
    case storage(StorageRecord)
    /// The result of `torch._utils._rebuild_tensor_v2(...)`.
    case tensor(TensorRecord)
    /// Any other call, kept unevaluated.
    case call(callable: String, args: [PickleValue])
}

/// A mutable list shared through the memo.
final class PickleList {
    var items: [PickleValue] = []
}

/// A mutable dict shared through the memo, in insertion order.
final class PickleDict {
    var pairs: [(PickleValue, PickleValue)] = []
}

/// Where a tensor's bytes live in a PyTorch archive: the storage's key and its element type.
struct StorageRecord {
    let typeName: String
    let key: String
    let elementCount: Int
}

/// A tensor view of a storage: element offset, sizes and strides (in elements).
struct TensorRecord {
    let storage: StorageRecord
    let offset: Int
    let shape: [Int]
    let stride: [Int]
}

/// A minimal pickle reader for the opcodes that `torch.save` checkpoints use.
///
/// It evaluates no Python: the only globals it understands are
/// `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and
/// `torch._utils._rebuild_parameter`; other calls are kept as `.call` values.
/// Every read is bounds-checked and the stack depth is limited, so a corrupt
/// pickle gives an error, never a crash or a hang.
struct Unpickler {
    private let bytes: [UInt8]
    private let path: String
    private var pos = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    private static let maxStack = 1_000_000

    init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    private func fail(_ what: String) -> ModelFileError {
        ModelFileError(path, .corrupt, "checkpoint pickle is damaged at byte \(pos): \(what)")
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - pos else { throw fail("data ends early") }
        defer { pos += n }
        return bytes[pos..<pos + n]
    }

    private mutating func u8() throws -> UInt8 { try take(1).first! }

    private mutating func uint(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    private mutating func line() throws -> String {
        guard let end = bytes[pos...].firstIndex(of: 0x0A) else { throw fail("unterminated text line") }
        defer { pos = end + 1 }
        return String(decoding: bytes[pos..<end], as: UTF8.self)
    }

    private mutating func push(_ v: PickleValue) throws {
        guard stack.count < Self.maxStack else { throw fail("stack too deep") }
        stack.append(v)
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow") }
        return v
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("missing MARK") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private func utf8(_ s: ArraySlice<UInt8>) throws -> String {
        guard let str = String(validating: s, as: UTF8.self) else { throw fail("string is not UTF-8") }
        return str
    }

    /// Runs the pickle to its STOP opcode and returns the top value.
    mutating func load() throws -> PickleValue {
        while true {
            let op = try u8()
            switch op {
            case 0x80: _ = try u8()  // PROTO
            case 0x95: _ = try uint(8)  // FRAME: framing is irrelevant when the whole pickle is in memory
            case 0x2E: return try pop()  // STOP
            case 0x28: marks.append(stack.count)  // MARK
            case 0x7D: try push(.dict(PickleDict()))  // EMPTY_DICT
            case 0x5D: try push(.list(PickleList()))  // EMPTY_LIST
            case 0x29: try push(.tuple([]))  // EMPTY_TUPLE
            case 0x74: try push(.tuple(try popMark()))  // TUPLE
            case 0x85: try push(.tuple([try pop()]))  // TUPLE1
            case 0x86:  // TUPLE2
                let b = try pop()
                try push(.tuple([try pop(), b]))
            case 0x87:  // TUPLE3
                let c = try pop()
                let b = try pop()
                try push(.tuple([try pop(), b, c]))
            case 0x71: memo[Int(try u8())] = stack.last  // BINPUT
            case 0x72: memo[Int(try uint(4))] = stack.last  // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let key = op == 0x68 ? Int(try u8()) : Int(try uint(4))
                guard let v = memo[key] else { throw fail("memo entry \(key) is missing") }
                try push(v)
            case 0x58: try push(.string(try utf8(try take(Int(try uint(4))))))  // BINUNICODE
            case 0x8C: try push(.string(try utf8(try take(Int(try u8())))))  // SHORT_BINUNICODE
            case 0x8D: try push(.string(try utf8(try take(Int(clamping: try uint(8))))))  // BINUNICODE8
            case 0x42: try push(.bytes(Array(try take(Int(try uint(4))))))  // BINBYTES
            case 0x43: try push(.bytes(Array(try take(Int(try u8())))))  // SHORT_BINBYTES
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x4B: try push(.int(Int(try u8())))  // BININT1
            case 0x4D: try push(.int(Int(try uint(2))))  // BININT2
            case 0x8A:  // LONG1: little-endian two's complement of n bytes
                let n = Int(try u8())
                guard n <= 8 else { throw fail("integer too large") }
                var v = try uint(n)
                if n > 0, n < 8, v & (1 << (UInt64(n) * 8 - 1)) != 0 { v |= ~0 << (UInt64(n) * 8) }
                try push(.int(Int(Int64(bitPattern: v))))
            case 0x4E: try push(.none)  // NONE
            case 0x88: try push(.bool(true))  // NEWTRUE
            case 0x89: try push(.bool(false))  // NEWFALSE
            case 0x47:  // BINFLOAT: big-endian double
                var v: UInt64 = 0
                for b in try take(8) { v = v << 8 | UInt64(b) }
                try push(.float(Double(bitPattern: v)))
            case 0x63:  // GLOBAL
                let module = try line()
                let name = try line()
                try push(.global(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("STACK_GLOBAL needs two strings")
                }
                try push(.global(module: module, name: name))
            case 0x52:  // REDUCE
                guard case .tuple(let args) = try pop() else { throw fail("REDUCE arguments are not a tuple") }
                try push(try reduce(try pop(), args))
            case 0x81:  // NEWOBJ
                guard case .tuple(let args) = try pop() else { throw fail("NEWOBJ arguments are not a tuple") }
                try push(try reduce(try pop(), args))
            case 0x62: _ = try pop()  // BUILD: object state (e.g. OrderedDict attributes) is not needed
            case 0x51: try push(try persistent(try pop()))  // BINPERSID
            case 0x73:  // SETITEM
                let v = try pop()
                let k = try pop()
                guard case .dict(let d) = stack.last else { throw fail("SETITEM on a non-dict") }
                d.pairs.append((k, v))
            case 0x75:  // SETITEMS
                let items = try popMark()
                guard case .dict(let d) = stack.last, items.count % 2 == 0 else { throw fail("SETITEMS on a non-dict") }
                for i in stride(from: 0, to: items.count, by: 2) { d.pairs.append((items[i], items[i + 1])) }
            case 0x61:  // APPEND
                let v = try pop()
                guard case .list(let l) = stack.last else { throw fail("APPEND on a non-list") }
                l.items.append(v)
            case 0x65:  // APPENDS
                let items = try popMark()
                guard case .list(let l) = stack.last else { throw fail("APPENDS on a non-list") }
                l.items.append(contentsOf: items)
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32:  // DUP
                guard let top = stack.last else { throw fail("DUP on an empty stack") }
                try push(top)
            default:
                pos -= 1
                throw fail("opcode 0x\(String(op, radix: 16)) is not used by PyTorch checkpoints")
            }
        }
    }

    private func reduce(_ callable: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case .global(let module, let name) = callable else { throw fail("call of a non-global") }
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"):
            return .dict(PickleDict())
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard args.count >= 4, case .storage(let s) = args[0], case .int(let offset) = args[1],
                case .tuple(let size) = args[2], case .tuple(let stride) = args[3]
            else { throw fail("malformed tensor record") }
            let dims = try size.map { v -> Int in
                guard case .int(let i) = v, i >= 0 else { throw fail("tensor size is not a non-negative integer") }
                return i
            }
            let strides = try stride.map { v -> Int in
                guard case .int(let i) = v, i >= 0 else { throw fail("tensor stride is not a non-negative integer") }
                return i
            }
            guard dims.count == strides.count, offset >= 0 else { throw fail("tensor sizes and strides disagree") }
            return .tensor(TensorRecord(storage: s, offset: offset, shape: dims, stride: strides))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let first = args.first else { throw fail("malformed parameter record") }
            return first
        default:
            return .call(callable: "\(module).\(name)", args: args)
        }
    }

    private func persistent(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let t) = pid, t.count >= 5, case .string("storage") = t[0],
            case .global(_, let typeName) = t[1], case .string(let key) = t[2], case .int(let n) = t[4], n >= 0
        else { throw fail("unrecognised persistent id (not a tensor storage)") }
        return .storage(StorageRecord(typeName: typeName, key: key, elementCount: n))
    }
}
