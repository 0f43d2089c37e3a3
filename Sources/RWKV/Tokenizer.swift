/// Turns text into token ids and back, at the level of UTF-8 bytes.
///
/// Encoding works on bytes so that any byte string (not only valid UTF-8) can be
/// tested and fed. Decoding returns bytes; `UTF8StreamDecoder` turns a stream of
/// them into text without ever emitting a broken character.
public protocol Tokenizer: Sendable {
    /// A short name for `info` and error messages.
    var name: String { get }
    /// One more than the largest id this tokenizer produces.
    var vocabularySize: Int { get }
    /// The token ids of `bytes`.
    func encode(bytes: [UInt8]) -> [Int]
    /// The bytes of one token, or nil for an id the vocabulary does not have.
    func bytes(of token: Int) -> [UInt8]?
}

extension Tokenizer {
    /// The token ids of the UTF-8 encoding of `text`.
    public func encode(_ text: String) -> [Int] { encode(bytes: Array(text.utf8)) }

    /// The concatenated bytes of `tokens`; unknown ids contribute nothing.
    public func decodeBytes(_ tokens: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        for t in tokens { out += bytes(of: t) ?? [] }
        return out
    }

    /// The text of `tokens`, with each invalid UTF-8 sequence shown as U+FFFD.
    public func decode(_ tokens: [Int]) -> String {
        String(decoding: decodeBytes(tokens), as: UTF8.self)
    }
}

/// The byte-level tokenizer of the tiny test models: token id = byte value, vocabulary 256.
public struct ByteTokenizer: Tokenizer {
    /// Creates the tokenizer.
    public init() {}
    /// "bytes".
    public var name: String { "bytes" }
    /// 256.
    public var vocabularySize: Int { 256 }
    /// Each byte is its own token.
    public func encode(bytes: [UInt8]) -> [Int] { bytes.map(Int.init) }
    /// The single byte `token`, for ids 0...255.
    public func bytes(of token: Int) -> [UInt8]? { (0..<256).contains(token) ? [UInt8(token)] : nil }
}
