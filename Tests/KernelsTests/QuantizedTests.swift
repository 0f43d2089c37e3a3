import XCTest

@testable import Kernels

/// Block formats decoded by hand in Swift (the scalar reference), against the C kernels.
final class QuantizedTests: XCTestCase {
    func half(_ v: Float) -> [UInt8] {
        let b = Float16(v).bitPattern
        return [UInt8(b & 0xFF), UInt8(b >> 8)]
    }

    /// A random block of `type` and its values computed from the ggml formulas.
    func block(_ type: WeightType, _ g: inout SystemRandomNumberGenerator) -> ([UInt8], [Float]) {
        let d = Float(Float16(Float.random(in: 0.01...0.2, using: &g)))
        let m = Float(Float16(Float.random(in: -1...1, using: &g)))
        let qs = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        switch type {
        case .q8_0:
            return (half(d) + qs, qs.map { Float(Int8(bitPattern: $0)) * d })
        case .q4_0, .q4_1:
            let nib = (0..<32).map { qs[$0] & 0x0F }
            let packed = (0..<16).map { nib[$0] | (nib[$0 + 16] << 4) }
            let vals = nib.map { type == .q4_0 ? Float(Int($0) - 8) * d : Float($0) * d + m }
            return ((type == .q4_0 ? half(d) : half(d) + half(m)) + packed, vals)
        default:
            let q = (0..<32).map { Int(qs[$0] & 0x1F) }
            var qh: UInt32 = 0
            for j in 0..<32 where q[j] & 0x10 != 0 { qh |= 1 << UInt32(j) }
            let packed = (0..<16).map { UInt8(q[$0] & 0x0F) | UInt8((q[$0 + 16] & 0x0F) << 4) }
            let high = [UInt8(qh & 0xFF), UInt8((qh >> 8) & 0xFF), UInt8((qh >> 16) & 0xFF), UInt8(qh >> 24)]
            let vals = q.map { type == .q5_0 ? Float($0 - 16) * d : Float($0) * d + m }
            return ((type == .q5_0 ? half(d) : half(d) + half(m)) + high + packed, vals)
        }
    }

    let types: [WeightType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0]

    func testDequantizationMatchesTheFormulas() {
        var g = SystemRandomNumberGenerator()
        for type in types {
            for _ in 0..<20 {
                let (bytes, want) = block(type, &g)
                XCTAssertEqual(bytes.count, type.blockBytes, "\(type)")
                var got = [Float](repeating: 0, count: 32)
                bytes.withUnsafeBytes { Convert.toFloat32(type, $0.baseAddress!, &got, count: 32) }
                XCTAssertEqual(got, want, "\(type)")
            }
        }
        XCTAssertEqual(WeightType.q8_0.bitsPerWeight, 8.5)
        XCTAssertEqual(WeightType.q4_0.bitsPerWeight, 4.5)
    }

    /// One Q4/Q5 block as its kernels read it: unsigned quants in element order, the
    /// scale, and the term multiplied by the block's activation sum (the minimum, or
    /// −offset·d for the _0 types).
    func parse(_ type: WeightType, _ b: ArraySlice<UInt8>) -> (q: [Int32], d: Float, min: Float) {
        let b = Array(b)
        func half(_ i: Int) -> Float { Float(Float16(bitPattern: UInt16(b[i]) | UInt16(b[i + 1]) << 8)) }
        let d = half(0)
        let (qs, qh, min): (Int, UInt32, Float)
        switch type {
        case .q4_0: (qs, qh, min) = (2, 0, -8 * d)
        case .q4_1: (qs, qh, min) = (4, 0, half(2))
        case .q5_0: (qs, qh, min) = (6, (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[2 + $1]) << (8 * $1) }, -16 * d)
        default: (qs, qh, min) = (8, (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[4 + $1]) << (8 * $1) }, half(2))
        }
        let q = (0..<32).map { e -> Int32 in
            let nibble = e < 16 ? b[qs + e] & 0x0F : b[qs + e - 16] >> 4
            return Int32(nibble) | Int32((qh >> UInt32(e)) & 1) << 4
        }
        return (q, d, min)
    }

    /// One token's outputs in the order of matmul_q45.c: activations rounded to 24-bit
    /// integers on the token's scale, exact sums of four products per lane, fused multiply-adds into even and odd
    /// accumulators, one scalar chain for the block sums, the fixed tree, + chain, × s.
    func reference(_ type: WeightType, _ bytes: [UInt8], rows: Int, cols: Int, _ x: ArraySlice<Float>) -> [Float] {
        let x = Array(x)
        let range: Float = 8_355_711
        let m = x.map { abs($0) }.max()!
        let s = m / range
        let inv = range / m
        let a = x.map { Int32(max(-range, min(range, ($0 * inv).rounded(.toNearestOrEven)))) }
        let blocks = cols / 32, bb = type.blockBytes
        return (0..<rows).map { r in
            var acc = [[Float]](repeating: [Float](repeating: 0, count: 8), count: 2)
            var chain: Float = 0
            for k in 0..<blocks {
                let start = (r * blocks + k) * bb
                let (q, d, min) = parse(type, bytes[start..<(start + bb)])
                for j in 0..<8 {
                    var p: Int32 = 0
                    for e in (4 * j)..<(4 * j + 4) { p += q[e] * a[32 * k + e] }
                    acc[k & 1][j] = acc[k & 1][j].addingProduct(Float(p), d)
                }
                let sum = a[(32 * k)..<(32 * k + 32)].reduce(Int32(0), +)
                chain = chain.addingProduct(min, Float(sum))
            }
            let u = (0..<8).map { acc[0][$0] + acc[1][$0] }
            let s4: [Float] = [u[0] + u[4], u[1] + u[5], u[2] + u[6], u[3] + u[7]]
            let total: Float = (s4[0] + s4[2]) + (s4[1] + s4[3])
            return (total + chain) * s
        }
    }

    /// Q4/Q5 products equal their order written out in Swift bit for bit on every path
    /// (AVX-512 VNNI, AVX2, portable), for one token and for 13 (a group of 8 and a
    /// ragged group of 5 on AVX-512, of 4 and a ragged 1 on AVX2), at one and three
    /// threads; and they stay within the activation rounding of the exact product of
    /// ggml's dequantized weights.
    func testQ4Q5ProductsEqualTheReferenceOnEveryPathAndStayCloseToTheExactProduct() {
        var g = SystemRandomNumberGenerator()
        for type in types where type != .q8_0 {
            // More than 64 rows (so three threads really split them) and not a multiple
            // of 4; 3 blocks per row (an odd count).
            let rows = 150, cols = 96, tokens = 13
            var bytes: [UInt8] = []
            var values: [Float] = []
            for _ in 0..<(rows * cols / 32) {
                let (b, v) = block(type, &g)
                bytes += b
                values += v
            }
            let x = (0..<(tokens * cols)).map { i in
                Float.random(in: -1...1, using: &g) * Float([1e-3, 0.1, 1, 30, 2e4][(i / cols) % 5])
            }
            var want: [Float] = []
            for t in 0..<tokens {
                want += reference(type, bytes, rows: rows, cols: cols, x[(t * cols)..<((t + 1) * cols)])
            }
            func run(_ input: [Float], tokens: Int, threads: Int) -> [Float] {
                var y = [Float](repeating: .nan, count: tokens * rows)
                bytes.withUnsafeBytes { raw in
                    let w = WeightMatrix(type: type, base: raw.baseAddress!, rows: rows, cols: cols)
                    MatMul.tokens(
                        w, input, ldx: cols, count: tokens, &y, ldy: rows, pool: ThreadPool(threadCount: threads))
                }
                return y
            }
            for (name, on, off) in KernelPaths.all {
                on()
                let many = run(x, tokens: tokens, threads: 1)
                let threaded = run(x, tokens: tokens, threads: 3)
                let one = run(Array(x[0..<cols]), tokens: 1, threads: 1)
                off()
                XCTAssertEqual(many, want, "\(type) \(name): 13 tokens")
                XCTAssertEqual(threaded, want, "\(type) \(name): 3 threads")
                XCTAssertEqual(one, Array(want[0..<rows]), "\(type) \(name): one token")
            }
            // Each activation moves by at most about max|x| / 16.7M.
            for t in 0..<tokens {
                let xt = Array(x[(t * cols)..<((t + 1) * cols)])
                let m = Double(xt.map { abs($0) }.max()!)
                for r in 0..<rows {
                    var exact = 0.0, weights = 0.0, terms = 0.0
                    for c in 0..<cols {
                        let w = Double(values[r * cols + c])
                        exact += w * Double(xt[c])
                        weights += abs(w)
                        terms += abs(w * Double(xt[c]))
                    }
                    let bound = weights * m / 8_355_711 + 1e-5 * (terms + weights * m)
                    XCTAssertEqual(Double(want[t * rows + r]), exact, accuracy: bound, "\(type) token \(t) row \(r)")
                }
            }
        }
    }
}
