import CKernels
import Foundation

/// Element-wise activation functions over float32.
public enum Activation {
    /// The logistic sigmoid `1 / (1 + e^−x)`.
    @inlinable
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// Applies `sigmoid` in place to `x[0..<n]`, eight at a time (`ck_sigmoid`).
    ///
    /// The array versions use CKernels' vectorised exponential, not libm's, so they
    /// may differ from the scalar `sigmoid` in the last bits; each element's value
    /// does not depend on the array's length or its position in it.
    public static func sigmoid(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        ck_sigmoid(x, n)
    }

    /// Applies `tanh` in place to `x[0..<n]` (absolute error below 1e-7).
    public static func tanh(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        ck_tanh(x, n)
    }

    /// Applies `e^x` in place to `x[0..<n]` (within 2 ulp; arguments clamped to [−87.3, 88.3]).
    public static func exp(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        ck_exp(x, n)
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
