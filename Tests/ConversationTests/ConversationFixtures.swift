import Foundation
import XCTest

@testable import Conversation
@testable import RWKV

/// Shared helpers: the project's tiny RWKV-7 fixture and exact-state checks.
enum ConversationFixtures {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func modelPath(_ name: String = "tiny7.fp32.pth") -> String {
        repoRoot.appendingPathComponent("Tests/RWKVTests/Fixtures/\(name)").path
    }

    static func model(_ name: String = "tiny7.fp32.pth") throws -> Model { try Model.load(path: modelPath(name)) }

    /// A session on the tiny model: byte tokens, a short warm-up, short replies.
    static func session(maxTokens: Int = 12, seed: UInt64 = 7, model: Model? = nil) throws -> ChatSession {
        var t = ChatTemplate.default
        t.warmup = [.init(role: "user", text: "hi"), .init(role: "assistant", text: "Hello.")]
        // The random tiny model rarely emits "\n\n", so replies usually end at the length limit.
        return try ChatSession(
            model: model ?? self.model(), tokenizer: ByteTokenizer(), template: t, seed: seed, maxTokens: maxTokens)
    }

    /// The snapshot a fresh run over the path's tokens gives, from the initial state.
    static func freshSnapshot(_ s: ChatSession, _ node: NodeID) throws -> Snapshot {
        let tokens = s.tree.path(to: node).flatMap { s.tree[$0]!.tokens }
        var state = s.model.initialState()
        let logits = try s.model.sequence(tokens, state: &state)
        return Snapshot(state: state, logits: logits, tokenCount: tokens.count)
    }

    /// Every snapshot the session holds equals a fresh run over its path, bit for bit.
    static func assertSnapshotsExact(
        _ s: ChatSession, _ label: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        XCTAssertFalse(s.snapshots.isEmpty, label, file: file, line: line)
        for (id, snap) in s.snapshots {
            let fresh = try freshSnapshot(s, id)
            XCTAssertEqual(snap, fresh, "\(label): snapshot of node \(id)", file: file, line: line)
        }
        // And the cursor's, recomputed if it had been dropped.
        XCTAssertEqual(
            try s.snapshot(for: s.cursor), try freshSnapshot(s, s.cursor), "\(label): cursor", file: file, line: line)
    }

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-chat-tests-\(UUID())")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
}
