import Dispatch

/// A fixed set of worker threads that splits index ranges into contiguous blocks.
///
/// Work runs on Dispatch's persistent worker threads through `concurrentPerform`, so
/// no thread is created per operation. Each block is a contiguous range, and the
/// kernels never sum across blocks, so results do not depend on `threadCount`.
public final class ThreadPool: @unchecked Sendable {
    /// How many blocks a range is split into (at most; small ranges use fewer).
    public let threadCount: Int

    /// A pool that uses `threadCount` threads; values below 1 mean 1.
    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
    }

    /// A single-threaded pool, for tests and small models.
    public static let serial = ThreadPool(threadCount: 1)

    /// The number of logical CPUs of this host.
    public static var availableCores: Int {
        max(1, Int(sysconfGuarded()))
    }

    /// Runs `body(range)` on disjoint contiguous ranges that cover `0..<count`.
    ///
    /// `minimumPerBlock` keeps tiny ranges on one thread, where the hand-off would
    /// cost more than the work.
    public func forEachBlock(
        count: Int, minimumPerBlock: Int = 1, _ body: (Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        let blocks = min(threadCount, max(1, count / max(1, minimumPerBlock)))
        if blocks == 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: blocks) { b in
            let lo = count * b / blocks
            let hi = count * (b + 1) / blocks
            if lo < hi { body(lo..<hi) }
        }
    }
}

#if canImport(Glibc)
    import Glibc
    private func sysconfGuarded() -> Int { sysconf(Int32(_SC_NPROCESSORS_ONLN)) }
#elseif canImport(Darwin)
    import Darwin
    private func sysconfGuarded() -> Int { sysconf(_SC_NPROCESSORS_ONLN) }
#else
    private func sysconfGuarded() -> Int { 1 }
#endif
