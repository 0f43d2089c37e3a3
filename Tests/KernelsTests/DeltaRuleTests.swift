import XCTest

@testable import Kernels

/// The delta-rule kernel against a naive double-precision loop, and its chunking and threading contracts.
final class DeltaRuleTests: XCTestCase {
    func randomFloats(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var s = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (0..<n).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return scale * Float(Int64(bitPattern: s >> 11) % 1_000_000) / 1_000_000
        }
    }

    struct Inputs {
        var r, w, k, v, a, b: [Float]
    }

    func inputs(heads: Int, n: Int, tokens: Int) -> Inputs {
        let count = heads * n * tokens
        // Decays in (0, 1) as the models produce them; the rest in ±1.
        let w = randomFloats(count, seed: 2).map { 0.5 + 0.45 * $0 }
        return Inputs(
            r: randomFloats(count, seed: 1), w: w, k: randomFloats(count, seed: 3),
            v: randomFloats(count, seed: 4), a: randomFloats(count, seed: 5, scale: 0.3),
            b: randomFloats(count, seed: 6, scale: 0.3))
    }

    func run(
        _ x: Inputs, heads: Int, n: Int, tokens: Int, chunks: [Int], pool: ThreadPool
    ) -> (state: [Float], y: [Float]) {
        var state = randomFloats(heads * n * n, seed: 7, scale: 0.5)
        var y = [Float](repeating: .nan, count: heads * n * tokens)
        let ld = heads * n
        var start = 0
        for size in chunks {
            let o = start * ld
            x.r.withUnsafeBufferPointer { r in
                x.w.withUnsafeBufferPointer { w in
                    x.k.withUnsafeBufferPointer { k in
                        x.v.withUnsafeBufferPointer { v in
                            x.a.withUnsafeBufferPointer { a in
                                x.b.withUnsafeBufferPointer { b in
                                    y.withUnsafeMutableBufferPointer { yy in
                                        DeltaRule.run(
                                            state: &state, heads: heads, n: n, tokens: size,
                                            r: r.baseAddress! + o, w: w.baseAddress! + o, k: k.baseAddress! + o,
                                            v: v.baseAddress! + o, a: a.baseAddress! + o, b: b.baseAddress! + o,
                                            y: yy.baseAddress! + o, pool: pool)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            start += size
        }
        return (state, y)
    }

    /// The naive loop, in double precision.
    func reference(_ x: Inputs, heads: Int, n: Int, tokens: Int) -> (state: [Double], y: [Double]) {
        var s = randomFloats(heads * n * n, seed: 7, scale: 0.5).map(Double.init)
        var y = [Double](repeating: 0, count: heads * n * tokens)
        let ld = heads * n
        for t in 0..<tokens {
            for h in 0..<heads {
                let o = t * ld + h * n
                for i in 0..<n {
                    let row = h * n * n + i * n
                    var sa = 0.0
                    for j in 0..<n { sa += s[row + j] * Double(x.a[o + j]) }
                    var acc = 0.0
                    for j in 0..<n {
                        s[row + j] =
                            s[row + j] * Double(x.w[o + j]) + sa * Double(x.b[o + j]) + Double(x.v[o + i])
                            * Double(x.k[o + j])
                        acc += s[row + j] * Double(x.r[o + j])
                    }
                    y[o + i] = acc
                }
            }
        }
        return (s, y)
    }

    /// Every head size shape the code paths distinguish: multiples of 16 and 8, and ragged ones.
    func testMatchesNaiveLoopOnRaggedSizes() {
        for n in [1, 5, 8, 13, 16, 24, 64] {
            let heads = 3, tokens = 5
            let x = inputs(heads: heads, n: n, tokens: tokens)
            let got = run(x, heads: heads, n: n, tokens: tokens, chunks: [tokens], pool: .serial)
            let want = reference(x, heads: heads, n: n, tokens: tokens)
            for (g, w) in zip(got.y, want.y) {
                XCTAssertEqual(Double(g), w, accuracy: 1e-4 * max(1, abs(w)), "head size \(n)")
            }
            for (g, w) in zip(got.state, want.state) {
                XCTAssertEqual(Double(g), w, accuracy: 1e-4 * max(1, abs(w)), "head size \(n)")
            }
        }
    }

    func testPortablePathMatchesNaiveLoop() {
        MatMul.forcePortable(true)
        defer { MatMul.forcePortable(false) }
        testMatchesNaiveLoopOnRaggedSizes()
    }

    /// Token by token, in uneven chunks, and on 1–3 threads: bit-identical.
    func testChunkingAndThreadsAreBitIdentical() {
        let heads = 5, n = 24, tokens = 9
        let x = inputs(heads: heads, n: n, tokens: tokens)
        let whole = run(x, heads: heads, n: n, tokens: tokens, chunks: [tokens], pool: .serial)
        let single = run(
            x, heads: heads, n: n, tokens: tokens, chunks: Array(repeating: 1, count: tokens), pool: .serial)
        XCTAssertEqual(whole.y, single.y)
        XCTAssertEqual(whole.state, single.state)
        for threads in [2, 3] {
            let split = run(
                x, heads: heads, n: n, tokens: tokens, chunks: [4, 2, 3], pool: ThreadPool(threadCount: threads))
            XCTAssertEqual(whole.y, split.y, "\(threads) threads")
            XCTAssertEqual(whole.state, split.state, "\(threads) threads")
        }
    }
}
