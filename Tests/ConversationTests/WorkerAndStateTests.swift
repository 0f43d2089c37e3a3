import Foundation
import XCTest

@testable import Conversation
@testable import RWKV

final class WorkerAndStateTests: XCTestCase {
    /// A worker over a fixture session allowed 100,000 tokens a reply, which counts the
    /// text events in `tokens` and checks that every reply ends cancelled before calling
    /// `onReply`.
    func cancellingWorker(tokens: Counter, onReply: @escaping @Sendable () -> Void) throws -> ChatWorker {
        let s = try ConversationFixtures.session(maxTokens: 100_000)
        let controller = ChatController(session: s, templates: TemplateLibrary(directories: []))
        return ChatWorker(controller: controller) { event in
            switch event {
            case .text: tokens.add()
            case .reply(let r):
                XCTAssertEqual(r.finish, .cancelled)
                onReply()
            default: break
            }
        }
    }

    func testWorkerRunsOffTheCallerThreadAndCancels() throws {
        let tokens = Counter()
        let done = expectation(description: "reply")
        let worker = try cancellingWorker(tokens: tokens) { done.fulfill() }
        let start = Date()
        worker.submit("talk for a long time")
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5, "submit returns at once")
        XCTAssertTrue(worker.isBusy)
        while tokens.value < 5 { usleep(1000) }
        worker.cancel()
        wait(for: [done], timeout: 30)
        try worker.sync { c in try ConversationFixtures.assertSnapshotsExact(c.session, "after cancel") }
    }

    func testCancelWhileTheLineIsStillQueuedIsNotLost() throws {
        // Esc pressed right after Enter: the line waits behind another job when the cancel
        // comes. The reply must still stop at once, not run to its 100,000-token limit.
        let tokens = Counter()
        let replies = DispatchSemaphore(value: 0)
        let worker = try cancellingWorker(tokens: tokens) { replies.signal() }
        let gate = DispatchSemaphore(value: 0)
        worker.enqueue { _ in gate.wait() }
        worker.submit("talk for a long time")
        worker.cancel()
        gate.signal()
        XCTAssertEqual(replies.wait(timeout: .now() + 30), .success, "the queued reply stops")
        XCTAssertLessThanOrEqual(tokens.value, 1, "the reply stops at its first token")

        // A line submitted after the cancel is not affected by it: it streams until its own cancel.
        worker.submit("and again")
        let deadline = Date().addingTimeInterval(30)
        while tokens.value < 6, Date() < deadline { usleep(1000) }
        XCTAssertGreaterThanOrEqual(tokens.value, 6, "a later line streams")
        worker.cancel()
        XCTAssertEqual(replies.wait(timeout: .now() + 30), .success, "the second reply stops")
        try worker.sync { c in try ConversationFixtures.assertSnapshotsExact(c.session, "after a queued cancel") }
    }

    func testAsyncStreamDeliversEveryEvent() async throws {
        let s = try ConversationFixtures.session(maxTokens: 10)
        let controller = ChatController(session: s, templates: TemplateLibrary(directories: []))
        var text = ""
        var reply: ReplySummary?
        for await e in ChatWorker.stream(controller, line: "hello") {
            if case .text(let t) = e { text += t }
            if case .reply(let r) = e { reply = r }
        }
        XCTAssertEqual(reply?.text, text)
    }

    func testPersonaIsReadOnceThenComesFromTheCache() throws {
        let dir = try ConversationFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = PersonaCache(directory: dir)
        let m1 = try ConversationFixtures.model()
        let a = try ChatSession(model: m1, tokenizer: ByteTokenizer(), personaCache: cache)
        XCTAssertGreaterThan(m1.tokensEvaluated, 0)
        let m2 = try ConversationFixtures.model()
        let b = try ChatSession(model: m2, tokenizer: ByteTokenizer(), personaCache: cache)
        XCTAssertEqual(m2.tokensEvaluated, 0, "the second chat must not re-read the persona")
        XCTAssertEqual(a.snapshots[a.tree.root], b.snapshots[b.tree.root])
        // A damaged entry is ignored (and rewritten).
        for f in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            try Data("junk".utf8).write(to: dir.appendingPathComponent(f))
        }
        let m3 = try ConversationFixtures.model()
        let c = try ChatSession(model: m3, tokenizer: ByteTokenizer(), personaCache: cache)
        XCTAssertGreaterThan(m3.tokensEvaluated, 0)
        XCTAssertEqual(c.snapshots[c.tree.root], a.snapshots[a.tree.root])
    }

    func testStateTuningFileBecomesTheRootState() throws {
        let m = try ConversationFixtures.model()
        let path = ConversationFixtures.repoRoot.appendingPathComponent(
            "Tests/RWKVTests/Fixtures/tiny7.state.safetensors"
        ).path
        let state = try m.initialState(fromStateTuning: path)
        let table = try ModelFormat.open(path: path)
        XCTAssertEqual(Array(state.entry("1.att_kv")!), table["blocks.1.att.time_state"]!.floats())
        XCTAssertEqual(Array(state.entry("0.att_x_prev")!), [Float](repeating: 0, count: 32))
        var t = ChatTemplate.default
        t.warmup = []
        let s = try ChatSession(model: m, tokenizer: ByteTokenizer(), template: t, initialState: state)
        XCTAssertEqual(s.snapshots[s.tree.root]?.state, state)
        let r = try s.send("hello")
        // The reply's state equals a fresh run from the tuned state over the same tokens.
        var fresh = state
        let tokens = s.tree.path(to: r).flatMap { s.tree[$0]!.tokens }
        let logits = try m.sequence(tokens, state: &fresh)
        XCTAssertEqual(try s.snapshot(for: r), Snapshot(state: fresh, logits: logits, tokenCount: tokens.count))

        let bad = ConversationFixtures.repoRoot.appendingPathComponent(
            "Tests/RWKVTests/Fixtures/tiny7.badstate.safetensors"
        ).path
        XCTAssertThrowsError(try m.initialState(fromStateTuning: bad)) {
            XCTAssertEqual(($0 as? ModelFileError)?.kind, .badShape)
            XCTAssertTrue("\($0)".contains("another model"), "\($0)")
        }
        XCTAssertThrowsError(try m.initialState(fromStateTuning: ConversationFixtures.modelPath())) {
            XCTAssertEqual(($0 as? ModelFileError)?.kind, .missingTensor)
        }
    }
}

/// A thread-safe counter.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() {
        lock.lock()
        n += 1
        lock.unlock()
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return n
    }
}

final class StateTuningVersionTests: XCTestCase {
    func testV6StateTuningIsTransposedAndV4IsRefused() throws {
        let fixtures = ConversationFixtures.repoRoot.appendingPathComponent("Tests/RWKVTests/Fixtures")
        let m = try Model.load(path: fixtures.appendingPathComponent("tiny6.fp32.pth").path)
        let path = fixtures.appendingPathComponent("tiny6.state.safetensors").path
        let state = try m.initialState(fromStateTuning: path)
        let tuned = try ModelFormat.open(path: path)["blocks.0.att.time_state"]!.floats()
        let kv = Array(state.entry("0.att_kv")!)
        let (h, n) = (m.config.headCount, m.config.headSize)
        for hh in 0..<h {
            for i in 0..<n {
                for j in 0..<n { XCTAssertEqual(kv[(hh * n + i) * n + j], tuned[(hh * n + j) * n + i]) }
            }
        }
        let v4 = try Model.load(path: fixtures.appendingPathComponent("tiny4.fp32.pth").path)
        XCTAssertThrowsError(try v4.initialState(fromStateTuning: path)) {
            XCTAssertEqual(($0 as? ModelFileError)?.kind, .unsupported)
        }
    }
}
