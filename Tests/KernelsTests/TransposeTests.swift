import XCTest

@testable import Kernels

/// The blocked transpose against the naive double loop, on ragged shapes and unaligned sources.
final class TransposeTests: XCTestCase {
    func check<T: BitwiseCopyable & Equatable>(_: T.Type, rows: Int, cols: Int, offset: Int) {
        let size = MemoryLayout<T>.size
        let bytes = TestWeights.randomBytes(offset + rows * cols * size, seed: UInt64(rows * 1000 + cols))
        var got = [T](unsafeUninitializedCapacity: rows * cols) { _, n in n = rows * cols }
        var want = got
        bytes.withUnsafeBytes { raw in
            let src = raw.baseAddress! + offset
            got.withUnsafeMutableBufferPointer { Transpose.copy(src, rows: rows, cols: cols, into: $0.baseAddress!) }
            for r in 0..<rows {
                for c in 0..<cols {
                    want[c * rows + r] = src.loadUnaligned(fromByteOffset: (r * cols + c) * size, as: T.self)
                }
            }
        }
        XCTAssertTrue(got == want, "\(T.self) \(rows) × \(cols) at offset \(offset)")
    }

    func testEqualsTheNaiveLoopOnRaggedShapes() {
        // Shapes below, at and across the 32-element tile edge, and the LoRA factors' shape.
        let shapes = [(1, 1), (1, 40), (40, 1), (31, 33), (32, 32), (33, 65), (100, 7), (768, 64)]
        for (rows, cols) in shapes {
            for offset in [0, 1, 3] {
                check(UInt16.self, rows: rows, cols: cols, offset: offset)
                check(UInt32.self, rows: rows, cols: cols, offset: offset)
            }
        }
    }
}
