import XCTest

@testable import RWKV

/// The tiny RWKV-7 made by Scripts/make_fixtures.py, in every format, against its float64 reference.
/// These run everywhere, with or without ../shared.
final class OwnFixtureTests: XCTestCase {
    static let files = [
        "tiny7.fp32.pth", "tiny7.bf16.pth", "tiny7.bf16.safetensors", "tiny7.fp16.safetensors", "tiny7-FP32.bin",
        "tiny7-FP16.bin",
    ]

    func testEveryFormatMatchesReferenceLogitsAndState() throws {
        let logits = try Fixtures.floats(Fixtures.own("tiny7.logits_step.bin"))
        let state = try Fixtures.floats(Fixtures.own("tiny7.state_final.bin"))
        for name in Self.files {
            let model = try Model.load(path: Fixtures.own(name))
            XCTAssertEqual(model.config.version, .v7)
            XCTAssertEqual(model.config.layerCount, 2)
            XCTAssertEqual(model.config.embedding, 32)
            XCTAssertEqual(model.config.headCount, 2)
            XCTAssertEqual(model.config.headSize, 16)
            XCTAssertEqual(model.config.ffnWidth, 64)
            XCTAssertEqual(model.config.loraRanks, ["decay": 8, "a": 8, "v": 8, "gate": 16])
            let (got, final) = try Fixtures.stepAll(model, Fixtures.tokens)
            assertClose(got, logits, "own \(name) step logits")
            assertClose(final.values, state, "own \(name) final state")
        }
    }

    func testOlderVersionsMatchTheirReferences() throws {
        for (tag, version) in [("tiny6", ArchitectureVersion.v6), ("tiny52", .v5_2), ("tiny4", .v4)] {
            let logits = try Fixtures.floats(Fixtures.own("\(tag).logits_step.bin"))
            let state = try Fixtures.floats(Fixtures.own("\(tag).state_final.bin"))
            var previous: [Float]?
            for file in ["\(tag).fp32.pth", "\(tag).bf16.safetensors"] {
                let model = try Model.load(path: Fixtures.own(file))
                XCTAssertEqual(model.config.version, version, file)
                let (got, final) = try Fixtures.stepAll(model, Fixtures.tokens)
                assertClose(got, logits, "own \(file) step logits")
                assertClose(final.values, state, "own \(file) final state")
                var s = model.initialState()
                XCTAssertEqual(
                    try model.sequence(Fixtures.tokens, state: &s, allLogits: true), got, "\(file) sequence == step")
                XCTAssertEqual(s, final)
                if let previous { XCTAssertEqual(previous, got, "\(tag): both files hold the same values") }
                previous = got
            }
        }
    }

    func testFormatsAgreeWithEachOtherExactly() throws {
        // All formats hold the same (bf16-exact) values, so their outputs must be identical.
        let first = try Fixtures.stepAll(Model.load(path: Fixtures.own(Self.files[0])), Fixtures.tokens)
        for name in Self.files.dropFirst() {
            let other = try Fixtures.stepAll(Model.load(path: Fixtures.own(name)), Fixtures.tokens)
            XCTAssertEqual(first.logits, other.logits, name)
            XCTAssertEqual(first.state, other.state, name)
        }
    }

    func testFormatDetection() throws {
        XCTAssertEqual(try Model.load(path: Fixtures.own("tiny7.fp32.pth")).format, .pytorch)
        XCTAssertEqual(try Model.load(path: Fixtures.own("tiny7.fp16.safetensors")).format, .safetensors)
        XCTAssertEqual(try Model.load(path: Fixtures.own("tiny7-FP16.bin")).format, .rwkvcpp)
    }
}
