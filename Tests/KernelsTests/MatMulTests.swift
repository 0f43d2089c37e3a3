import XCTest

@testable import Kernels

/// The row kernels against a naive double-precision loop, and their bit-exactness contracts.
final class MatMulTests: XCTestCase {
    struct Case {
        let rows: Int
        let cols: Int
        let type: WeightType
    }

    func randomFloats(_ n: Int, seed: UInt64) -> [Float] { TestWeights.randomFloats(n, seed: seed) }

    func store(_ values: [Float], as type: WeightType) -> (bytes: [UInt8], stored: [Float]) {
        TestWeights.store(values, as: type)
    }

    func run(_ c: Case, tokens: Int, pool: ThreadPool, offsetBytes: Int = 0) -> (got: [Float], want: [Float]) {
        let (bytes, stored) = store(randomFloats(c.rows * c.cols, seed: UInt64(c.rows * 31 + c.cols)), as: c.type)
        let x = randomFloats(tokens * c.cols, seed: 99)
        // An odd offset checks that unaligned weight rows (as in mapped files) work.
        let padded = [UInt8](repeating: 0, count: offsetBytes) + bytes
        var y = [Float](repeating: .nan, count: tokens * c.rows)
        padded.withUnsafeBytes { raw in
            let w = WeightMatrix(type: c.type, base: raw.baseAddress! + offsetBytes, rows: c.rows, cols: c.cols)
            MatMul.tokens(w, x, ldx: c.cols, count: tokens, &y, ldy: c.rows, pool: pool)
        }
        var want = [Float](repeating: 0, count: tokens * c.rows)
        for t in 0..<tokens {
            for r in 0..<c.rows {
                var acc = 0.0
                for i in 0..<c.cols { acc += Double(stored[r * c.cols + i]) * Double(x[t * c.cols + i]) }
                want[t * c.rows + r] = Float(acc)
            }
        }
        return (y, want)
    }

    let cases: [Case] = [
        Case(rows: 1, cols: 1, type: .f32), Case(rows: 3, cols: 7, type: .f32), Case(rows: 5, cols: 8, type: .f16),
        Case(rows: 17, cols: 33, type: .bf16), Case(rows: 64, cols: 64, type: .f32),
        Case(rows: 130, cols: 77, type: .f16),
        Case(rows: 129, cols: 200, type: .bf16), Case(rows: 256, cols: 96, type: .f32),
        // Rows of one to three 1024-column blocks (the AVX2 tiles carry their chains
        // across them) with every kind of remainder, and more rows than one row block
        // (at most 48 rows and 192 KiB of float32 panel: 44 rows of 1100 columns, 23
        // of 2063).
        Case(rows: 50, cols: 1100, type: .f16), Case(rows: 7, cols: 1544, type: .bf16),
        Case(rows: 100, cols: 1031, type: .f32), Case(rows: 50, cols: 2100, type: .f16),
        Case(rows: 7, cols: 3080, type: .bf16), Case(rows: 100, cols: 2063, type: .f32),
        // Narrow matrices (the LoRA down-projections' 32 to 128 columns), which AVX2 runs
        // eight rows per register in 16-row panels: whole panels, an 8-row group and
        // rows left over for the tiles (70 = 4·16 + 6, 44 = 2·16 + 8 + 4, 24 = 16 + 8).
        Case(rows: 70, cols: 64, type: .f16), Case(rows: 44, cols: 32, type: .bf16),
        Case(rows: 24, cols: 128, type: .f32), Case(rows: 40, cols: 96, type: .f16),
        // Row-lane tiles (AVX2, 16 rows × 6 tokens, lanes over rows): a whole 64-row
        // block and a 32-row one; one run of eight 32-column blocks in the input
        // permutation and 8 rows left for the register tiles; a 16-row block with
        // chain 0's extra 8-lane groups and a scalar tail.
        Case(rows: 96, cols: 768, type: .f16), Case(rows: 40, cols: 256, type: .bf16),
        Case(rows: 16, cols: 190, type: .f32),
    ]

    func testRowsWiderThanThePanelBudget() {
        // 50,003 fp16 columns are more than the tiles' 192 KiB float32 panel holds in
        // one row, so they take a single row tile at a time. Against the naive loop, and
        // one token alone against its row of the many-token product, bit for bit.
        let c = Case(rows: 7, cols: 50_003, type: .f16)
        let (got, want) = run(c, tokens: 9, pool: .serial, offsetBytes: 1)
        for i in 0..<got.count {
            XCTAssertEqual(got[i], want[i], accuracy: 1e-6 * abs(want[i]) + 1e-3, "at \(i)")
        }
        let (bytes, _) = store(randomFloats(c.rows * c.cols, seed: UInt64(c.rows * 31 + c.cols)), as: c.type)
        let x = randomFloats(9 * c.cols, seed: 99)
        for t in [0, 5, 8] {
            var y = [Float](repeating: 0, count: c.rows)
            bytes.withUnsafeBytes { raw in
                let w = WeightMatrix(type: c.type, base: raw.baseAddress!, rows: c.rows, cols: c.cols)
                MatMul.vector(w, Array(x[(t * c.cols)..<((t + 1) * c.cols)]), &y)
            }
            XCTAssertEqual(y, Array(got[(t * c.rows)..<((t + 1) * c.rows)]), "token \(t)")
        }
    }

    func testMatchesNaiveLoopOnBothPaths() {
        for portable in [false, true] {
            MatMul.forcePortable(portable)
            defer { MatMul.forcePortable(false) }
            for c in cases {
                // 13 and 50 tokens run the register tiles (4 × 3 on AVX-512, 3 × 4 on AVX2)
                // with ragged row and token remainders; 9, 10, 13 and 50 leave 3, 4, 1 and
                // 2 tokens after the row-lane tiles' whole 6-token tiles.
                for tokens in [1, 2, 3, 5, 9, 10, 13, 50] {
                    let (got, want) = run(c, tokens: tokens, pool: .serial, offsetBytes: 3)
                    for i in 0..<got.count {
                        XCTAssertEqual(
                            got[i], want[i], accuracy: 1e-5 * Float(c.cols).squareRoot() + 1e-6,
                            "\(c) tokens \(tokens) portable \(portable) at \(i)")
                    }
                }
            }
        }
    }

    func testOneTokenEqualsManyTokensBitForBit() {
        // The one-token kernels, with and without their software prefetch, against the
        // many-token tiles (which never prefetch).
        for forceAVX2 in [false, true] {
            for prefetch in [false, true] {
                MatMul.forceAVX2(forceAVX2)
                MatMul.forceRowPrefetch(prefetch)
                defer {
                    MatMul.forceAVX2(false)
                    MatMul.forceRowPrefetch(nil)
                }
                oneTokenEqualsManyTokens(count: 7)
                oneTokenEqualsManyTokens(count: 53)
            }
        }
    }

    /// Each of `count` tokens run alone equals its row of one many-token product.
    func oneTokenEqualsManyTokens(count: Int) {
        for c in cases {
            let (many, _) = run(c, tokens: count, pool: .serial)
            // The same weights and inputs as `run`, made once per case.
            let (bytes, _) = store(randomFloats(c.rows * c.cols, seed: UInt64(c.rows * 31 + c.cols)), as: c.type)
            let inputs = randomFloats(count * c.cols, seed: 99)
            for t in 0..<count {
                // Recompute token t alone by running a one-token product on its input row.
                let x = Array(inputs[(t * c.cols)..<((t + 1) * c.cols)])
                var y = [Float](repeating: 0, count: c.rows)
                bytes.withUnsafeBytes { raw in
                    MatMul.vector(WeightMatrix(type: c.type, base: raw.baseAddress!, rows: c.rows, cols: c.cols), x, &y)
                }
                XCTAssertEqual(y, Array(many[(t * c.rows)..<((t + 1) * c.rows)]), "\(c) token \(t) of \(count)")
            }
        }
    }

    func testThreadCountDoesNotChangeResults() {
        for c in cases {
            let (one, _) = run(c, tokens: 19, pool: ThreadPool(threadCount: 1))
            let (two, _) = run(c, tokens: 19, pool: ThreadPool(threadCount: 2))
            let (three, _) = run(c, tokens: 19, pool: ThreadPool(threadCount: 3))
            XCTAssertEqual(one, two, "\(c)")
            XCTAssertEqual(one, three, "\(c)")
        }
    }

    /// A batch of products (mixed types, sizes and strides, some too small to split on
    /// their own) equals each product run alone, for 1, 2 and 3 threads and for one
    /// token and many.
    func testBatchEqualsProductsRunAlone() {
        let shapes =
            cases + [
                Case(rows: 64, cols: 96, type: .f16), Case(rows: 4, cols: 40, type: .bf16),
                Case(rows: 48, cols: 768, type: .bf16),
            ]
        let weights = shapes.map {
            store(randomFloats($0.rows * $0.cols, seed: UInt64($0.rows * 7 + $0.cols)), as: $0.type).bytes
        }
        for tokens in [1, 4, 19] {
            // Each product reads its own inputs with a stride wider than its columns.
            let inputs = shapes.map { randomFloats(tokens * ($0.cols + 3), seed: UInt64($0.cols)) }
            var alone = shapes.map { [Float](repeating: .nan, count: tokens * $0.rows) }
            for (k, c) in shapes.enumerated() {
                weights[k].withUnsafeBytes { raw in
                    let w = WeightMatrix(type: c.type, base: raw.baseAddress!, rows: c.rows, cols: c.cols)
                    MatMul.tokens(w, inputs[k], ldx: c.cols + 3, count: tokens, &alone[k], ldy: c.rows)
                }
            }
            // Buffers with stable addresses for the whole batch.
            let w = shapes.indices.map { k -> UnsafeMutableRawPointer in
                let p = UnsafeMutableRawPointer.allocate(byteCount: weights[k].count, alignment: 64)
                p.copyMemory(from: weights[k], byteCount: weights[k].count)
                return p
            }
            let x = shapes.indices.map { k -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: inputs[k].count)
                p.initialize(from: inputs[k], count: inputs[k].count)
                return p
            }
            let y = shapes.map { UnsafeMutablePointer<Float>.allocate(capacity: tokens * $0.rows) }
            defer { w.forEach { $0.deallocate() }; x.forEach { $0.deallocate() }; y.forEach { $0.deallocate() } }
            // Products of equal width read one input buffer (their inputs are equal, being
            // made from the same seed), as RWKV's share theirs, so that a batch's inputs
            // prepared once serve several products.
            let products = shapes.indices.map { k in
                let source = shapes.firstIndex { $0.cols == shapes[k].cols }!
                return MatMul.Product(
                    WeightMatrix(type: shapes[k].type, base: w[k], rows: shapes[k].rows, cols: shapes[k].cols),
                    x[source], ldx: shapes[k].cols + 3, y[k])
            }
            // Late workers make the calling thread take rows from their shares, so the
            // stealing path is checked too.
            for (threads, late) in [(1, false), (2, false), (3, false), (2, true), (3, true)] {
                for k in shapes.indices { y[k].update(repeating: .nan, count: tokens * shapes[k].rows) }
                let stolen = MatMul.stolenQuads
                MatMul.delayWorkersForTesting(late)
                MatMul.batch(products, count: tokens, pool: ThreadPool(threadCount: threads))
                MatMul.delayWorkersForTesting(false)
                if late { XCTAssertGreaterThan(MatMul.stolenQuads, stolen, "late workers: the caller took their rows") }
                for k in shapes.indices {
                    XCTAssertEqual(
                        Array(UnsafeBufferPointer(start: y[k], count: tokens * shapes[k].rows)), alone[k],
                        "\(shapes[k]) tokens \(tokens) threads \(threads) late workers \(late)")
                }
            }
        }
    }

    func testHalfPrecisionConversionOfSpecialValues() {
        // 0, -0, smallest subnormal, largest subnormal, 1, max, inf, -inf.
        let halves: [UInt16] = [0x0000, 0x8000, 0x0001, 0x03FF, 0x3C00, 0x7BFF, 0x7C00, 0xFC00]
        var out = [Float](repeating: 0, count: halves.count)
        halves.withUnsafeBytes { Convert.toFloat32(.f16, $0.baseAddress!, &out, count: halves.count) }
        XCTAssertEqual(out, halves.map { Float(Float16(bitPattern: $0)) })
        var nan: Float = 0
        [UInt16(0x7E00)].withUnsafeBytes { Convert.toFloat32(.f16, $0.baseAddress!, &nan, count: 1) }
        XCTAssertTrue(nan.isNaN)
        let bf: [UInt16] = [0x3F80, 0xC000, 0x0001, 0x7F80]
        bf.withUnsafeBytes { Convert.toFloat32(.bf16, $0.baseAddress!, &out, count: bf.count) }
        XCTAssertEqual(Array(out.prefix(4)), bf.map { Float(bitPattern: UInt32($0) << 16) })
    }
}
