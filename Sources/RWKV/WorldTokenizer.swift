import Foundation

/// The RWKV World tokenizer (`rwkv_vocab_v20230424.txt`, 65,536 ids).
///
/// Encoding is greedy longest match over UTF-8 bytes, as the official
/// `TRIE_TOKENIZER`: at each position take the longest vocabulary entry that
/// matches, with no merges. Id 0 is end-of-text and has no bytes.
public struct WorldTokenizer: Tokenizer {
    /// The vocabulary file's name, for `info`.
    public let name: String
    private let tokenBytes: [[UInt8]]  // id → bytes; [] for id 0 and unused ids
    // The trie as one hash map: key (node << 8 | byte) → child node. Node 0 is the
    // root. This keeps the ~400k edges of the World vocabulary in one table.
    private let edges: [Int: Int32]
    private let nodeToken: [Int32]  // node → token id, or -1

    /// The number of ids, including the unused id 0.
    public var vocabularySize: Int { tokenBytes.count }

    /// Parses a vocabulary file (`<id> <python literal> <byte length>` per line, LF or CRLF).
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError(path, .unreadable, "cannot read the vocabulary file")
        }
        try self.init(data: [UInt8](data), path: path)
    }

    /// Parses vocabulary text already in memory; `path` is used in error messages.
    public init(data: [UInt8], path: String) throws {
        let name = (path as NSString).lastPathComponent
        var entries: [(Int, [UInt8])] = []
        var lineNo = 0
        var start = 0
        while start < data.count {
            lineNo += 1
            var end = data[start...].firstIndex(of: 0x0A) ?? data.count
            let next = end + 1
            if end > start, data[end - 1] == 0x0D { end -= 1 }
            defer { start = next }
            if end == start { continue }
            let line = Array(data[start..<end])
            guard let firstSpace = line.firstIndex(of: 0x20), let lastSpace = line.lastIndex(of: 0x20),
                firstSpace < lastSpace,
                let id = Int(String(decoding: line[..<firstSpace], as: UTF8.self)),
                let length = Int(String(decoding: line[(lastSpace + 1)...], as: UTF8.self)),
                id > 0, id < 1 << 20
            else {
                throw ModelFileError(path, .corrupt, "vocabulary line \(lineNo) is not '<id> <literal> <length>'")
            }
            guard let bytes = PythonLiteral.decode(Array(line[(firstSpace + 1)..<lastSpace])) else {
                throw ModelFileError(path, .corrupt, "vocabulary line \(lineNo): cannot read the token literal")
            }
            guard bytes.count == length, length > 0 else {
                throw ModelFileError(
                    path, .corrupt, "vocabulary line \(lineNo): token has \(bytes.count) bytes, line says \(length)")
            }
            entries.append((id, bytes))
        }
        guard !entries.isEmpty else { throw ModelFileError(path, .corrupt, "vocabulary file has no tokens") }
        try self.init(entries: entries, name: name, path: path)
    }

    /// Builds the tokenizer from (id, bytes) pairs (ids ≥ 1, each once, bytes non-empty);
    /// `path` is used in error messages. Used for vocabularies stored inside model files.
    public init(entries: [(Int, [UInt8])], name: String, path: String) throws {
        self.name = name
        let maxID = entries.map(\.0).max() ?? 0
        var table = [[UInt8]](repeating: [], count: max(maxID + 1, 65536))
        var edges: [Int: Int32] = [:]
        var nodeToken: [Int32] = [-1]
        for (id, bytes) in entries {
            guard id > 0, id < 1 << 20, !bytes.isEmpty else {
                throw ModelFileError(path, .corrupt, "vocabulary id \(id) is out of range or has no bytes")
            }
            guard table[id].isEmpty else { throw ModelFileError(path, .corrupt, "vocabulary id \(id) appears twice") }
            table[id] = bytes
            var node = 0
            for b in bytes {
                let key = node << 8 | Int(b)
                if let child = edges[key] {
                    node = Int(child)
                } else {
                    nodeToken.append(-1)
                    edges[key] = Int32(nodeToken.count - 1)
                    node = nodeToken.count - 1
                }
            }
            nodeToken[node] = Int32(id)
        }
        tokenBytes = table
        self.edges = edges
        self.nodeToken = nodeToken
    }

    /// Greedy longest match. Every single byte is in the World vocabulary, so every input encodes.
    public func encode(bytes: [UInt8]) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(bytes.count / 3 + 1)
        var i = 0
        while i < bytes.count {
            var node = 0
            var bestID = -1
            var bestEnd = i
            var j = i
            while j < bytes.count, let child = edges[node << 8 | Int(bytes[j])] {
                node = Int(child)
                j += 1
                if nodeToken[node] >= 0 {
                    bestID = Int(nodeToken[node])
                    bestEnd = j
                }
            }
            if bestID < 0 {
                // Only a vocabulary without some single byte can get here; skip the byte
                // rather than loop forever.
                i += 1
                continue
            }
            out.append(bestID)
            i = bestEnd
        }
        return out
    }

    /// The bytes of `token`, nil for ids with none (0 and unknown ids).
    public func bytes(of token: Int) -> [UInt8]? {
        guard token > 0, token < tokenBytes.count, !tokenBytes[token].isEmpty else { return nil }
        return tokenBytes[token]
    }
}

/// Decodes the Python string and bytes literals of the World vocabulary file.
enum PythonLiteral {
    /// The UTF-8 bytes of a `'…'`/`"…"` str literal, or the raw bytes of a `b'…'` literal.
    static func decode(_ lit: [UInt8]) -> [UInt8]? {
        var s = lit[...]
        let isBytes = s.first == UInt8(ascii: "b")
        if isBytes { s = s.dropFirst() }
        guard let q = s.first, q == UInt8(ascii: "'") || q == UInt8(ascii: "\""), s.count >= 2, s.last == q else {
            return nil
        }
        s = s.dropFirst().dropLast()
        var out: [UInt8] = []
        var it = s.makeIterator()
        func hex(_ n: Int) -> UInt32? {
            var v: UInt32 = 0
            for _ in 0..<n {
                guard let c = it.next(), let d = hexDigit(c) else { return nil }
                v = v << 4 | d
            }
            return v
        }
        func appendScalar(_ v: UInt32) -> Bool {
            guard let u = Unicode.Scalar(v) else { return false }
            out += Array(String(Character(u)).utf8)
            return true
        }
        while let c = it.next() {
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            guard let e = it.next() else { return nil }
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "0"): out.append(0x00)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
            case UInt8(ascii: "x"):
                // In a bytes literal \xHH is one raw byte; in a str it is the code point U+00HH.
                guard let v = hex(2) else { return nil }
                if isBytes { out.append(UInt8(v)) } else if !appendScalar(v) { return nil }
            case UInt8(ascii: "u"):
                guard !isBytes, let v = hex(4), appendScalar(v) else { return nil }
            case UInt8(ascii: "U"):
                guard !isBytes, let v = hex(8), appendScalar(v) else { return nil }
            default:
                // Python keeps unknown escapes verbatim.
                out += [UInt8(ascii: "\\"), e]
            }
        }
        return out
    }

    private static func hexDigit(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
