import XCTest

@testable import RWKV

/// The promises the product is built on: every way of feeding the same tokens gives the same result.
final class EquivalenceTests: XCTestCase {
    /// 150 tokens: long enough to cross the engine's internal 128-token chunks.
    let tokens: [Int] = (0..<150).map { ($0 * 37 + 11) % 256 }

    func model(threads: Int = 1) throws -> Model {
        try Model.load(path: Fixtures.own("tiny7.fp16.safetensors"), threads: threads)
    }

    func testSequenceEqualsStep() throws {
        let m = try model()
        let (stepRows, stepState) = try Fixtures.stepAll(m, tokens)
        var state = m.initialState()
        let seqRows = try m.sequence(tokens, state: &state, allLogits: true)
        assertClose(seqRows, stepRows, "sequence vs step, all rows", atol: 1e-5, rtol: 1e-5)
        assertClose(state.values, stepState.values, "sequence vs step, state", atol: 1e-5, rtol: 1e-5)
        // The kernels sum every output in one fixed order, so this engine is in fact exact.
        XCTAssertEqual(seqRows, stepRows)
        XCTAssertEqual(state, stepState)
        var s2 = m.initialState()
        let last = try m.sequence(tokens, state: &s2)
        XCTAssertEqual(last, Array(stepRows.suffix(m.config.vocabulary)))
    }

    func testChunkedPrefillInAnyChunkSizeEqualsWhole() throws {
        let m = try model()
        var whole = m.initialState()
        let wholeLogits = try m.sequence(tokens, state: &whole)
        for chunk in [1, 2, 3, 7, 16, 63, 64, 65, 100, 149] {
            var state = m.initialState()
            var logits: [Float] = []
            var i = 0
            while i < tokens.count {
                let j = min(i + chunk, tokens.count)
                logits = try m.sequence(Array(tokens[i..<j]), state: &state)
                i = j
            }
            XCTAssertEqual(logits, wholeLogits, "chunk \(chunk)")
            XCTAssertEqual(state, whole, "chunk \(chunk)")
        }
    }

    func testForkThenContinueEqualsContinue() throws {
        let m = try model()
        var state = m.initialState()
        _ = try m.sequence(Array(tokens[0..<80]), state: &state)
        var fork = state  // A fork is a copy of the value.
        let a = try m.sequence(Array(tokens[80...]), state: &state)
        // Running the original on must not have touched the fork.
        var fresh = m.initialState()
        _ = try m.sequence(Array(tokens[0..<80]), state: &fresh)
        XCTAssertEqual(fork, fresh)
        let b = try m.sequence(Array(tokens[80...]), state: &fork)
        XCTAssertEqual(a, b)
        XCTAssertEqual(state, fork)
    }

    func testSerializeDeserializeContinueIsBitExact() throws {
        let m = try model()
        var state = m.initialState()
        _ = try m.sequence(Array(tokens[0..<90]), state: &state)
        let bytes = state.serialized()
        var restored = try State(serialized: bytes, path: "memory")
        XCTAssertEqual(restored, state)
        let a = try m.sequence(Array(tokens[90...]), state: &state)
        let b = try m.sequence(Array(tokens[90...]), state: &restored)
        XCTAssertEqual(a, b)
    }

    func testThreadCountGivesBitIdenticalLogits() throws {
        for name in ["tiny7.fp32.pth", "tiny7-FP16.bin"] {
            let one = try Model.load(path: Fixtures.own(name), threads: 1)
            let two = try Model.load(path: Fixtures.own(name), threads: 2)
            var s1 = one.initialState(), s2 = two.initialState()
            XCTAssertEqual(
                try one.sequence(tokens, state: &s1, allLogits: true),
                try two.sequence(tokens, state: &s2, allLogits: true), name)
            XCTAssertEqual(s1, s2, name)
        }
    }

    func testDeterministicAcrossRuns() throws {
        let m = try model()
        var a = m.initialState(), b = m.initialState()
        XCTAssertEqual(try m.sequence(tokens, state: &a), try m.sequence(tokens, state: &b))
    }

    func testBadTokensAndForeignStatesAreRejected() throws {
        let m = try model()
        var state = m.initialState()
        XCTAssertThrowsError(try m.step(256, state: &state))
        XCTAssertThrowsError(try m.step(-1, state: &state))
        XCTAssertThrowsError(try m.sequence([], state: &state))
        var foreign = State(layout: StateLayout(layers: 1, perLayer: [("x", [3])]), values: [0, 0, 0])
        XCTAssertThrowsError(try m.step(1, state: &foreign))
        XCTAssertEqual(state, m.initialState(), "a rejected call must not change the state")
    }
}
