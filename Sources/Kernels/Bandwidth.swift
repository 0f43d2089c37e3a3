import CKernels
import Foundation

/// Measures this machine's memory read bandwidth, the speed limit of token generation.
public enum Bandwidth {
    /// Reads a `megabytes` buffer `repeats` times with `threads` threads and returns the
    /// median rate in GB/s (10⁹ bytes per second). The buffer is far larger than the
    /// caches, so the figure is main-memory bandwidth.
    public static func measure(megabytes: Int = 1024, threads: Int = 1, repeats: Int = 5) -> Double {
        Probe(megabytes: megabytes, threads: threads).measure(repeats: repeats)
    }

    /// A bandwidth probe that keeps its buffer and threads, so that it can be read many
    /// times in one run (between rounds of generation, say) without paying for the
    /// allocation again.
    public final class Probe {
        // The probe reads one contiguous buffer; [count] floats, far larger than the caches.
        private let buffer: FloatBuffer
        private let count: Int
        private let pool: ThreadPool
        private let threads: Int

        /// Allocates and touches a `megabytes` buffer read by `threads` threads.
        public init(megabytes: Int = 1024, threads: Int = 1) {
            count = megabytes << 18  // floats
            buffer = FloatBuffer(count: count)
            // One write per page makes every page resident before the first timing.
            for i in stride(from: 0, to: count, by: 1024) { buffer.pointer[i] = 1 }
            self.threads = max(1, threads)
            pool = ThreadPool(threadCount: self.threads)
        }

        /// Reads the buffer `repeats` times and returns the median rate in GB/s.
        public func measure(repeats: Int = 3) -> Double {
            let (count, threads, base) = (count, threads, buffer.pointer)
            return pool.medianRate(parts: threads, repeats: repeats, units: Double(count * 4)) { b in
                let lo = count * b / threads
                let hi = count * (b + 1) / threads
                return ck_stream_sum(base + lo, hi - lo)
            }
        }
    }
}
