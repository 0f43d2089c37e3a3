import CKernels

/// Measures this machine's multiply-add throughput, the speed limit of prefill.
///
/// Prefill is matrix-matrix work, so its limit is the arithmetic peak, as memory
/// bandwidth is generation's. The probe runs twelve independent 8-lane FMA chains per
/// thread (scalar ones where the portable kernels run), with no memory traffic, and
/// reports GFLOP/s (10⁹ floating-point operations per second, a multiply-add being
/// two). On this project's VMs the figure moves by a factor of up to 1.7 within
/// seconds (the clock changes), so it is read next to what it is compared with.
public final class ComputePeak {
    private let pool: ThreadPool
    private let threads: Int
    private let iterations: Int

    /// A probe for `threads` threads, each running `iterations` iterations per reading
    /// (the default, 4M, is about 10 ms of FMAs on a 3 GHz core).
    public init(threads: Int = 1, iterations: Int = 4 << 20) {
        self.threads = max(1, threads)
        self.iterations = max(1, iterations)
        pool = ThreadPool(threadCount: self.threads)
    }

    /// Floating-point operations of one reading, all threads together.
    public var flopsPerReading: Double { Double(threads) * Double(iterations) * Double(ck_fma_chains_flops()) }

    /// Runs the chains `repeats` times on every thread and returns the median rate in GFLOP/s.
    public func measure(repeats: Int = 3) -> Double {
        let iterations = iterations
        return pool.medianRate(parts: threads, repeats: repeats, units: flopsPerReading) { _ in
            ck_fma_chains(iterations)
        }
    }
}
