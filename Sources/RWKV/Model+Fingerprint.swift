/// A cheap identity for a model's weights, stored in session files.
extension Model {
    /// A 64-bit FNV-1a hash over the model's dimensions, every tensor's name, shape and
    /// type, and 4 KiB samples at 64 evenly spaced places in each tensor's data (or all
    /// of a smaller tensor), as 16 hex digits.
    ///
    /// It reads at most a few MiB however large the model is, so it takes
    /// milliseconds and is computed once per loaded model. It tells different models
    /// apart (and the same model in different formats or precisions); it is not a
    /// cryptographic checksum of every byte.
    public var fingerprint: String {
        if let cached = fingerprintCache.value { return cached }
        var h = FNV1a()
        h.add(
            "\(config.version.rawValue) \(config.layerCount) \(config.embedding) \(config.vocabulary) \(config.ffnWidth)"
        )
        for t in tensors.tensors {
            h.add("\(t.name) \(t.shape) \(t.type)")
            let bytes = t.type.byteCount(elements: t.count)
            let sample = 4096
            // Sampled in row-major order, so a matrix the binder laid out in panels
            // hashes as the file stores it.
            if bytes <= sample * 64 {
                t.withRowMajorBytes(at: 0, count: bytes) { h.add($0) }
            } else {
                for i in 0..<64 {
                    let offset = (bytes - sample) / 63 * i
                    t.withRowMajorBytes(at: offset, count: sample) { h.add($0) }
                }
            }
        }
        let hex = String(h.value, radix: 16)
        let value = String(repeating: "0", count: 16 - hex.count) + hex
        fingerprintCache.value = value
        return value
    }
}

/// A once-computed value held by reference so that a `let` property can cache it.
final class LazyBox<T>: @unchecked Sendable {
    var value: T?
}

/// 64-bit FNV-1a.
struct FNV1a {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes {
            value ^= UInt64(b)
            value = value &* 0x100_0000_01b3
        }
    }

    mutating func add(_ text: String) {
        var s = text
        s.withUTF8 { add(UnsafeRawBufferPointer($0)) }
        // A zero byte ends each string, so "ab"+"c" and "a"+"bc" hash differently.
        value = value &* 0x100_0000_01b3
    }
}

extension Tokenizer {
    /// A 64-bit FNV-1a hash of the whole vocabulary (every id's bytes, in id order), as 16 hex digits.
    ///
    /// Token ids only mean something with the vocabulary that made them, so session
    /// files record this and refuse to load with a different one.
    public var fingerprint: String {
        var h = FNV1a()
        h.add("\(name) \(vocabularySize)")
        for t in 0..<vocabularySize {
            let b = bytes(of: t) ?? []
            h.add("\(t):\(b.count)")
            b.withUnsafeBytes { h.add($0) }
        }
        let hex = String(h.value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
