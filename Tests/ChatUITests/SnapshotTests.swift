import Conversation
import Foundation
import XCTest

@testable import ChatUI

/// The key screens, rendered from fixed states and compared with the files in Snapshots/.
final class SnapshotTests: XCTestCase {
    func testEmptyChat() {
        assertSnapshot(Renderer.render(UIFixtures.emptyState()), "empty-chat")
    }

    func testConversationWithSiblingsBookmarkAndCollapsedThought() {
        let s = UIFixtures.state()
        let f = Renderer.render(s)
        XCTAssertTrue(f.text.contains("Assistant ‹ 2/2 ›"), f.text)
        XCTAssertTrue(f.text.contains("▸ thought for 2 lines"), f.text)
        assertSnapshot(f, "conversation")
    }

    func testSelectedMessageAndExpandedThought() {
        var s = UIFixtures.state()
        s.showThinking = true
        s.selected = 3
        assertSnapshot(Renderer.render(s), "selected-expanded")
    }

    func testStreamingReply() {
        var s = UIFixtures.state()
        _ = s.reduce(.text("What about Japanese?"))
        let effects = s.reduce(.key(.enter))
        XCTAssertEqual(effects, [.submit("What about Japanese?")])
        _ = s.reduce(.engine(.text("Japanese mixes kanji (漢字) with")))
        _ = s.reduce(.engine(.text(" two kana scripts")))
        let f = Renderer.render(s)
        XCTAssertTrue(f.text.contains("two kana scripts▍"), f.text)
        assertSnapshot(f, "streaming")
    }

    func testTreeAsSidePanelAndFullScreen() {
        var wide = UIFixtures.state(width: 120, height: 24)
        _ = wide.reduce(.key(.ctrl("t")))
        _ = wide.reduce(.key(.up))
        assertSnapshot(Renderer.render(wide), "tree-side-panel")
        var narrow = UIFixtures.state()
        _ = narrow.reduce(.key(.ctrl("t")))
        assertSnapshot(Renderer.render(narrow), "tree-full-screen")
    }

    func testHelpOverlay() {
        var s = UIFixtures.state()
        _ = s.reduce(.key(.function(1)))
        assertSnapshot(Renderer.render(s), "help")
    }

    func testSessionBrowser() {
        var s = UIFixtures.state()
        s.now = 1_800_000_000
        _ = s.reduce(.key(.ctrl("o")))
        _ = s.reduce(
            .sessionList([
                SessionEntry(
                    url: URL(fileURLWithPath: "/sessions/demo.rwkvsession"), model: "tiny7.fp32.pth",
                    modified: 1_800_000_000 - 120, turns: 2, bytes: 48_213),
                SessionEntry(
                    url: URL(fileURLWithPath: "/sessions/trip-planning.rwkvsession"), model: "rwkv7-g1a-0.4b.pth",
                    modified: 1_800_000_000 - 3 * 86400, turns: 31, bytes: 2_400_000),
                SessionEntry(
                    url: URL(fileURLWithPath: "/sessions/broken.rwkvsession"), model: "", modified: 0, turns: 0,
                    bytes: 12, problem: "truncated"),
            ]))
        _ = s.reduce(.key(.down))
        assertSnapshot(Renderer.render(s), "session-browser")
    }

    func testTinyTerminal() {
        let f = Renderer.render(UIFixtures.state(width: 30, height: 8))
        XCTAssertTrue(f.text.contains("Terminal too small"))
        assertSnapshot(f, "too-small")
    }

    func testEightyByTwentyFourWithAConfirmation() {
        var s = UIFixtures.state()
        _ = s.reduce(.key(.ctrl("t")))
        _ = s.reduce(.key(.char("d")))
        assertSnapshot(Renderer.render(s), "confirm-delete")
    }

    func testNoModelScreen() {
        var s = AppState(width: 80, height: 24, modelLabel: "")
        s.mode = .noModel("No model to chat with yet\nStart with: rwkv-chat --model PATH")
        assertSnapshot(Renderer.render(s), "no-model")
    }
}
