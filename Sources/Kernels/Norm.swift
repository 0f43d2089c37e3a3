/// Normalisation layers over float32 vectors.
public enum Norm {
    /// Layer norm of one vector: `out = (x − mean) / sqrt(var + eps) · weight + bias`.
    ///
    /// Mean and (biased) variance are accumulated in Double so that the result is
    /// as close to the exact value as float32 output allows. `out` may alias `x`.
    /// x, weight, bias, out: [n].
    @inlinable
    public static func layer(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        eps: Float, count n: Int, out: UnsafeMutablePointer<Float>
    ) {
        var mean = 0.0
        for i in 0..<n { mean += Double(x[i]) }
        mean /= Double(n)
        var variance = 0.0
        for i in 0..<n {
            let d = Double(x[i]) - mean
            variance += d * d
        }
        variance /= Double(n)
        let inv = Float(1.0 / (variance + Double(eps)).squareRoot())
        let m = Float(mean)
        for i in 0..<n { out[i] = (x[i] - m) * inv * weight[i] + bias[i] }
    }

    /// Layer norm of each of `rows` rows of `width` values (x, out: [rows][width]; out may alias x).
    @inlinable
    public static func layerRows(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        eps: Float, out: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<rows {
            layer(x + i * width, weight: weight, bias: bias, eps: eps, count: width, out: out + i * width)
        }
    }

    /// Group norm: `groups` consecutive groups of `count / groups` channels, each
    /// layer-normed on its own, then scaled by `weight` and shifted by `bias`
    /// (both [count], per channel). `out` may alias `x`.
    @inlinable
    public static func group(
        _ x: UnsafePointer<Float>, groups: Int, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, eps: Float, count: Int, out: UnsafeMutablePointer<Float>
    ) {
        let size = count / groups
        for g in 0..<groups {
            let o = g * size
            layer(x + o, weight: weight + o, bias: bias + o, eps: eps, count: size, out: out + o)
        }
    }
}
