import Foundation
import XCTest

@testable import Kernels
@testable import RWKV

/// `RWKVCppWriter` (the `quantize` command): round trips, and identity with rwkv.cpp's own files.
final class QuantizeTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-quantize-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Mean NLL of the fixture token sequence.
    func nll(_ m: Model) throws -> Double {
        let v = try m.negativeLogLikelihoods(Fixtures.tokens)
        return v.reduce(0, +) / Double(v.count)
    }

    func testEveryVersionRoundTripsThroughEveryType() throws {
        // Bounds on the change of mean NLL against the float model (these are random
        // tiny models, so the figures only show that quantized weights are read right).
        let bounds: [(WeightType, Double)] = [(.q8_0, 0.01), (.q5_1, 0.05), (.q5_0, 0.05), (.q4_1, 0.1), (.q4_0, 0.1)]
        for tag in ["tiny7", "tiny6", "tiny52", "tiny4"] {
            let source = try Model.load(path: Fixtures.own("\(tag).fp32.pth"))
            let reference = try Fixtures.floats(Fixtures.own("\(tag).logits_step.bin"))
            let base = try nll(source)
            for type in [WeightType.f32, .f16] {
                let out = dir.appendingPathComponent("\(tag)-\(type).bin").path
                try RWKVCppWriter.write(source, to: out, type: type)
                let (rows, _) = try Fixtures.stepAll(try Model.load(path: out), Fixtures.tokens)
                assertClose(rows, reference, "\(tag) → rwkv.cpp \(type) → logits")
            }
            var line = "[quantize] \(tag): fp32 NLL \(String(format: "%.5f", base))"
            for (type, bound) in bounds {
                let out = dir.appendingPathComponent("\(tag)-\(type).bin").path
                try RWKVCppWriter.write(source, to: out, type: type)
                let m = try Model.load(path: out)
                XCTAssertTrue(
                    m.tensors.tensors.contains { $0.type == type }, "\(tag) \(type): matrices are stored quantized")
                let value = try nll(m)
                line += ", \(type) \(String(format: "%.5f", value))"
                XCTAssertLessThanOrEqual(abs(value - base), bound, "\(tag) \(type)")
            }
            print(line)
        }
    }

    /// Converting rwkv.cpp's FP32 files gives rwkv.cpp's own FP16 and Q5 files, byte for byte.
    func testOutputIsByteIdenticalToRWKVCppFiles() throws {
        let cases = [
            ("7v0-834K", ["FP16": WeightType.f16, "Q5_0": .q5_0, "Q5_1": .q5_1]),
            ("5v1-730K", ["FP16": .f16, "Q5_0": .q5_0, "Q5_1": .q5_1]),
            ("4v0-660K", ["Q5_0": .q5_0, "Q5_1": .q5_1]),
        ]
        for (model, targets) in cases {
            let source = try Model.load(path: Fixtures.shared("rwkvcpp/tiny-rwkv-\(model)-FP32.bin"))
            for (name, type) in targets {
                let out = dir.appendingPathComponent("\(model)-\(name).bin").path
                try RWKVCppWriter.write(source, to: out, type: type)
                let ours = try Data(contentsOf: URL(fileURLWithPath: out))
                let theirs = try Data(
                    contentsOf: URL(fileURLWithPath: Fixtures.shared("rwkvcpp/tiny-rwkv-\(model)-\(name).bin")))
                XCTAssertEqual(ours, theirs, "\(model) \(name)")
            }
        }
    }

    func testRefusals() throws {
        let m = try Model.load(path: Fixtures.own("tiny7.fp32.pth"))
        XCTAssertThrowsError(try RWKVCppWriter.write(m, to: dir.appendingPathComponent("x.bin").path, type: .bf16))
    }
}
