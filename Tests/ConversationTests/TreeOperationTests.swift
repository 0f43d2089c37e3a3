import XCTest

@testable import Conversation
@testable import RWKV

/// Every operation leaves states equal to a fresh run over the same path's tokens.
final class TreeOperationTests: XCTestCase {
    func testBranchRegenerateEditRewindContinueSelectDelete() throws {
        let s = try ConversationFixtures.session()
        try ConversationFixtures.assertSnapshotsExact(s, "new session")
        let r1 = try s.send("Hello there")
        let r2 = try s.send("How are you?")
        let r3 = try s.send("Tell me a story")
        try ConversationFixtures.assertSnapshotsExact(s, "three turns")
        XCTAssertEqual(s.tree.activePath.count, 7)

        // Regenerate a middle reply: a sibling from its message's snapshot.
        let r2b = try s.regenerate(r2)
        XCTAssertEqual(s.tree[r2b]?.parent, s.tree[r2]?.parent)
        XCTAssertEqual(s.cursor, r2b)
        try ConversationFixtures.assertSnapshotsExact(s, "regenerate")

        // Edit the first message: a new sibling user node and reply; the original branch stays.
        let u1 = s.tree[r1]!.parent!
        let e = try s.edit(u1, text: "Good morning")
        XCTAssertEqual(s.tree.siblings(of: s.tree[e]!.parent!).ids.count, 2)
        XCTAssertNotNil(s.tree[r3])
        try ConversationFixtures.assertSnapshotsExact(s, "edit")

        // Select the original branch: the cursor returns to its last-visited tip (r2b).
        try s.select(u1)
        XCTAssertEqual(s.cursor, r2b)
        try ConversationFixtures.assertSnapshotsExact(s, "select")

        // Rewind to r1 and branch from there.
        try s.rewind(to: r1)
        XCTAssertEqual(s.cursor, r1)
        let r4 = try s.send("Something else")
        XCTAssertEqual(s.tree.path(to: r4).count, 5)
        try ConversationFixtures.assertSnapshotsExact(s, "rewind + send")

        // Continue a reply cut by the length limit: in place when it has no children.
        XCTAssertEqual(s.tree[r4]?.finish, .length)
        let before = s.tree[r4]!.tokens
        let c = try s.continueReply(r4)
        XCTAssertEqual(c, r4)
        XCTAssertEqual(Array(s.tree[r4]!.tokens.prefix(before.count)), before)
        XCTAssertGreaterThan(s.tree[r4]!.tokens.count, before.count)
        try ConversationFixtures.assertSnapshotsExact(s, "continue in place")

        // Continue a reply that already has a follow-up: an extended copy becomes a sibling.
        XCTAssertEqual(s.tree[r1]?.finish, .length)
        let copy = try s.continueReply(r1)
        XCTAssertNotEqual(copy, r1)
        XCTAssertEqual(s.tree[copy]?.parent, s.tree[r1]?.parent)
        XCTAssertFalse(s.tree[r1]!.children.isEmpty)
        try ConversationFixtures.assertSnapshotsExact(s, "continue as copy")

        // Delete a subtree: the nodes and their snapshots go, the cursor moves up if inside.
        try s.select(r3)
        let removedUser = s.tree[r3]!.parent!
        try s.delete(removedUser)
        XCTAssertNil(s.tree[r3])
        XCTAssertNil(s.snapshots[r3])
        XCTAssertEqual(s.cursor, r2)
        try ConversationFixtures.assertSnapshotsExact(s, "delete")

        try s.bookmark(r2)
        XCTAssertTrue(s.tree[r2]!.bookmarked)
        XCTAssertThrowsError(try s.delete(s.tree.root))
        XCTAssertThrowsError(try s.regenerate(u1), "a user message is not a reply")
    }

    func testRewindToAUserMessageGoesToItsParentAndSendRequiresAReply() throws {
        let s = try ConversationFixtures.session()
        let r1 = try s.send("one")
        _ = try s.send("two")
        let u2 = s.tree.activePath[3]
        try s.rewind(to: u2)
        XCTAssertEqual(s.cursor, r1)
        XCTAssertThrowsError(try s.rewind(to: 999))
        XCTAssertThrowsError(try s.send("   \n\n  "), "empty messages are refused")
    }

    func testEvictedSnapshotsAreRecomputedExactlyWithinTheBudget() throws {
        let s = try ConversationFixtures.session()
        for i in 0..<8 { _ = try s.send("message \(i)") }
        let perSnapshot = s.snapshots.values.first!.byteCount
        s.snapshotBudget = perSnapshot * 3
        XCTAssertLessThanOrEqual(s.snapshotBytes, perSnapshot * 3)
        XCTAssertNotNil(s.snapshots[s.tree.root])
        XCTAssertNotNil(s.snapshots[s.cursor])
        // Every node's snapshot can be had again, and equals a fresh run.
        for id in s.tree.activePath {
            XCTAssertEqual(try s.snapshot(for: id), try ConversationFixtures.freshSnapshot(s, id), "node \(id)")
        }
        XCTAssertLessThanOrEqual(s.snapshotBytes, perSnapshot * 4, "at most the budget plus the one just recomputed")
    }

    func testSameSeedSameConversation() throws {
        let a = try ConversationFixtures.session(seed: 11)
        let b = try ConversationFixtures.session(seed: 11)
        let c = try ConversationFixtures.session(seed: 12)
        for m in ["a", "b", "c"] {
            _ = try a.send(m)
            _ = try b.send(m)
            _ = try c.send(m)
        }
        XCTAssertEqual(a.tree, b.tree.withTimesOf(a.tree))
        XCTAssertNotEqual(a.tree[a.cursor]!.tokens, c.tree[c.cursor]!.tokens)
    }

    func testProvenanceIsExactlyWhatWasFed() throws {
        let s = try ConversationFixtures.session()
        let r = try s.send("Line one\r\n\r\n\r\nLine two")
        let text = try s.provenance(r)
        XCTAssertTrue(text.hasPrefix("User: hi\n\nAssistant: Hello.\n\nUser: Line one\nLine two\n\nAssistant:"), text)
    }

    func testStreamingDeliversTheReplyTextAndCancellationKeepsAConsistentState() throws {
        let s = try ConversationFixtures.session(maxTokens: 30)
        var streamed = ""
        let r = try s.send("stream please") {
            streamed += $0
            return true
        }
        XCTAssertEqual(streamed, s.tree[r]!.text)
        var pieces = 0
        let cancelled = try s.send("cancel me") { _ in
            pieces += 1
            return pieces < 2
        }
        XCTAssertEqual(s.tree[cancelled]?.finish, .cancelled)
        XCTAssertLessThan(s.tree[cancelled]!.tokens.count, 30)
        try ConversationFixtures.assertSnapshotsExact(s, "after cancel")
        _ = try s.send("next message works")
        try ConversationFixtures.assertSnapshotsExact(s, "after cancel + send")
    }
}

extension ConversationTree {
    /// A copy with every node's timing fields taken from `other` (for comparing content only).
    func withTimesOf(_ other: ConversationTree) -> ConversationTree {
        var t = self
        for id in t.nodes.keys {
            guard let o = other[id] else { continue }
            t.update(id) {
                $0.created = o.created
                $0.prefillSeconds = o.prefillSeconds
                $0.generationSeconds = o.generationSeconds
            }
        }
        return t
    }
}
