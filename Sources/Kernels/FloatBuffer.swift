/// An owned, fixed-size, 64-byte-aligned, zeroed float32 buffer for kernel scratch space.
///
/// The kernels work on raw pointers; this class gives those pointers an owner with
/// a clear lifetime, without the copy-on-write checks of `[Float]` in inner loops.
public final class FloatBuffer {
    /// The first element.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of elements.
    public let count: Int

    /// Allocates `count` floats set to zero.
    public init(count: Int) {
        self.count = count
        // Large buffers (the bandwidth probe's) get the same huge-page treatment as weights.
        let raw = PageMemory.allocate(byteCount: max(count, 1) * 4)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Allocates a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        for (i, v) in values.enumerated() { pointer[i] = v }
    }

    deinit { PageMemory.deallocate(UnsafeMutableRawPointer(pointer), byteCount: max(count, 1) * 4) }

    /// Row `t` of a buffer holding rows of `width` floats.
    @inlinable
    public func row(_ t: Int, width: Int) -> UnsafeMutablePointer<Float> { pointer + t * width }
}
