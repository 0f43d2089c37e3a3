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

    func testQuantizedProductsEqualTheFloatProductOfDequantizedRowsAtAnyTokenAndThreadCount() {
        var g = SystemRandomNumberGenerator()
        // Q8_0 runs on 16-bit activations in its own order (Q8_0Tests).
        for type in types where type != .q8_0 {
            // More than 64 rows, so two threads really split them; 3 blocks per row.
            let rows = 150, cols = 96
            var bytes: [UInt8] = []
            var values: [Float] = []
            for _ in 0..<(rows * cols / 32) {
                let (b, v) = block(type, &g)
                bytes += b
                values += v
            }
            // 13 tokens: a full group of 8 in the AVX-512 kernel and a ragged one of 5.
            let x = (0..<(13 * cols)).map { _ in Float.random(in: -1...1, using: &g) }
            func run(_ w: WeightMatrix, tokens: Int, threads: Int) -> [Float] {
                var y = [Float](repeating: 0, count: tokens * rows)
                MatMul.tokens(w, x, ldx: cols, count: tokens, &y, ldy: rows, pool: ThreadPool(threadCount: threads))
                return y
            }
            // The AVX-512 kernels keep the AVX2 kernels' lanes, so both must give exactly
            // the float product.
            for forceAVX2 in [false, true] {
                MatMul.forceAVX2(forceAVX2)
                defer { MatMul.forceAVX2(false) }
                let q = bytes.withUnsafeBytes { raw in
                    let w = WeightMatrix(type: type, base: raw.baseAddress!, rows: rows, cols: cols)
                    return (
                        run(w, tokens: 13, threads: 1), run(w, tokens: 13, threads: 2), run(w, tokens: 1, threads: 1)
                    )
                }
                let f = values.withUnsafeBytes { raw in
                    run(
                        WeightMatrix(type: .f32, base: raw.baseAddress!, rows: rows, cols: cols), tokens: 13, threads: 1
                    )
                }
                let path = forceAVX2 ? "AVX2" : (MatMul.hasAVX512 ? "AVX-512" : "AVX2")
                XCTAssertEqual(q.0, f, "\(type) \(path): quantized product == float product of the dequantized weights")
                XCTAssertEqual(q.0, q.1, "\(type) \(path): thread count")
                XCTAssertEqual(Array(q.0.prefix(rows)), q.2, "\(type) \(path): one token == many")
            }
        }
    }
}
