#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole file mapped read-only into memory, with bounds-checked readers.
///
/// Model weights are used in place from the mapping wherever their layout allows,
/// so a model never needs two full copies of its weights in memory. Every read
/// goes through `bytes(at:count:)`, which throws `truncated` instead of reading
/// past the end, so a damaged file can never crash the loader.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from, used in error messages.
    public let path: String
    /// Number of bytes in the file.
    public let size: Int
    /// The mapping's first byte (nil for an empty file).
    public let base: UnsafeRawPointer?

    /// Maps the file at `path`.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ModelFileError(path, .unreadable, "cannot open the file (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw ModelFileError(path, .unreadable, "cannot read the file's size")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw ModelFileError(path, .unreadable, "is a directory, not a file")
        }
        size = Int(st.st_size)
        if size == 0 {
            base = nil
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ModelFileError(path, .unreadable, "cannot map the file into memory")
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// Tells the system this process no longer needs the pages wholly inside
    /// `[pointer, pointer + count)` (a tensor that was copied into another layout), so
    /// they stop counting towards its resident memory. Reading them again later still
    /// works: the pages are read back from the file (or the page cache).
    public func dropPages(_ pointer: UnsafeRawPointer, count: Int) {
        guard let base, pointer >= base, count > 0, pointer + count <= base + size else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: pointer) + page - 1) / page * page
        let end = (Int(bitPattern: pointer) + count) / page * page
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(p, end - start, MADV_DONTNEED)
    }

    /// A pointer to `count` bytes at `offset`, or a `truncated` error if they are not all in the file.
    public func bytes(at offset: Int, count: Int, what: @autoclosure () -> String) throws -> UnsafeRawPointer {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset, let base else {
            throw ModelFileError(
                path, .truncated,
                "file ends before \(what()) (needs bytes \(offset)..<\(offset &+ count), file has \(size))")
        }
        return base + offset
    }

    /// Reads a little-endian fixed-width integer at `offset`.
    public func read<T: FixedWidthInteger>(_: T.Type, at offset: Int, what: @autoclosure () -> String) throws -> T {
        let p = try bytes(at: offset, count: MemoryLayout<T>.size, what: what())
        return T(littleEndian: p.loadUnaligned(as: T.self))
    }

    /// The bytes at `offset..<offset+count` as an array.
    public func array(at offset: Int, count: Int, what: @autoclosure () -> String) throws -> [UInt8] {
        let p = try bytes(at: offset, count: count, what: what())
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }
}
