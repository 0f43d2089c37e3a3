/// Turns a stream of bytes (token by token) into text without emitting broken characters.
///
/// A multi-byte UTF-8 character can be split across tokens. Bytes that could
/// still become a valid character are held back until it is complete; bytes that
/// can never become one are emitted as U+FFFD, one per invalid sequence.
public struct UTF8StreamDecoder: Sendable {
    private var pending: [UInt8] = []

    /// A decoder with nothing held back.
    public init() {}

    /// Adds `bytes` and returns the text that is now complete.
    public mutating func feed(_ bytes: [UInt8]) -> String {
        pending += bytes
        // Find the longest prefix that does not end inside a character that could still complete.
        let keep = incompleteTailLength(pending)
        let ready = Array(pending[..<(pending.count - keep)])
        pending.removeFirst(pending.count - keep)
        return String(decoding: ready, as: UTF8.self)
    }

    /// Returns whatever is still held back (as U+FFFD if incomplete) and empties the decoder.
    public mutating func flush() -> String {
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }

    /// True when bytes are held back waiting for the rest of a character.
    public var hasPending: Bool { !pending.isEmpty }

    // The number of trailing bytes that form the valid start of a character that
    // is not complete yet (0 to 3).
    private func incompleteTailLength(_ b: [UInt8]) -> Int {
        let n = b.count
        var back = 1
        while back <= min(3, n) {
            let c = b[n - back]
            if c & 0xC0 == 0x80 {  // continuation byte: look further back for the lead
                back += 1
                continue
            }
            let need: Int
            switch c {
            case 0xC2...0xDF: need = 2
            case 0xE0...0xEF: need = 3
            case 0xF0...0xF4: need = 4
            default: return 0
            }
            guard back < need else { return 0 }
            // Check the bytes so far could still be valid (second-byte ranges of UTF-8).
            if back >= 2 {
                let second = b[n - back + 1]
                let ok: Bool
                switch c {
                case 0xE0: ok = (0xA0...0xBF).contains(second)
                case 0xED: ok = (0x80...0x9F).contains(second)
                case 0xF0: ok = (0x90...0xBF).contains(second)
                case 0xF4: ok = (0x80...0x8F).contains(second)
                default: ok = true
                }
                if !ok { return 0 }
            }
            return back
        }
        return 0
    }
}
