import CKernels
import Dispatch
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
            var rates: [Double] = []
            var sink: Float = 0
            let (count, threads, base) = (count, threads, buffer.pointer)
            for _ in 0..<max(1, repeats) {
                let start = DispatchTime.now().uptimeNanoseconds
                var partial = [Float](repeating: 0, count: threads)
                partial.withUnsafeMutableBufferPointer { out in
                    let outBase = out.baseAddress!
                    pool.forEachBlock(count: threads) { range in
                        for b in range {
                            let lo = count * b / threads
                            let hi = count * (b + 1) / threads
                            outBase[b] = ck_stream_sum(base + lo, hi - lo)
                        }
                    }
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                sink += partial.reduce(0, +)
                rates.append(Double(count * 4) / seconds / 1e9)
            }
            // The sum is used so the reads cannot be optimised away.
            if sink.isNaN { print("") }
            return rates.sorted()[rates.count / 2]
        }
    }
}
