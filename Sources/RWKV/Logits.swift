import Foundation

/// Operations on a logit vector.
public enum Logits {
    /// The `k` largest logits as (token, logit), largest first; ties go to the lower id.
    public static func top(_ logits: ArraySlice<Float>, k: Int) -> [(token: Int, logit: Float)] {
        var best: [(token: Int, logit: Float)] = []
        for (i, v) in logits.enumerated() {
            if best.count < k || v > best[best.count - 1].logit {
                var pos = best.count
                while pos > 0 && best[pos - 1].logit < v { pos -= 1 }
                best.insert((i, v), at: pos)
                if best.count > k { best.removeLast() }
            }
        }
        return best
    }

    /// `−log softmax(logits)[target]` in nats.
    public static func negativeLogLikelihood(_ logits: ArraySlice<Float>, target: Int) -> Double {
        var m = -Float.infinity
        for v in logits { m = max(m, v) }
        var sum = 0.0
        for v in logits { sum += Double(expf(v - m)) }
        return (Double(m) + Foundation.log(sum)) - Double(logits[logits.startIndex + target])
    }
}
