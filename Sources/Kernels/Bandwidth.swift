import CKernels
import Dispatch
import Foundation

/// Measures this machine's memory read bandwidth, the speed limit of token generation.
public enum Bandwidth {
    /// Reads a `megabytes` buffer `repeats` times with `threads` threads and returns the
    /// median rate in GB/s (10⁹ bytes per second). The buffer is far larger than the
    /// caches, so the figure is main-memory bandwidth.
    public static func measure(megabytes: Int = 1024, threads: Int = 1, repeats: Int = 5) -> Double {
        let count = megabytes << 18  // floats
        let buffer = FloatBuffer(count: count)
        for i in stride(from: 0, to: count, by: 1024) { buffer.pointer[i] = 1 }
        let pool = ThreadPool(threadCount: threads)
        var rates: [Double] = []
        var sink: Float = 0
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            var partial = [Float](repeating: 0, count: threads)
            partial.withUnsafeMutableBufferPointer { out in
                let outBase = out.baseAddress!
                pool.forEachBlock(count: threads) { range in
                    for b in range {
                        let lo = count * b / threads
                        let hi = count * (b + 1) / threads
                        outBase[b] = ck_stream_sum(buffer.pointer + lo, hi - lo)
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
