import XCTest

@testable import Kernels

/// Float matrices stored as column panels: the same results as their panels run as
/// ordinary row-major products and added in panel order, on every path, for every
/// thread count and token count.
final class PanelTests: XCTestCase {
    struct Shape: CustomStringConvertible {
        let rows: Int
        let cols: Int
        let type: WeightType
        var description: String { "\(rows)×\(cols) \(type)" }
    }

    // Three panels with a 35-column last one (a remainder of 8-lane groups and a
    // scalar tail) and enough rows for several row blocks and a split across threads,
    // exactly two panels, and one column past a single panel.
    let shapes = [
        Shape(rows: 150, cols: 4131, type: .f16), Shape(rows: 70, cols: 4096, type: .bf16),
        Shape(rows: 9, cols: 2049, type: .f32),
    ]

    /// Row-major bytes of a shape and the matrix laid out in panels (which owns `panelled`'s memory).
    func make(_ s: Shape) -> (rowMajor: [UInt8], panels: UnsafeMutableRawPointer, matrix: WeightMatrix) {
        let bytes = TestWeights.store(
            TestWeights.randomFloats(s.rows * s.cols, seed: UInt64(s.rows * 13 + s.cols)), as: s.type
        )
        .bytes
        let dst = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        let m = bytes.withUnsafeBytes {
            WeightMatrix.panelled(s.type, rows: s.rows, cols: s.cols, from: $0.baseAddress!, into: dst)
        }
        return (bytes, dst, m)
    }

    /// The panels run one by one as row-major products (from the row-major bytes, so the
    /// layout itself is checked too) and added in panel order: ((P0 + P1) + P2) …
    func reference(_ s: Shape, rowMajor: [UInt8], x: [Float], tokens: Int) -> [Float] {
        var y = [Float](repeating: 0, count: tokens * s.rows)
        let width = s.type.byteWidth
        for start in stride(from: 0, to: s.cols, by: WeightMatrix.panelWidth) {
            let w = min(WeightMatrix.panelWidth, s.cols - start)
            // Panel `start` as its own packed row-major matrix.
            var piece = [UInt8]()
            for r in 0..<s.rows {
                piece += rowMajor[((r * s.cols + start) * width)..<((r * s.cols + start + w) * width)]
            }
            var part = [Float](repeating: .nan, count: tokens * s.rows)
            piece.withUnsafeBytes { raw in
                x.withUnsafeBufferPointer { xb in
                    MatMul.tokens(
                        WeightMatrix(type: s.type, base: raw.baseAddress!, rows: s.rows, cols: w),
                        xb.baseAddress! + start, ldx: s.cols, count: tokens, &part, ldy: s.rows)
                }
            }
            if start == 0 {
                y = part
            } else {
                for i in 0..<y.count { y[i] = y[i] + part[i] }
            }
        }
        return y
    }

    func testPanelledProductsEqualTheirPanelsAddedInOrderOnEveryPathAndThreadCount() {
        for s in shapes {
            let (rowMajor, dst, m) = make(s)
            defer { dst.deallocate() }
            XCTAssertEqual(m.panelColumns, WeightMatrix.panelWidth)
            for tokens in [1, 2, 5, 13, 50] {
                let x = TestWeights.randomFloats(tokens * s.cols, seed: 7)
                let want = reference(s, rowMajor: rowMajor, x: x, tokens: tokens)
                // The sum is also close to the exact product (a layout mistake would not be).
                let stored = TestWeights.store(
                    TestWeights.randomFloats(s.rows * s.cols, seed: UInt64(s.rows * 13 + s.cols)), as: s.type
                ).stored
                for t in [0, tokens - 1] {
                    for r in [0, s.rows / 2, s.rows - 1] {
                        var exact = 0.0
                        for i in 0..<s.cols { exact += Double(stored[r * s.cols + i]) * Double(x[t * s.cols + i]) }
                        XCTAssertEqual(Double(want[t * s.rows + r]), exact, accuracy: 1e-3, "\(s) row \(r)")
                    }
                }
                for path in KernelPaths.all {
                    path.on()
                    defer { path.off() }
                    // The float paths agree with each other only to rounding (their
                    // horizontal sums differ), so each is held to its own panels.
                    let want = reference(s, rowMajor: rowMajor, x: x, tokens: tokens)
                    for threads in [1, 2, 3] {
                        var got = [Float](repeating: .nan, count: tokens * s.rows)
                        MatMul.tokens(
                            m, x, ldx: s.cols, count: tokens, &got, ldy: s.rows, pool: ThreadPool(threadCount: threads))
                        XCTAssertEqual(got, want, "\(s) tokens \(tokens) \(path.name) threads \(threads)")
                    }
                }
            }
        }
    }

    /// In a batch beside row-major products, with strided inputs and outputs, a panelled
    /// product gives what it gives alone.
    func testPanelledProductInABatchEqualsItAlone() {
        let s = shapes[0]
        let (_, dst, m) = make(s)
        defer { dst.deallocate() }
        let small = TestWeights.store(TestWeights.randomFloats(40 * 64, seed: 3), as: .f16).bytes
        for tokens in [1, 9] {
            let ldx = s.cols + 5, ldy = s.rows + 3
            let x = TestWeights.randomFloats(tokens * ldx, seed: 11)
            var alone = [Float](repeating: .nan, count: tokens * ldy)
            MatMul.tokens(m, x, ldx: ldx, count: tokens, &alone, ldy: ldy)
            for threads in [1, 2, 3] {
                var inBatch = [Float](repeating: .nan, count: tokens * ldy)
                var other = [Float](repeating: .nan, count: tokens * 40)
                small.withUnsafeBytes { raw in
                    x.withUnsafeBufferPointer { xb in
                        inBatch.withUnsafeMutableBufferPointer { yb in
                            other.withUnsafeMutableBufferPointer { ob in
                                let row = WeightMatrix(type: .f16, base: raw.baseAddress!, rows: 40, cols: 64)
                                MatMul.batch(
                                    [
                                        .init(row, xb.baseAddress!, ldx: ldx, ob.baseAddress!),
                                        .init(m, xb.baseAddress!, ldx: ldx, yb.baseAddress!, ldy: ldy),
                                    ], count: tokens, pool: ThreadPool(threadCount: threads))
                            }
                        }
                    }
                }
                for t in 0..<tokens {
                    XCTAssertEqual(
                        Array(inBatch[(t * ldy)..<(t * ldy + s.rows)]), Array(alone[(t * ldy)..<(t * ldy + s.rows)]),
                        "token \(t) threads \(threads)")
                }
            }
        }
    }

    func testCopyRowReadsThePanelsBackInColumnOrder() {
        for s in shapes {
            let (rowMajor, dst, m) = make(s)
            defer { dst.deallocate() }
            rowMajor.withUnsafeBytes { raw in
                let plain = WeightMatrix(type: s.type, base: raw.baseAddress!, rows: s.rows, cols: s.cols)
                for r in [0, 1, s.rows - 1] {
                    var a = [Float](repeating: 0, count: s.cols), b = a
                    plain.copyRow(r, into: &a)
                    m.copyRow(r, into: &b)
                    XCTAssertEqual(a, b, "\(s) row \(r)")
                }
            }
        }
    }

    /// Random blocks of a ggml type with sane scales (d = 0.01, m = −0.05).
    func quantizedBytes(_ type: WeightType, rows: Int, cols: Int, seed: UInt64) -> [UInt8] {
        let random = TestWeights.randomBytes(rows * cols / 32 * type.blockBytes, seed: seed)
        var bytes: [UInt8] = []
        for k in 0..<(rows * cols / 32) {
            var b = Array(random[(k * type.blockBytes)..<((k + 1) * type.blockBytes)])
            withUnsafeBytes(of: Float16(0.01).bitPattern.littleEndian) {
                b[0] = $0[0]; b[1] = $0[1]
            }
            if type == .q4_1 || type == .q5_1 {
                withUnsafeBytes(of: Float16(-0.05).bitPattern.littleEndian) {
                    b[2] = $0[0]; b[3] = $0[1]
                }
            }
            bytes += b
        }
        return bytes
    }

    /// The ggml types in panels: each panel runs on the activations rounded once for
    /// the whole row, so the reference is the row-major product up to the order of the
    /// final additions; the quantized paths and thread counts agree bit for bit.
    func testQuantizedPanelsMatchTheRowMajorProductAndAgreeOnEveryPathAndThreadCount() {
        let cases: [(WeightType, Int, Int)] = [
            (.q8_0, 150, 4128), (.q5_1, 150, 4128), (.q4_0, 70, 4096), (.q5_0, 9, 2080),
        ]
        for (type, rows, cols) in cases {
            let bytes = quantizedBytes(type, rows: rows, cols: cols, seed: UInt64(rows * cols))
            let dst = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
            defer { dst.deallocate() }
            let m = bytes.withUnsafeBytes {
                WeightMatrix.panelled(type, rows: rows, cols: cols, from: $0.baseAddress!, into: dst)
            }
            for tokens in [1, 13] {
                let x = TestWeights.randomFloats(tokens * cols, seed: 5)
                var rowMajor = [Float](repeating: .nan, count: tokens * rows)
                bytes.withUnsafeBytes {
                    MatMul.tokens(
                        WeightMatrix(type: type, base: $0.baseAddress!, rows: rows, cols: cols), x, ldx: cols,
                        count: tokens, &rowMajor, ldy: rows)
                }
                var first: [Float]?
                for path in KernelPaths.all {
                    path.on()
                    defer { path.off() }
                    for threads in [1, 2, 3] {
                        var got = [Float](repeating: .nan, count: tokens * rows)
                        MatMul.tokens(
                            m, x, ldx: cols, count: tokens, &got, ldy: rows, pool: ThreadPool(threadCount: threads))
                        if let first {
                            XCTAssertEqual(
                                got, first, "\(type) \(rows)×\(cols) tokens \(tokens) \(path.name) \(threads)")
                        } else {
                            first = got
                            for i in 0..<got.count {
                                // Partial sums of ±30 round to about 2e-6 each; a layout
                                // mistake would be off by whole terms (about 0.6).
                                XCTAssertEqual(
                                    got[i], rowMajor[i], accuracy: 1e-4 + 1e-5 * abs(rowMajor[i]), "\(type) at \(i)")
                            }
                        }
                    }
                }
                // One token alone equals its row of the many-token product.
                if tokens > 1, let first {
                    for t in [0, tokens - 1] {
                        var one = [Float](repeating: .nan, count: rows)
                        MatMul.tokens(m, Array(x[(t * cols)..<((t + 1) * cols)]), ldx: cols, count: 1, &one, ldy: rows)
                        XCTAssertEqual(one, Array(first[(t * rows)..<((t + 1) * rows)]), "\(type) token \(t)")
                    }
                }
            }
        }
    }

    func testOnlyWideMatricesPreferPanels() {
        XCTAssertTrue(WeightMatrix.prefersPanels(type: .f16, rows: 1024, cols: 4096))  // 0.4B FFN value
        XCTAssertTrue(WeightMatrix.prefersPanels(type: .f32, rows: 2048, cols: 8192))
        XCTAssertTrue(WeightMatrix.prefersPanels(type: .bf16, rows: 4096, cols: 16384))
        XCTAssertFalse(WeightMatrix.prefersPanels(type: .f16, rows: 768, cols: 3072))  // x still fits L1
        XCTAssertFalse(WeightMatrix.prefersPanels(type: .f16, rows: 4096, cols: 4096))  // square: left in place
        XCTAssertFalse(WeightMatrix.prefersPanels(type: .f16, rows: 4096, cols: 1024))
        XCTAssertTrue(WeightMatrix.prefersPanels(type: .q8_0, rows: 1024, cols: 4096))
        XCTAssertFalse(WeightMatrix.prefersPanels(type: .q5_1, rows: 4096, cols: 4096))
    }
}
