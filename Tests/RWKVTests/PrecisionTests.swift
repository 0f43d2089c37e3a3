import Foundation
import XCTest

@testable import Kernels
@testable import RWKV

/// `--precision`: the large matrices converted once at load, for every version.
final class PrecisionTests: XCTestCase {
    func nll(_ m: Model) throws -> Double {
        let v = try m.negativeLogLikelihoods(Fixtures.tokens)
        return v.reduce(0, +) / Double(v.count)
    }

    func testEveryPrecisionForEveryVersion() throws {
        let bounds: [(WeightType, Double)] = [(.q8_0, 0.01), (.q5_1, 0.05), (.q4_0, 0.1)]
        for tag in ["tiny7", "tiny6", "tiny52", "tiny4"] {
            let path = Fixtures.own("\(tag).fp32.pth")
            let plain = try Model.load(path: path)
            let reference = try Fixtures.floats(Fixtures.own("\(tag).logits_step.bin"))
            // The file's own type: nothing converted, identical results.
            let same = try Model.load(path: path, precision: .f32)
            XCTAssertEqual(
                try Fixtures.stepAll(same, Fixtures.tokens).logits, try Fixtures.stepAll(plain, Fixtures.tokens).logits)
            for type in [WeightType.f16, .bf16] {
                let m = try Model.load(path: path, precision: type)
                XCTAssertEqual(m.tensors["blocks.0.att.key.weight"]?.type, type, "\(tag) \(type)")
                assertClose(try Fixtures.stepAll(m, Fixtures.tokens).logits, reference, "\(tag) --precision \(type)")
            }
            let base = try nll(plain)
            for (type, bound) in bounds {
                let m = try Model.load(path: path, precision: type)
                XCTAssertEqual(m.tensors["head.weight"]?.type, type, "\(tag) \(type)")
                XCTAssertLessThanOrEqual(abs(try nll(m) - base), bound, "\(tag) \(type)")
                // Threads and chunking change nothing at any precision.
                let two = try Model.load(path: path, threads: 2, precision: type)
                var s1 = m.initialState(), s2 = two.initialState(), s3 = m.initialState()
                let a = try m.sequence(Fixtures.tokens, state: &s1, allLogits: true)
                XCTAssertEqual(
                    a, try two.sequence(Fixtures.tokens, state: &s2, allLogits: true), "\(tag) \(type) threads")
                var rows: [Float] = []
                for t in Fixtures.tokens { rows += try m.step(t, state: &s3) }
                XCTAssertEqual(a, rows, "\(tag) \(type) sequence = step")
            }
        }
    }
}
