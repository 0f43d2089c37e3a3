/// A bounds-checked little-endian reader over bytes from a file.
///
/// Every read checks the remaining length first and throws `truncated`, naming
/// the file, so damaged input can never read out of bounds.
public struct ByteReader {
    /// The bytes being read.
    public let bytes: [UInt8]
    /// The file they came from, for error messages.
    public let path: String
    /// The next byte to read.
    public var offset: Int

    /// A reader at `offset` of `bytes`.
    public init(bytes: [UInt8], path: String, offset: Int = 0) {
        self.bytes = bytes
        self.path = path
        self.offset = offset
    }

    /// Bytes left after `offset`.
    public var remaining: Int { bytes.count - offset }

    /// The next `n` bytes.
    public mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else {
            throw ModelFileError(path, .truncated, "file ends early (needs \(n) bytes at offset \(offset))")
        }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    /// The next little-endian integer.
    public mutating func read<T: FixedWidthInteger>() throws -> T {
        var v: T = 0
        for (i, b) in try take(MemoryLayout<T>.size).enumerated() { v |= T(b) << (8 * i) }
        return v
    }

    /// The next `count` little-endian float32 values.
    public mutating func readFloats(_ count: Int) throws -> [Float] {
        guard count >= 0, count <= remaining / 4 else {
            throw ModelFileError(path, .truncated, "file ends early (needs \(count) floats at offset \(offset))")
        }
        let start = offset
        offset += 4 * count
        return [Float](unsafeUninitializedCapacity: count) { buf, n in
            bytes.withUnsafeBytes { raw in
                for i in 0..<count {
                    buf[i] = Float(
                        bitPattern: UInt32(
                            littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)))
                }
            }
            n = count
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends `v` in little-endian byte order.
    public mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }

    /// Appends float32 values in little-endian byte order.
    public mutating func appendFloats(_ values: [Float]) {
        reserveCapacity(count + 4 * values.count)
        if UInt32(1).littleEndian == 1 {
            // On little-endian hosts the in-memory bytes are already the file's bytes.
            values.withUnsafeBytes { append(contentsOf: $0) }
        } else {
            for v in values { appendLE(v.bitPattern) }
        }
    }
}
