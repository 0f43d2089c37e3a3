import Foundation
import XCTest

@testable import RWKV

/// RWKV-7 against the official `rwkv` package's outputs in ../shared/fixtures.
/// Each test skips, saying why, when that directory is absent.
final class SharedFixtureTests: XCTestCase {
    func testTinyV7EveryFormatStepSequenceChunkedAndState() throws {
        let dir = "tiny-v7.0/"
        let step = try Fixtures.floats(Fixtures.shared(dir + "logits_step.bin"))
        let seq = try Fixtures.floats(Fixtures.shared(dir + "logits_seq.bin"))
        let seqFull = try Fixtures.floats(Fixtures.shared(dir + "logits_seq_full.bin"))
        let chunked = try Fixtures.floats(Fixtures.shared(dir + "logits_chunked.bin"))
        let stateFirst = try Fixtures.floats(Fixtures.shared(dir + "state_step_first.bin"))
        let stateStep = try Fixtures.floats(Fixtures.shared(dir + "state_step_final.bin"))
        let stateSeq = try Fixtures.floats(Fixtures.shared(dir + "state_seq_final.bin"))
        let stateChunked = try Fixtures.floats(Fixtures.shared(dir + "state_chunked_final.bin"))
        for file in ["model.fp32.pth", "model.bf16.pth", "model.bf16.safetensors"] {
            let m = try Model.load(path: Fixtures.shared(dir + file))
            let label = "tiny-v7.0/\(file)"
            // Step mode, every row, and the state after the first and last token.
            var s = m.initialState()
            var rows: [Float] = []
            for (i, t) in Fixtures.tokens.enumerated() {
                rows += try m.step(t, state: &s)
                if i == 0 { assertClose(s.values, stateFirst, "\(label) state after first token") }
            }
            assertClose(rows, step, "\(label) step logits (24 rows)")
            assertClose(s.values, stateStep, "\(label) step final state")
            // Sequence mode: last row, all rows, and its state.
            var sq = m.initialState()
            assertClose(try m.sequence(Fixtures.tokens, state: &sq), seq, "\(label) sequence logits")
            assertClose(sq.values, stateSeq, "\(label) sequence final state")
            var sf = m.initialState()
            assertClose(
                try m.sequence(Fixtures.tokens, state: &sf, allLogits: true), seqFull, "\(label) sequence all rows")
            // Chunks 7, 1, 16 as in the manifest.
            var sc = m.initialState()
            _ = try m.sequence(Array(Fixtures.tokens[0..<7]), state: &sc)
            _ = try m.sequence(Array(Fixtures.tokens[7..<8]), state: &sc)
            assertClose(try m.sequence(Array(Fixtures.tokens[8...]), state: &sc), chunked, "\(label) chunked logits")
            assertClose(sc.values, stateChunked, "\(label) chunked final state")
        }
    }

    /// rwkv.cpp's test rule: after feeding `"in` (34, 105, 110), the signed sum of
    /// (logits − expected) must satisfy |sum| ≤ |threshold| · 1.05.
    func testRWKVCppTinyV7MatchesExpectedLogitsUnderItsOwnRule() throws {
        let expected = try Fixtures.floats(Fixtures.shared("rwkvcpp/expected-logits-7v0-834K.bin"))
        for (format, threshold) in [("FP32", Float(0.001)), ("FP16", Float(0.005766))] {
            let m = try Model.load(path: Fixtures.shared("rwkvcpp/tiny-rwkv-7v0-834K-\(format).bin"), threads: 2)
            var s = m.initialState()
            var logits: [Float] = []
            for t in [34, 105, 110] { logits = try m.step(t, state: &s) }
            var sq = m.initialState()
            let seqLogits = try m.sequence([34, 105, 110], state: &sq)
            for (mode, got) in [("step", logits), ("sequence", seqLogits)] {
                var sum: Float = 0
                for i in 0..<256 { sum += got[i] - expected[i] }
                let maxDiff = zip(got, expected).map { abs($0 - $1) }.max()!
                print(
                    "[fixture] rwkv.cpp 7v0-834K-\(format) \(mode): signed sum \(sum), max |diff| \(maxDiff) (threshold \(threshold))"
                )
                XCTAssertLessThanOrEqual(abs(sum), abs(threshold) * 1.05, "\(format) \(mode)")
            }
            // The official package's per-token logits for the same prompt.
            let pkg = try Fixtures.floats(Fixtures.shared("rwkvcpp/pkg.7v0-834K-\(format).in.logits_step.bin"))
            let (rows, _) = try Fixtures.stepAll(m, [34, 105, 110])
            assertClose(rows, pkg, "rwkv.cpp 7v0-834K-\(format) \"in per-token vs package")
        }
    }

    func testRWKVCppTinyV7LongPromptMatchesPackage() throws {
        let manifestPath = try Fixtures.shared("rwkvcpp/manifest.json")
        let manifest =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifestPath)))
            as! [String: Any]
        let models = manifest["models"] as! [String: Any]
        let entry = models["7v0-834K-FP32"] as! [String: Any]
        let long = entry["long_prompt"] as! [String: Any]
        let tokens = long["tokens"] as! [Int]
        let greedy = long["greedy_tokens"] as! [Int]
        let robust = long["greedy_robust_prefix_len"] as! Int
        let logits = try Fixtures.floats(Fixtures.shared("rwkvcpp/pkg.7v0-834K-FP32.long.logits_step.bin"))
        let state = try Fixtures.floats(Fixtures.shared("rwkvcpp/pkg.7v0-834K-FP32.long.state_step_final.bin"))
        for format in ["FP32", "FP16"] {
            let m = try Model.load(path: Fixtures.shared("rwkvcpp/tiny-rwkv-7v0-834K-\(format).bin"))
            let (rows, final) = try Fixtures.stepAll(m, tokens)
            // The reference ran the FP32 file. The FP16 file's weights round-trip through
            // fp16 exactly here (the package's own FP16 "in logits agree to 5e-7), so the
            // same tolerance applies to both.
            assertClose(rows, logits, "rwkv.cpp 7v0 \(format) long prompt, \(tokens.count) rows")
            assertClose(final.values, state, "rwkv.cpp 7v0 \(format) long prompt state")
            // Greedy continuation, within the prefix where the reference's choice is robust.
            var s = final
            var next = Logits.top(rows.suffix(256)[...], k: 1)[0].token
            var produced: [Int] = []
            for _ in 0..<robust {
                produced.append(next)
                next = Logits.top(try m.step(next, state: &s)[...], k: 1)[0].token
            }
            XCTAssertEqual(produced, Array(greedy.prefix(robust)), "\(format) greedy continuation")
        }
    }

    func testOtherVersionsAreRefusedClearly() throws {
        let path = try Fixtures.shared("rwkvcpp/tiny-rwkv-4v0-660K-FP32.bin")
        XCTAssertThrowsError(try Model.load(path: path)) { error in
            let e = error as? ModelFileError
            XCTAssertEqual(e?.kind, .unsupported)
            XCTAssertTrue(e?.description.contains("tiny-rwkv-4v0-660K-FP32.bin") ?? false)
        }
    }
}
