#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading a whole file into a byte array with plain `read(2)` calls.
///
/// Converting Foundation's `Data` to `[UInt8]` walks it byte by byte, which costs
/// more than the disk read for the multi-megabyte state and session files.
public enum FileBytes {
    /// The contents of the file at `path`, or an `unreadable` error naming it.
    public static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ModelFileError(path, .unreadable, "cannot open the file (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR else {
            throw ModelFileError(path, .unreadable, "is not a readable file")
        }
        let size = Int(st.st_size)
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buf, n in
            var done = 0
            while done < size {
                let r = readBytes(fd, buf.baseAddress! + done, size - done)
                if r < 0 && errno == EINTR { continue }
                if r <= 0 { break }
                done += r
            }
            failed = done != size
            n = done
        }
        if failed { throw ModelFileError(path, .unreadable, "could not read the whole file") }
        return bytes
    }
}

#if canImport(Glibc)
    private func readBytes(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { Glibc.read(fd, p, n) }
#else
    private func readBytes(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { Darwin.read(fd, p, n) }
#endif
