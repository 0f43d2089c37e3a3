import Conversation
import Foundation
import XCTest

@testable import ChatUI

/// Trees and states for the UI tests, built without a model.
enum UIFixtures {
    /// persona 0 → user 1 "Hello there" → replies 2 and 3 (3 active) → user 4 "Tell me about 中文" → reply 5.
    static func tree() -> ConversationTree {
        var t = ConversationTree(
            root: Turn(
                id: 0, parent: nil, role: .persona, text: "User: hi\n\nAssistant: Hi! How can I help?",
                tokens: Array(repeating: 1, count: 12), created: 0))
        let u1 = t.add(.user, text: "Hello there", tokens: [1, 2, 3], under: 0, time: 0)
        let r2 = t.add(.assistant, text: "Hi! Nice to meet you.", tokens: [4, 5], under: u1, time: 0)
        t.update(r2) { $0.finish = .stop }
        let r3 = t.add(
            .assistant, text: "<think>\nThe user greets me.\nI greet back.\n</think>\nHello! What shall we talk about?",
            tokens: [6, 7, 8], under: u1, time: 0)
        t.update(r3) { $0.finish = .stop }
        let u4 = t.add(.user, text: "Tell me about 中文 and emoji 👨‍👩‍👧", tokens: [9, 10], under: r3, time: 0)
        let r5 = t.add(
            .assistant,
            text: "Chinese (中文) is written with characters that take two columns each. "
                + "A family emoji 👨‍👩‍👧 is one picture made of three people joined by zero-width joiners.",
            tokens: [11, 12, 13, 14], under: u4, time: 0)
        t.update(r5) { $0.finish = .length }
        t.update(r5) { $0.bookmarked = true }
        t.moveCursor(to: r5)
        return t
    }

    /// A chat-mode state over `tree()`.
    static func state(width: Int = 80, height: Int = 24) -> AppState {
        var s = AppState(width: width, height: height, modelLabel: "tiny7.fp32.pth · fp32")
        s.view = SessionView(tree: tree())
        s.view?.fileURL = URL(fileURLWithPath: "/sessions/demo.rwkvsession")
        s.view?.prefillTokensPerSecond = 812
        s.view?.generationTokensPerSecond = 96
        s.view?.snapshotBytes = 3 << 20
        s.sessionsDirectory = "~/.local/share/rwkv-chat/sessions"
        return s
    }

    /// An empty conversation (persona only).
    static func emptyState(width: Int = 80, height: Int = 24) -> AppState {
        var s = AppState(width: width, height: height, modelLabel: "tiny7.fp32.pth · fp32")
        s.view = SessionView(
            tree: ConversationTree(
                root: Turn(id: 0, parent: nil, role: .persona, text: "", tokens: [], created: 0)))
        return s
    }
}

/// Compares `frame` with `Tests/ChatUITests/Snapshots/NAME.txt`.
///
/// Set `UPDATE_SNAPSHOTS=1` to rewrite the files after an intended change (then review
/// the diff); a missing file is written and the test fails, so new snapshots get looked at.
func assertSnapshot(_ frame: Frame, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
    let dir = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().appendingPathComponent("Snapshots")
    let url = dir.appendingPathComponent("\(name).txt")
    // Row numbers in a margin make the files easy to review; the frame is the rest of each line.
    let text =
        frame.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        .map { String(format: "%02d|", $0.offset) + $0.element }.joined(separator: "\n") + "\n"
    let update = ProcessInfo.processInfo.environment["UPDATE_SNAPSHOTS"] == "1"
    guard let stored = try? String(contentsOf: url, encoding: .utf8), !update else {
        try? text.write(to: url, atomically: true, encoding: .utf8)
        if !update { XCTFail("snapshot \(name) was missing and has been recorded; review it", file: file, line: line) }
        return
    }
    if stored != text {
        let actual = dir.appendingPathComponent("\(name).actual.txt")
        try? text.write(to: actual, atomically: true, encoding: .utf8)
        XCTFail("screen \(name) differs from its snapshot; see \(actual.path)", file: file, line: line)
    }
}
