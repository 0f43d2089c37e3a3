import CKernels

/// A persistent set of worker threads that splits index ranges into contiguous blocks.
///
/// The workers are started once (`threadCount − 1` of them; the calling thread
/// does the first block) and spin briefly between jobs before sleeping, so the
/// hundred or so matrix products of one generated token hand off in well under a
/// microsecond each. Each block is a contiguous range, and the kernels never sum
/// across blocks, so results do not depend on `threadCount`.
public final class ThreadPool: @unchecked Sendable {
    /// How many blocks a range is split into (at most; small ranges use fewer).
    public let threadCount: Int

    /// The C pool; nil when single-threaded.
    let handle: OpaquePointer?

    /// A pool that uses `threadCount` threads; values below 1 mean 1.
    public init(threadCount: Int) {
        let wanted = max(1, threadCount)
        handle = wanted > 1 ? ck_pool_create(Int32(wanted)) : nil
        // The C pool may start fewer workers than asked if the system refuses threads.
        self.threadCount = handle.map { Int(ck_pool_threads($0)) } ?? 1
    }

    deinit {
        if let handle { ck_pool_destroy(handle) }
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
        guard blocks > 1, let handle else {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            var job = BlockJob(count: count, body: escapable)
            withUnsafeMutablePointer(to: &job) { jobPointer in
                ck_pool_run(handle, blockJobThunk, UnsafeMutableRawPointer(jobPointer), Int32(blocks))
            }
        }
    }
}

/// What `forEachBlock` hands to the C pool: the range and the closure.
private struct BlockJob {
    let count: Int
    let body: (Range<Int>) -> Void
}

/// Calls one block of a `BlockJob` from a pool thread.
private let blockJobThunk: ck_task_fn = { raw, part, parts in
    let job = raw!.assumingMemoryBound(to: BlockJob.self).pointee
    let lo = job.count * Int(part) / Int(parts)
    let hi = job.count * (Int(part) + 1) / Int(parts)
    if lo < hi { job.body(lo..<hi) }
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
