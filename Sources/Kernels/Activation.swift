import Foundation

/// Element-wise activation functions over float32.
public enum Activation {
    /// The logistic sigmoid `1 / (1 + e^−x)`.
    @inlinable
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// Applies `sigmoid` in place to `x[0..<n]`.
    @inlinable
    public static func sigmoid(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] = sigmoid(x[i]) }
    }

    /// Applies `tanh` in place to `x[0..<n]`.
    @inlinable
    public static func tanh(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] = tanhf(x[i]) }
    }

    /// Applies `max(x, 0)²` in place to `x[0..<n]` (RWKV's squared ReLU).
    @inlinable
    public static func squaredReLU(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n {
            let r = max(x[i], 0)
            x[i] = r * r
        }
    }

    /// Numerically stable log-softmax of `x[0..<n]` into `out` (may alias `x`).
    public static func logSoftmax(_ x: UnsafePointer<Float>, count n: Int, out: UnsafeMutablePointer<Float>) {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, x[i]) }
        var s = 0.0
        for i in 0..<n { s += Double(expf(x[i] - m)) }
        // Subtracting the maximum first keeps the result exact for large logits,
        // where m + log(s) would be rounded to the spacing of floats near m.
        let logSum = Float(Foundation.log(s))
        for i in 0..<n { out[i] = (x[i] - m) - logSum }
    }
}
