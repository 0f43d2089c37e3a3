/// Byte encodings of `State`: rwkv-chat's own self-describing format, and the
/// official package's raw float32 layout. Both are specified in docs/STATE_FORMAT.md.
extension State {
    /// The file magic of a serialized state.
    public static let magic: [UInt8] = Array("RWKVSTAT".utf8)
    /// The format version this build writes and reads.
    public static let formatVersion: UInt32 = 1

    /// The state in rwkv-chat's state format: header, entry table, floats, CRC-32.
    public func serialized() -> [UInt8] {
        var out = Self.magic
        out.appendLE(Self.formatVersion)
        out.appendLE(UInt32(layout.entries.count))
        out.appendLE(UInt64(values.count))
        // Every layer has the same entries, so the table lists one layer's names and
        // shapes plus the layer count; the reader rebuilds the full layout from it.
        let perLayer = layout.entries.prefix { $0.name.hasPrefix("0.") }
        out.appendLE(UInt32(perLayer.count))
        for e in perLayer {
            let name = Array(e.name.dropFirst(2).utf8)
            out.appendLE(UInt16(name.count))
            out += name
            out.append(UInt8(e.shape.count))
            for d in e.shape { out.appendLE(UInt32(d)) }
        }
        out.appendFloats(values)
        out.appendLE(CRC32.checksum(out))
        return out
    }

    /// Reads a state written by `serialized()`. `path` names the source in errors.
    public init(serialized bytes: [UInt8], path: String) throws {
        var r = ByteReader(bytes: bytes, path: path)
        guard bytes.count >= 12, Array(bytes[0..<8]) == Self.magic else {
            throw ModelFileError(path, .unknownFormat, "not an rwkv-chat state file (bad magic)")
        }
        guard bytes.count >= 4 else { throw ModelFileError(path, .truncated, "state file is truncated") }
        let stored = UInt32(
            littleEndian: bytes[(bytes.count - 4)...].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        let actual = bytes.withUnsafeBytes {
            CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[..<(bytes.count - 4)]))
        }
        guard actual == stored else {
            throw ModelFileError(path, .corrupt, "state file checksum does not match (damaged or truncated)")
        }
        r.offset = 8
        let version: UInt32 = try r.read()
        guard version == Self.formatVersion else {
            throw ModelFileError(path, .unsupported, "state format version \(version) is not supported")
        }
        let entryCount = Int(try r.read() as UInt32)
        let floatCount = Int(try r.read() as UInt64)
        let perLayerCount = Int(try r.read() as UInt32)
        guard perLayerCount > 0, perLayerCount <= 64, entryCount <= 1 << 20, entryCount % perLayerCount == 0 else {
            throw ModelFileError(path, .corrupt, "state entry table is inconsistent")
        }
        var perLayer: [(String, [Int])] = []
        for _ in 0..<perLayerCount {
            let n = Int(try r.read() as UInt16)
            let name = String(decoding: try r.take(n), as: UTF8.self)
            let rank = Int(try r.take(1).first!)
            var shape: [Int] = []
            for _ in 0..<rank { shape.append(Int(try r.read() as UInt32)) }
            perLayer.append((name, shape))
        }
        let layout = StateLayout(layers: entryCount / perLayerCount, perLayer: perLayer)
        guard layout.floatCount == floatCount, r.remaining == floatCount * 4 + 4 else {
            throw ModelFileError(path, .corrupt, "state sizes do not add up")
        }
        self.init(layout: layout, values: try r.readFloats(floatCount))
    }

    /// The raw little-endian float32 values in the official package's state order.
    public func officialLayoutBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.appendFloats(values)
        return out
    }
}
