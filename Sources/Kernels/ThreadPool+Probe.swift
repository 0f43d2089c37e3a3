import Dispatch

extension ThreadPool {
    /// Runs `body(b)` once for each part b in 0..<parts, spread over the pool's threads,
    /// `repeats` times, and returns the median of `units` ÷ 10⁹ ÷ the seconds each
    /// repeat took (GB/s when `units` is bytes, GFLOP/s when it is operations).
    ///
    /// The probes (`Bandwidth.Probe`, `ComputePeak`) share this: each part runs one C
    /// loop, whose results are summed so the work cannot be optimised away.
    func medianRate(parts: Int, repeats: Int, units: Double, _ body: (Int) -> Float) -> Double {
        var rates: [Double] = []
        var sink: Float = 0
        for _ in 0..<max(1, repeats) {
            var partial = [Float](repeating: 0, count: parts)
            let start = DispatchTime.now().uptimeNanoseconds
            partial.withUnsafeMutableBufferPointer { out in
                let outBase = out.baseAddress!
                forEachBlock(count: parts) { range in
                    for b in range { outBase[b] = body(b) }
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            sink += partial.reduce(0, +)
            rates.append(units / seconds / 1e9)
        }
        // The sum is used so the loops cannot be optimised away.
        if sink.isNaN { print("") }
        return rates.sorted()[rates.count / 2]
    }
}
