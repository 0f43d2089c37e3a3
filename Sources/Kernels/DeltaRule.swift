import CKernels

/// The generalized delta rule, the matrix-valued recurrence of linear-attention RNNs.
///
/// Per head, with an `n × n` state `S` (row i = value channel, column j = key channel):
///
///     sa_i    = Σ_j S[i,j]·a[j]
///     S[i,j]  = S[i,j]·w[j] + sa_i·b[j] + v[i]·k[j]
///     y[i]    = Σ_j S[i,j]·r[j]
///
/// Heads are independent, so they are split across the pool's threads; each head's
/// tokens run in order on one thread, so results do not depend on the thread count
/// or on how a sequence is cut into chunks.
public enum DeltaRule {
    /// Runs `tokens` steps for `heads` heads of size `n`.
    ///
    /// - Parameters:
    ///   - state: [heads][n][n], updated in place.
    ///   - r, w, k, v, a, b: [tokens][heads·n] inputs.
    ///   - y: [tokens][heads·n] outputs.
    public static func run(
        state: UnsafeMutablePointer<Float>, heads: Int, n: Int, tokens: Int,
        r: UnsafePointer<Float>, w: UnsafePointer<Float>, k: UnsafePointer<Float>,
        v: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        y: UnsafeMutablePointer<Float>, pool: ThreadPool = .serial
    ) {
        let ld = heads * n
        // One head of one token is ~4·n² flops; below a few heads the hand-off costs more.
        pool.forEachBlock(count: heads, minimumPerBlock: 2) { range in
            for hh in range {
                let o = hh * n
                ck_delta_rule(
                    state + hh * n * n, Int32(n), Int32(tokens), Int32(ld), r + o, w + o, k + o, v + o,
                    a + o, b + o, y + o)
            }
        }
    }
}
