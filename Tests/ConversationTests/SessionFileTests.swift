import Foundation
import XCTest

@testable import Conversation
@testable import RWKV

final class SessionFileTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try ConversationFixtures.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A session with two branches, saved.
    func makeSaved() throws -> (ChatSession, URL) {
        let s = try ConversationFixtures.session()
        let r1 = try s.send("first")
        _ = try s.send("second")
        try s.rewind(to: r1)
        _ = try s.send("branch")
        let url = dir.appendingPathComponent("s.rwkvsession")
        try SessionFile.save(s, to: url)
        return (s, url)
    }

    func testSaveLoadContinueEqualsContinueWithoutEvaluatingOnLoad() throws {
        let (original, url) = try makeSaved()
        let model = try ConversationFixtures.model()
        let loaded = try SessionFile.load(url, model: model, tokenizer: ByteTokenizer())
        XCTAssertEqual(model.tokensEvaluated, 0, "loading must not evaluate any token")
        XCTAssertEqual(loaded.tree, original.tree)
        // Switching to the other branch's tip is instant too: its snapshot was stored.
        let otherTip = original.tree.leaves.first { $0 != original.cursor }!
        try loaded.select(otherTip)
        _ = try loaded.snapshot(for: otherTip)
        XCTAssertEqual(model.tokensEvaluated, 0, "switching to a stored branch must not evaluate")
        try loaded.select(original.cursor)
        // Continue both the same way: identical logits and identical generated text.
        let a = try original.send("continue here")
        let b = try loaded.send("continue here")
        XCTAssertEqual(original.tree[a]!.tokens, loaded.tree[b]!.tokens)
        XCTAssertEqual(original.tree[a]!.text, loaded.tree[b]!.text)
        XCTAssertEqual(try original.snapshot(for: a), try loaded.snapshot(for: b))
    }

    func testWrongModelIsRefusedUnlessReplayed() throws {
        let (original, url) = try makeSaved()
        let other = try ConversationFixtures.model("tiny7-FP16.bin")  // same values, other storage: another fingerprint
        XCTAssertThrowsError(try SessionFile.load(url, model: other, tokenizer: ByteTokenizer())) { e in
            XCTAssertTrue("\(e)".contains("--replay"), "\(e)")
            XCTAssertTrue("\(e)".contains(url.path))
        }
        let replayed = try SessionFile.load(url, model: other, tokenizer: ByteTokenizer(), replay: true)
        try ConversationFixtures.assertSnapshotsExact(replayed, "replayed")
        let r = try replayed.send("works after replay")
        XCTAssertEqual(replayed.tree[r]?.role, .assistant)
        _ = original
    }

    func testWrongTokenizerIsRefused() throws {
        let (_, url) = try makeSaved()
        let vocab = ConversationFixtures.repoRoot.appendingPathComponent("Tests/RWKVTests/Fixtures/mini_vocab.txt").path
        XCTAssertThrowsError(
            try SessionFile.load(url, model: ConversationFixtures.model(), tokenizer: WorldTokenizer(path: vocab)))
    }

    func testDamageInEverySectionIsCaughtAndNothingIsWritten() throws {
        let (_, url) = try makeSaved()
        let good = [UInt8](try Data(contentsOf: url))
        let sections = try SessionFile.parseSections(good, path: url.path)
        XCTAssertEqual(sections.map(\.0).prefix(3), ["MODL", "TOKZ", "TREE"])
        // Flip a byte inside every section's payload, and in the header.
        var offset = 16
        var targets = [3, 9, 13]
        for (_, payload) in sections {
            targets.append(offset + 16 + payload.count / 2)
            offset += 16 + payload.count + 4
        }
        let model = try ConversationFixtures.model()
        for at in targets {
            var bad = good
            bad[at] ^= 0x20
            let path = dir.appendingPathComponent("bad.rwkvsession")
            try Data(bad).write(to: path)
            XCTAssertThrowsError(try SessionFile.load(path, model: model, tokenizer: ByteTokenizer()), "flip at \(at)")
            {
                XCTAssertTrue(($0 as? ModelFileError)?.description.hasPrefix(path.path) ?? false, "\($0)")
            }
            XCTAssertEqual([UInt8](try Data(contentsOf: path)), bad, "a failed load must not touch the file")
        }
        for cut in stride(from: 0, to: good.count, by: max(1, good.count / 97)) {
            let path = dir.appendingPathComponent("cut.rwkvsession")
            try Data(good[..<cut]).write(to: path)
            XCTAssertThrowsError(try SessionFile.load(path, model: model, tokenizer: ByteTokenizer()), "cut at \(cut)")
        }
        // A future format version is refused by name.
        var future = good
        future[8] = 99
        let path = dir.appendingPathComponent("future.rwkvsession")
        try Data(future).write(to: path)
        XCTAssertThrowsError(try SessionFile.load(path, model: model, tokenizer: ByteTokenizer())) {
            XCTAssertEqual(($0 as? ModelFileError)?.kind, .unsupported)
        }
    }

    /// Mutation fuzzing of the loader, bounded in iterations: random byte flips, insertions,
    /// deletions and splices of a valid file. Every input must load or throw a typed error.
    func testLoaderFuzz() throws {
        let (_, url) = try makeSaved()
        let good = [UInt8](try Data(contentsOf: url))
        let model = try ConversationFixtures.model()
        var rng = SeededGenerator(seed: 2026)
        let iterations = Int(ProcessInfo.processInfo.environment["RWKV_FUZZ_ITERATIONS"] ?? "") ?? 400
        var loaded = 0
        let path = dir.appendingPathComponent("fuzz.rwkvsession")
        for _ in 0..<iterations {
            var b = good
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let at = Int(rng.next() % UInt64(max(b.count, 1)))
                switch rng.next() % 4 {
                case 0: if at < b.count { b[at] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
                case 1: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
                case 2: if at < b.count { b.remove(at: at) }
                default:
                    let len = Int(rng.next() % 64)
                    let from = Int(rng.next() % UInt64(good.count))
                    b.insert(contentsOf: good[from..<min(good.count, from + len)], at: at)
                }
            }
            try Data(b).write(to: path)
            do {
                let s = try SessionFile.load(path, model: model, tokenizer: ByteTokenizer())
                _ = try s.snapshot(for: s.cursor)
                loaded += 1
            } catch is ModelFileError {
            } catch is ConversationError {
            }
        }
        print(
            "[fuzz] session loader: \(iterations) mutated files, \(loaded) loaded, \(iterations - loaded) typed errors")
    }

    func testThousandTurnSessionStaysWithinBudgetAndRoundTrips() throws {
        let s = try ConversationFixtures.session(maxTokens: 4)
        let budget = 512 << 10
        s.snapshotBudget = budget
        for i in 0..<1000 { _ = try s.send("turn \(i)") }
        XCTAssertLessThanOrEqual(s.snapshotBytes, budget)
        let url = dir.appendingPathComponent("long.rwkvsession")
        try SessionFile.save(s, to: url)
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        print(
            "[session] 1000 turns (2001 nodes): \(s.snapshotBytes) bytes of snapshots in memory (budget \(budget)), file \(size) bytes"
        )
        // Required snapshots (root, tip) + tree text; optional ones within their 64 MiB file budget.
        XCTAssertLessThan(size, 8 << 20)
        let model = try ConversationFixtures.model()
        let loaded = try SessionFile.load(url, model: model, tokenizer: ByteTokenizer(), snapshotBudget: budget)
        XCTAssertEqual(model.tokensEvaluated, 0)
        XCTAssertEqual(loaded.tree, s.tree)
        XCTAssertEqual(try loaded.snapshot(for: loaded.cursor), try s.snapshot(for: s.cursor))
    }
}
