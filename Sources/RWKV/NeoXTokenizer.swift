import Foundation

/// The GPT-NeoX 20B tokenizer (`20B_tokenizer.json`) of the RWKV-4 Pile and Raven models.
///
/// Encoding follows Hugging Face `tokenizers` with this file's settings: NFC
/// normalisation; added tokens (`<|endoftext|>`, `<|padding|>` and runs of 2–24
/// spaces) matched first, leftmost-longest; the GPT-2 pre-tokenizer pattern; bytes
/// mapped to printable characters; then BPE by merge rank. Decoding maps the
/// characters back to bytes and, as `decode` does by default, skips special tokens.
public struct NeoXTokenizer: Tokenizer {
    /// The file's name, for `info`.
    public let name: String
    private let idOf: [String: Int]
    private let tokenOf: [Int: String]
    private let ranks: [String: Int]  // "left right" → merge rank
    private let added: [(text: [Unicode.Scalar], id: Int)]  // longest first
    private let special: Set<Int>
    private let byteToChar: [Character]
    private let charToByte: [Character: UInt8]
    /// One more than the largest id.
    public let vocabularySize: Int

    /// Reads a `tokenizer.json` of a byte-level BPE model.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError(path, .unreadable, "cannot read the tokenizer file")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let model = root["model"] as? [String: Any], model["type"] as? String == "BPE",
            let vocab = model["vocab"] as? [String: Int], let merges = model["merges"] as? [Any]
        else { throw ModelFileError(path, .unknownFormat, "not a byte-level BPE tokenizer.json") }
        name = (path as NSString).lastPathComponent
        var idOf = vocab
        var ranks: [String: Int] = [:]
        for (i, m) in merges.enumerated() {
            if let s = m as? String {
                ranks[s] = i
            } else if let pair = m as? [String], pair.count == 2 {
                ranks[pair[0] + " " + pair[1]] = i
            }
        }
        var added: [(text: [Unicode.Scalar], id: Int)] = []
        var special = Set<Int>()
        for a in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = a["id"] as? Int, let content = a["content"] as? String else { continue }
            added.append((Array(content.unicodeScalars), id))
            idOf[content] = id
            if a["special"] as? Bool == true { special.insert(id) }
        }
        self.added = added.sorted { $0.text.count > $1.text.count }
        self.special = special
        self.idOf = idOf
        self.ranks = ranks
        var tokenOf: [Int: String] = [:]
        for (k, v) in idOf { tokenOf[v] = k }
        self.tokenOf = tokenOf
        vocabularySize = (idOf.values.max() ?? 0) + 1
        // GPT-2's reversible map from bytes to printable characters.
        var chars = [Character](repeating: " ", count: 256)
        var next = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            chars[b] = Character(Unicode.Scalar(UInt32(printable ? b : next))!)
            if !printable { next += 1 }
        }
        byteToChar = chars
        charToByte = Dictionary(uniqueKeysWithValues: chars.enumerated().map { ($1, UInt8($0)) })
    }

    /// Token ids of `bytes` (decoded as UTF-8; invalid sequences become U+FFFD first).
    public func encode(bytes: [UInt8]) -> [Int] {
        let text = Array(String(decoding: bytes, as: UTF8.self).precomposedStringWithCanonicalMapping.unicodeScalars)
        var out: [Int] = []
        var segment: [Unicode.Scalar] = []
        var i = 0
        // Added tokens first, leftmost-longest; the text between them goes through BPE.
        while i < text.count {
            if let hit = added.first(where: { a in
                i + a.text.count <= text.count && Array(text[i..<(i + a.text.count)]) == a.text
            }) {
                out += bpeEncode(segment)
                segment = []
                out.append(hit.id)
                i += hit.text.count
            } else {
                segment.append(text[i])
                i += 1
            }
        }
        return out + bpeEncode(segment)
    }

    /// The bytes of `token`; nil for unknown ids and for special tokens (skipped, as `decode` does).
    public func bytes(of token: Int) -> [UInt8]? {
        guard let s = tokenOf[token], !special.contains(token) else { return nil }
        if added.contains(where: { $0.id == token }) { return Array(s.utf8) }
        var out: [UInt8] = []
        for ch in s {
            guard let b = charToByte[ch] else { return nil }
            out.append(b)
        }
        return out
    }

    private func bpeEncode(_ text: [Unicode.Scalar]) -> [Int] {
        guard !text.isEmpty else { return [] }
        var out: [Int] = []
        for piece in Self.pretokenize(text) {
            var str = ""
            str.unicodeScalars.append(contentsOf: piece)
            let mapped = Array(str.utf8).map { byteToChar[Int($0)] }
            out += bpe(mapped.map { String($0) })
        }
        return out
    }

    /// Merges the pair with the lowest rank until none is left, then looks the parts up.
    private func bpe(_ start: [String]) -> [Int] {
        var parts = start
        while parts.count > 1 {
            var best = Int.max
            var at = -1
            for k in 0..<(parts.count - 1) {
                if let r = ranks[parts[k] + " " + parts[k + 1]], r < best {
                    best = r
                    at = k
                }
            }
            guard at >= 0 else { break }
            let a = parts[at], b = parts[at + 1]
            // Merge every occurrence of this pair, left to right, as the reference does.
            var merged: [String] = []
            var k = 0
            while k < parts.count {
                if k < parts.count - 1 && parts[k] == a && parts[k + 1] == b {
                    merged.append(a + b)
                    k += 2
                } else {
                    merged.append(parts[k])
                    k += 1
                }
            }
            parts = merged
        }
        return parts.compactMap { idOf[$0] }
    }

    /// GPT-2's pattern: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    static func pretokenize(_ t: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        func isLetter(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
        func isNumber(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .decimalNumber, .letterNumber, .otherNumber: return true
            default: return false
            }
        }
        func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }
        var out: [ArraySlice<Unicode.Scalar>] = []
        var i = 0
        let n = t.count
        while i < n {
            let start = i
            // Contractions.
            if t[i] == "'" {
                var rest = ""
                rest.unicodeScalars.append(contentsOf: t[(i + 1)..<min(n, i + 3)])
                if let c = ["re", "ve", "ll"].first(where: { rest.hasPrefix($0) }) {
                    i += 1 + c.count
                    out.append(t[start..<i])
                    continue
                }
                if let f = rest.unicodeScalars.first, "stmd".unicodeScalars.contains(f) {
                    i += 2
                    out.append(t[start..<i])
                    continue
                }
            }
            var j = i
            if t[j] == " ", j + 1 < n, !isSpace(t[j + 1]) { j += 1 }
            if isLetter(t[j]) {
                while j < n && isLetter(t[j]) { j += 1 }
                out.append(t[start..<j])
                i = j
                continue
            }
            if isNumber(t[j]) {
                while j < n && isNumber(t[j]) { j += 1 }
                out.append(t[start..<j])
                i = j
                continue
            }
            if !isSpace(t[j]) {
                while j < n && !isSpace(t[j]) && !isLetter(t[j]) && !isNumber(t[j]) { j += 1 }
                out.append(t[start..<j])
                i = j
                continue
            }
            // Whitespace: a run not followed by non-space, else the run minus its last character.
            j = i
            while j < n && isSpace(t[j]) { j += 1 }
            if j < n && j - i > 1 { j -= 1 }
            out.append(t[start..<j])
            i = j
        }
        return out
    }
}
