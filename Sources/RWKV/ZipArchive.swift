/// The central directory of a zip archive whose entries are stored uncompressed.
///
/// PyTorch's `torch.save` writes such archives (method 0, "stored"), with ZIP64
/// records once the file passes 4 GiB. Only what is needed to find each entry's
/// bytes inside the mapped file is read; compressed entries are reported as
/// unsupported rather than inflated.
struct ZipArchive {
    /// One stored entry: its name and where its bytes are in the file.
    struct Entry {
        let name: String
        let dataOffset: Int
        let size: Int
    }

    let entries: [Entry]

    init(file: MappedFile) throws {
        let path = file.path
        // The end-of-central-directory record is 22 bytes plus a comment of at most
        // 65535 bytes, so it is searched for backwards in the last 65557 bytes.
        let minEOCD = 22
        guard file.size >= minEOCD else {
            throw ModelFileError(path, .truncated, "too short to be a zip archive (\(file.size) bytes)")
        }
        var eocd = -1
        let lowest = max(0, file.size - minEOCD - 65535)
        var pos = file.size - minEOCD
        while pos >= lowest {
            if try file.read(UInt32.self, at: pos, what: "zip directory") == 0x0605_4b50 {
                eocd = pos
                break
            }
            pos -= 1
        }
        guard eocd >= 0 else {
            throw ModelFileError(
                path, .corrupt, "zip end-of-directory record not found (file truncated or not a zip archive)")
        }
        var count = Int(try file.read(UInt16.self, at: eocd + 10, what: "zip directory"))
        var dirSize = Int(try file.read(UInt32.self, at: eocd + 12, what: "zip directory"))
        var dirOffset = Int(try file.read(UInt32.self, at: eocd + 16, what: "zip directory"))
        // ZIP64: a locator just before the EOCD points at the 64-bit directory record.
        if eocd >= 20, try file.read(UInt32.self, at: eocd - 20, what: "zip64 locator") == 0x0706_4b50 {
            let rec = Int(clamping: try file.read(UInt64.self, at: eocd - 12, what: "zip64 locator"))
            guard try file.read(UInt32.self, at: rec, what: "zip64 directory") == 0x0606_4b50 else {
                throw ModelFileError(path, .corrupt, "zip64 end-of-directory record is damaged")
            }
            count = Int(clamping: try file.read(UInt64.self, at: rec + 32, what: "zip64 directory"))
            dirSize = Int(clamping: try file.read(UInt64.self, at: rec + 40, what: "zip64 directory"))
            dirOffset = Int(clamping: try file.read(UInt64.self, at: rec + 48, what: "zip64 directory"))
        }
        guard dirOffset <= file.size, dirSize <= file.size - dirOffset else {
            throw ModelFileError(path, .truncated, "zip directory lies outside the file")
        }
        // Each central entry is at least 46 bytes, which bounds a corrupt count.
        guard count <= dirSize / 46 + 1 else {
            throw ModelFileError(path, .corrupt, "zip directory claims \(count) entries in \(dirSize) bytes")
        }
        var list: [Entry] = []
        list.reserveCapacity(count)
        var p = dirOffset
        for i in 0..<count {
            let what = "zip directory entry \(i)"
            guard try file.read(UInt32.self, at: p, what: what) == 0x0201_4b50 else {
                throw ModelFileError(path, .corrupt, "zip directory entry \(i) has a bad signature")
            }
            let method = try file.read(UInt16.self, at: p + 10, what: what)
            var compSize = UInt64(try file.read(UInt32.self, at: p + 20, what: what))
            var size = UInt64(try file.read(UInt32.self, at: p + 24, what: what))
            let nameLen = Int(try file.read(UInt16.self, at: p + 28, what: what))
            let extraLen = Int(try file.read(UInt16.self, at: p + 30, what: what))
            let commentLen = Int(try file.read(UInt16.self, at: p + 32, what: what))
            var localOffset = UInt64(try file.read(UInt32.self, at: p + 42, what: what))
            let name = String(decoding: try file.array(at: p + 46, count: nameLen, what: what), as: UTF8.self)
            // ZIP64 extended information: 64-bit values replace the fields set to 0xFFFFFFFF, in order.
            var e = p + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let tag = try file.read(UInt16.self, at: e, what: what)
                let len = Int(try file.read(UInt16.self, at: e + 2, what: what))
                if tag == 0x0001 {
                    var q = e + 4
                    if size == 0xFFFF_FFFF {
                        size = try file.read(UInt64.self, at: q, what: what)
                        q += 8
                    }
                    if compSize == 0xFFFF_FFFF {
                        compSize = try file.read(UInt64.self, at: q, what: what)
                        q += 8
                    }
                    if localOffset == 0xFFFF_FFFF {
                        localOffset = try file.read(UInt64.self, at: q, what: what)
                    }
                }
                e += 4 + len
            }
            guard method == 0 else {
                throw ModelFileError(
                    path, .unsupported,
                    "zip entry '\(name)' is compressed (method \(method)); PyTorch stores tensors uncompressed")
            }
            guard compSize == size else {
                throw ModelFileError(path, .corrupt, "zip entry '\(name)' has inconsistent sizes")
            }
            // The local header repeats the name and has its own extra field; the data follows it.
            let lo = Int(clamping: localOffset)
            guard try file.read(UInt32.self, at: lo, what: "local header of '\(name)'") == 0x0403_4b50 else {
                throw ModelFileError(path, .corrupt, "zip entry '\(name)' has a bad local header")
            }
            let lName = Int(try file.read(UInt16.self, at: lo + 26, what: "local header of '\(name)'"))
            let lExtra = Int(try file.read(UInt16.self, at: lo + 28, what: "local header of '\(name)'"))
            let dataOffset = lo + 30 + lName + lExtra
            let n = Int(clamping: size)
            _ = try file.bytes(at: dataOffset, count: n, what: "the data of zip entry '\(name)'")
            list.append(Entry(name: name, dataOffset: dataOffset, size: n))
            p += 46 + nameLen + extraLen + commentLen
        }
        entries = list
    }
}
