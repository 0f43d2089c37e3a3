import XCTest

@testable import Kernels

/// Q8_0 products (16-bit activations, matmul_q8_0.c) against their order written out
/// in Swift, on every kernel path, and against the exact product.
final class Q8_0Tests: XCTestCase {
    /// Random Q8_0 rows: `rows × blocks` blocks of an fp16 scale and 32 signed bytes.
    func randomRows(rows: Int, blocks: Int, _ g: inout SystemRandomNumberGenerator) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<(rows * blocks) {
            let d = Float16(Float.random(in: 0.01...0.2, using: &g)).bitPattern
            bytes += [UInt8(d & 0xFF), UInt8(d >> 8)]
            bytes += (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        }
        return bytes
    }

    func scale(_ bytes: [UInt8], _ b: Int) -> Float {
        Float(Float16(bitPattern: UInt16(bytes[b]) | UInt16(bytes[b + 1]) << 8))
    }

    func quant(_ bytes: [UInt8], _ i: Int) -> Int32 { Int32(Int8(bitPattern: bytes[i])) }

    /// One token's output for every row, in the order of matmul_q8_0.c: activations
    /// rounded to int16 on the token's scale, exact pair sums in 16 lanes, fused
    /// multiply-adds into even and odd accumulators, the fixed reduction tree, × s.
    func reference(_ bytes: [UInt8], rows: Int, cols: Int, _ x: ArraySlice<Float>) -> [Float] {
        let x = Array(x)
        var m: Float = 0
        var finite = true
        for v in x {
            if !(abs(v) <= .greatestFiniteMagnitude) { finite = false } else { m = max(m, abs(v)) }
        }
        var a = [Int32](repeating: 0, count: cols)
        let s: Float
        if !finite {
            s = .nan
        } else if m < 1e-30 {
            s = 0
        } else {
            let inv = Float(32767) / m
            for i in 0..<cols { a[i] = Int32((x[i] * inv).rounded(.toNearestOrEven)) }
            s = m / 32767
        }
        let blocks = cols / 32
        return (0..<rows).map { r in
            var acc = [[Float]](repeating: [Float](repeating: 0, count: 16), count: 2)
            for k in 0..<blocks {
                let b = (r * blocks + k) * 34
                let d = scale(bytes, b)
                for l in 0..<16 {
                    let even: Int32 = quant(bytes, b + 2 + 2 * l) * a[32 * k + 2 * l]
                    let odd: Int32 = quant(bytes, b + 3 + 2 * l) * a[32 * k + 2 * l + 1]
                    let p = even + odd
                    acc[k & 1][l] = acc[k & 1][l].addingProduct(Float(p), d)
                }
            }
            var u = [Float](repeating: 0, count: 8)
            for l in 0..<8 {
                let low: Float = acc[0][l] + acc[1][l]
                let high: Float = acc[0][l + 8] + acc[1][l + 8]
                u[l] = low + high
            }
            // hsum8: lanes (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1.
            let s4: [Float] = [u[0] + u[4], u[1] + u[5], u[2] + u[6], u[3] + u[7]]
            let sum: Float = (s4[0] + s4[2]) + (s4[1] + s4[3])
            return sum * s
        }
    }

    func run(_ bytes: [UInt8], rows: Int, cols: Int, _ x: [Float], tokens: Int, threads: Int = 1) -> [Float] {
        var y = [Float](repeating: .nan, count: tokens * rows)
        bytes.withUnsafeBytes { raw in
            let w = WeightMatrix(type: .q8_0, base: raw.baseAddress!, rows: rows, cols: cols)
            MatMul.tokens(w, x, ldx: cols, count: tokens, &y, ldy: rows, pool: ThreadPool(threadCount: threads))
        }
        return y
    }

    /// Every path (AVX-512, AVX2, portable) equals the Swift reference bit for bit, for
    /// rows with an odd and an even number of blocks, 131 rows (a ragged quad), 1 and
    /// 13 tokens (a group of 8 and a ragged group of 5), tokens of very different
    /// magnitudes, and one to three threads.
    func testEveryPathEqualsTheReferenceBitForBit() {
        var g = SystemRandomNumberGenerator()
        for blocks in [1, 2, 3, 24] {
            let rows = 131, cols = 32 * blocks, tokens = 13
            let bytes = randomRows(rows: rows, blocks: blocks, &g)
            let x = (0..<(tokens * cols)).map { i in
                Float.random(in: -1...1, using: &g) * Float([1e-3, 0.1, 1, 30, 2e4][(i / cols) % 5])
            }
            var want: [Float] = []
            for t in 0..<tokens { want += reference(bytes, rows: rows, cols: cols, x[(t * cols)..<((t + 1) * cols)]) }
            for (name, on, off) in KernelPaths.all {
                on()
                let many = run(bytes, rows: rows, cols: cols, x, tokens: tokens)
                let threaded = run(bytes, rows: rows, cols: cols, x, tokens: tokens, threads: 3)
                let one = run(bytes, rows: rows, cols: cols, Array(x[0..<cols]), tokens: 1)
                off()
                XCTAssertEqual(many, want, "\(name), \(blocks) blocks per row, 13 tokens")
                XCTAssertEqual(threaded, want, "\(name), 3 threads")
                XCTAssertEqual(one, Array(want[0..<rows]), "\(name), one token")
            }
        }
    }

    /// Rounding the activations moves each by at most max|x| / 65534, so an output is
    /// within Σ|w|·max|x|/65534 (plus float rounding) of the exact product of the
    /// dequantized weights.
    func testOutputsStayWithinTheActivationRoundingOfTheExactProduct() {
        var g = SystemRandomNumberGenerator()
        let rows = 64, blocks = 24, cols = 768
        let bytes = randomRows(rows: rows, blocks: blocks, &g)
        // One large activation among small ones: the case a per-token scale handles worst.
        var x = (0..<cols).map { _ in Float.random(in: -1...1, using: &g) }
        x[100] = 40
        let y = run(bytes, rows: rows, cols: cols, x, tokens: 1)
        for r in 0..<rows {
            var exact = 0.0, weights = 0.0, terms = 0.0
            for k in 0..<blocks {
                let b = (r * blocks + k) * 34
                let d = Double(scale(bytes, b))
                for j in 0..<32 {
                    let w = Double(quant(bytes, b + 2 + j)) * d
                    exact += w * Double(x[32 * k + j])
                    weights += abs(w)
                    terms += abs(w * Double(x[32 * k + j]))
                }
            }
            let bound = weights * 40 / 65534 * 1.001 + 1e-5 * terms
            XCTAssertEqual(Double(y[r]), exact, accuracy: bound, "row \(r)")
        }
    }

    /// A token with a NaN or an infinity gives NaN outputs (as the float product would
    /// give non-finite ones) without touching its neighbours; zeros and values too small
    /// to scale give zeros.
    func testNonFiniteAndZeroTokens() {
        var g = SystemRandomNumberGenerator()
        let rows = 9, blocks = 2, cols = 64
        let bytes = randomRows(rows: rows, blocks: blocks, &g)
        let normal = (0..<cols).map { _ in Float.random(in: -1...1, using: &g) }
        var nan = normal, inf = normal
        nan[5] = .nan
        inf[40] = -.infinity
        let zero = [Float](repeating: 0, count: cols)
        let tiny = [Float](repeating: 1e-33, count: cols)
        let x = normal + nan + inf + zero + tiny + normal
        for (name, on, off) in KernelPaths.all {
            on()
            let y = run(bytes, rows: rows, cols: cols, x, tokens: 6)
            off()
            let token = { (t: Int) in Array(y[(t * rows)..<((t + 1) * rows)]) }
            XCTAssertEqual(token(0), reference(bytes, rows: rows, cols: cols, normal[...]), name)
            XCTAssertTrue(token(1).allSatisfy { $0.isNaN }, "\(name): NaN input")
            XCTAssertTrue(token(2).allSatisfy { $0.isNaN }, "\(name): infinite input")
            XCTAssertEqual(token(3), [Float](repeating: 0, count: rows), "\(name): zeros")
            XCTAssertEqual(token(4), [Float](repeating: 0, count: rows), "\(name): below 1e-30")
            XCTAssertEqual(token(5), token(0), "\(name): a token after bad ones")
        }
    }

    /// Q8_0 products in a batch round their inputs once per distinct input; products
    /// sharing one input, or reading different inputs of the same shape, still equal
    /// each product run alone, for any thread count, with and without stealing.
    func testBatchesWithSharedInputsEqualProductsRunAlone() {
        var g = SystemRandomNumberGenerator()
        let rows = [200, 72, 133], blocks = 6, cols = 192
        let weights = rows.map { randomRows(rows: $0, blocks: blocks, &g) }
        for tokens in [1, 11] {
            let x0 = UnsafeMutablePointer<Float>.allocate(capacity: tokens * cols)
            let x1 = UnsafeMutablePointer<Float>.allocate(capacity: tokens * cols)
            for i in 0..<(tokens * cols) {
                x0[i] = Float.random(in: -2...2, using: &g)
                x1[i] = Float.random(in: -0.5...0.5, using: &g)
            }
            // Products 0 and 1 read x0, product 2 reads x1.
            let inputs = [x0, x0, x1]
            let w = weights.map { bytes -> UnsafeMutableRawPointer in
                let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
                p.copyMemory(from: bytes, byteCount: bytes.count)
                return p
            }
            let y = rows.map { UnsafeMutablePointer<Float>.allocate(capacity: tokens * $0) }
            defer {
                x0.deallocate()
                x1.deallocate()
                w.forEach { $0.deallocate() }
                y.forEach { $0.deallocate() }
            }
            let alone = rows.indices.map { k in
                run(
                    weights[k], rows: rows[k], cols: cols,
                    Array(UnsafeBufferPointer(start: inputs[k], count: tokens * cols)), tokens: tokens)
            }
            let products = rows.indices.map { k in
                MatMul.Product(WeightMatrix(type: .q8_0, base: w[k], rows: rows[k], cols: cols), inputs[k], y[k])
            }
            for (threads, late) in [(1, false), (2, false), (3, false), (2, true)] {
                for k in rows.indices { y[k].update(repeating: .nan, count: tokens * rows[k]) }
                MatMul.delayWorkersForTesting(late)
                MatMul.batch(products, count: tokens, pool: ThreadPool(threadCount: threads))
                MatMul.delayWorkersForTesting(false)
                for k in rows.indices {
                    XCTAssertEqual(
                        Array(UnsafeBufferPointer(start: y[k], count: tokens * rows[k])), alone[k],
                        "product \(k), \(tokens) tokens, \(threads) threads, late workers \(late)")
                }
            }
        }
    }
}
