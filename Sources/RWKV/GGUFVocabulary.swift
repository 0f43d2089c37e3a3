import Foundation

/// The World vocabulary as llama.cpp stores it inside a GGUF file.
///
/// `tokenizer.ggml.model = "rwkv"`; `tokenizer.ggml.tokens` holds one string per
/// id: id 0 is `<s>` (type CONTROL), the World tokens follow with their bytes
/// escaped as Python's `repr(bytes)[2:-1]` writes them (`\t`, `\n`, `\r`, `\\`,
/// `\'`, `\xhh` for other bytes outside printable ASCII), and padding ids up to the
/// embedding's row count are `[PADn]` (type UNUSED). `tokenizer.ggml.token_type`
/// gives the types (1 normal, 3 control, 5 unused).
public enum GGUFVocabulary {
    /// Token type codes of `tokenizer.ggml.token_type`.
    static let normal = 1, control = 3, unused = 5

    /// A token's bytes in the escaped form stored in the file.
    public static func escape(_ bytes: [UInt8]) -> [UInt8] {
        // Python quotes with " when the bytes hold ' but no ", and then leaves ' unescaped.
        let quote: UInt8 = bytes.contains(0x27) && !bytes.contains(0x22) ? 0x22 : 0x27
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes {
            switch b {
            case 0x5C: out += [0x5C, 0x5C]
            case 0x09: out += Array("\\t".utf8)
            case 0x0A: out += Array("\\n".utf8)
            case 0x0D: out += Array("\\r".utf8)
            case quote: out += [0x5C, b]
            case 0x20..<0x7F: out.append(b)
            default: out += Array(String(format: "\\x%02x", b).utf8)
            }
        }
        return out
    }

    /// The bytes of an escaped token string, or nil if an escape is malformed.
    public static func unescape(_ text: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            let c = text[i]
            i += 1
            guard c == 0x5C else {
                out.append(c)
                continue
            }
            guard i < text.count else { return nil }
            let e = text[i]
            i += 1
            switch e {
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "x"):
                guard i + 2 <= text.count, let v = UInt8(String(decoding: text[i..<i + 2], as: UTF8.self), radix: 16)
                else { return nil }
                out.append(v)
                i += 2
            default:
                // `\\`, `\'`, `\"`; llama.cpp also keeps any other escaped character as itself.
                out.append(e)
            }
        }
        return out
    }

    /// The metadata entries that store `tokenizer` for a model with `count` ids.
    static func metadata(_ tokenizer: Tokenizer, count: Int) -> [(String, GGUFValue)] {
        var tokens: [GGUFValue] = [], types: [GGUFValue] = []
        tokens.reserveCapacity(count)
        types.reserveCapacity(count)
        for id in 0..<count {
            if id == 0 {
                tokens.append(.string(Array("<s>".utf8)))
                types.append(.int(Int64(control)))
            } else if let bytes = tokenizer.bytes(of: id) {
                tokens.append(.string(escape(bytes)))
                types.append(.int(Int64(normal)))
            } else {
                tokens.append(.string(Array("[PAD\(id)]".utf8)))
                types.append(.int(Int64(unused)))
            }
        }
        return [
            ("tokenizer.ggml.model", .string(Array("rwkv".utf8))),
            ("tokenizer.ggml.tokens", .array(tokens)),
            ("tokenizer.ggml.token_type", .array(types)),
            ("tokenizer.ggml.bos_token_id", .int(0)),
            ("tokenizer.ggml.eos_token_id", .int(0)),
        ]
    }

    /// The tokenizer stored in a GGUF file's metadata, or nil when it has none of the "rwkv" kind.
    static func tokenizer(_ meta: [String: GGUFValue], path: String) throws -> Tokenizer? {
        guard meta["tokenizer.ggml.model"]?.text == "rwkv" else { return nil }
        guard case .array(let tokens)? = meta["tokenizer.ggml.tokens"] else {
            throw ModelFileError(path, .corrupt, "GGUF tokenizer 'rwkv' has no tokenizer.ggml.tokens array")
        }
        var types: [GGUFValue] = []
        if case .array(let t)? = meta["tokenizer.ggml.token_type"] { types = t }
        guard types.isEmpty || types.count == tokens.count else {
            throw ModelFileError(path, .corrupt, "GGUF tokenizer has \(tokens.count) tokens but \(types.count) types")
        }
        var entries: [(Int, [UInt8])] = []
        entries.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where id > 0 {
            guard case .string(let text) = token else {
                throw ModelFileError(path, .corrupt, "GGUF token \(id) is not a string")
            }
            // Without a type array, padding names are recognised by their form.
            let type = types.isEmpty ? (text.starts(with: Array("[PAD".utf8)) ? unused : normal) : types[id].int
            guard type == normal else { continue }
            guard let bytes = unescape(text), !bytes.isEmpty else {
                throw ModelFileError(path, .corrupt, "GGUF token \(id) has a malformed escape")
            }
            entries.append((id, bytes))
        }
        guard !entries.isEmpty else { throw ModelFileError(path, .corrupt, "GGUF tokenizer has no tokens") }
        let name = "GGUF vocabulary (\(entries.count) tokens)"
        return try WorldTokenizer(entries: entries, name: name, path: path)
    }
}
