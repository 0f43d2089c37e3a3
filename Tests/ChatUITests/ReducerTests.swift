import Conversation
import Foundation
import XCTest

@testable import ChatUI

/// Every action through the reducer: the resulting state and the effects asked for.
final class ReducerTests: XCTestCase {
    var s = UIFixtures.state()

    override func setUp() { s = UIFixtures.state() }

    @discardableResult
    func press(_ keys: Key...) -> [Effect] {
        var effects: [Effect] = []
        for k in keys { effects += s.reduce(.key(k)) }
        return effects
    }

    func type(_ text: String) { _ = s.reduce(.text(text)) }

    // MARK: Sending

    func testEnterSendsAMessageAndShowsItWhileTheReplyStreams() {
        type("How are you?")
        XCTAssertEqual(press(.enter), [.submit("How are you?")])
        XCTAssertTrue(s.busy)
        XCTAssertTrue(s.input.isEmpty)
        XCTAssertEqual(s.pending?.userText, "How are you?")
        XCTAssertEqual(s.pending?.basePath, s.view?.tree.activePath)
        XCTAssertEqual(s.history, ["How are you?"])
        _ = s.reduce(.engine(.text("Fine")))
        _ = s.reduce(.engine(.text(", thanks")))
        XCTAssertEqual(s.pending?.text, "Fine, thanks")
        _ = s.reduce(.session(SessionView(tree: UIFixtures.tree())))
        XCTAssertNil(s.pending)
        _ = s.reduce(.commandFinished)
        XCTAssertFalse(s.busy)
    }

    func testEnterWhileBusyKeepsTheTextAndSaysWhy() {
        type("first")
        press(.enter)
        type("second")
        XCTAssertEqual(press(.enter), [])
        XCTAssertEqual(s.input.text, "second")
        XCTAssertTrue(s.transientIsError)
        XCTAssertEqual(press(.escape), [.cancelGeneration])
    }

    func testBackslashesAndLeadingSlashesAreSentLiterally() {
        type("a\\nb")
        XCTAssertEqual(press(.enter), [.submit("a\\\\nb")], "the parser's \\n escape cannot change the text")
        _ = s.reduce(.commandFinished)
        type("//path is not a command")
        XCTAssertEqual(press(.enter), [.submit("//path is not a command")])
    }

    func testCommandsTypedInTheInput() {
        type("/info")
        XCTAssertEqual(press(.enter), [.submit("/info")])
        _ = s.reduce(.commandFinished)
        type("/help")
        XCTAssertEqual(press(.enter), [])
        XCTAssertEqual(s.mode, .help)
        press(.escape)
        type("/bogus")
        XCTAssertEqual(press(.enter), [])
        XCTAssertTrue(s.transient?.contains("unknown command") == true)
        XCTAssertEqual(s.input.text, "/bogus", "a mistyped command stays in the box")
        s.input = InputEditor()
        type("/continue")
        XCTAssertEqual(press(.enter), [.submit("/continue")])
        XCTAssertTrue(s.pending?.prefix.hasPrefix("Chinese") == true)
    }

    func testNewlinesPasteAndHistory() {
        type("line one")
        press(.altEnter)
        type("line two")
        press(.ctrl("j"))
        XCTAssertEqual(s.input.text, "line one\nline two\n")
        s.input = InputEditor()
        // A bracketed paste: Enter inside it is a newline, never "send".
        press(.pasteStart)
        type("pasted\n")
        XCTAssertEqual(press(.enter), [])
        type("/quit")
        press(.pasteEnd)
        XCTAssertEqual(s.input.text, "pasted\n\n/quit")
        XCTAssertFalse(s.quitRequested)
        press(.ctrl("u"))
        press(.backspace)
        XCTAssertEqual(s.input.text, "pasted\n")
        s.input = InputEditor()
        s.history = ["one", "two"]
        type("draft")
        press(.up)
        XCTAssertEqual(s.input.text, "two")
        press(.up)
        XCTAssertEqual(s.input.text, "one")
        press(.down, .down)
        XCTAssertEqual(s.input.text, "draft")
    }

    func testCursorAndKillKeys() {
        type("hello big world")
        press(.ctrlLeft, .ctrl("w"))
        XCTAssertEqual(s.input.text, "hello world")
        press(.home, .delete, .end, .backspace, .left, .right)
        XCTAssertEqual(s.input.text, "ello worl")
        press(.home, .ctrl("k"))
        XCTAssertEqual(s.input.text, "")
    }

    func testTabCompletesCommandNames() {
        type("/reg")
        press(.tab)
        XCTAssertEqual(s.input.text, "/regen ")
        s.input = InputEditor()
        type("/s")
        press(.tab)
        XCTAssertEqual(Set(s.completions), ["/siblings ", "/save ", "/set "])
        s.input = InputEditor()
        type("/load ses")
        XCTAssertEqual(press(.tab), [.completePath("ses")])
        _ = s.reduce(.completions(["sessions/"]))
        XCTAssertEqual(s.input.text, "/load sessions/")
    }

    // MARK: Branching

    func testRegenerateTheLastOrTheSelectedReply() {
        XCTAssertEqual(press(.ctrl("r")), [.submit("/regen 5")])
        XCTAssertEqual(s.pending?.basePath, [0, 1, 3, 4])
        _ = s.reduce(.commandFinished)
        press(.altUp, .altUp, .altUp)
        XCTAssertEqual(s.selected, 3)
        XCTAssertEqual(press(.ctrl("r")), [.submit("/regen 3")])
        _ = s.reduce(.commandFinished)
        s.selected = 1
        XCTAssertEqual(press(.ctrl("r")), [.submit("/regen 3")], "a selected message regenerates its reply")
    }

    func testEditCreatesABranchFromTheMessagesParent() {
        XCTAssertEqual(press(.ctrl("e")), [])
        XCTAssertEqual(s.editing, 4)
        XCTAssertTrue(s.input.text.hasPrefix("Tell me about"))
        s.input = InputEditor(text: "Tell me about Japanese")
        XCTAssertEqual(press(.enter), [.submit("/edit #4 Tell me about Japanese")])
        XCTAssertEqual(s.pending?.basePath, [0, 1, 3])
        XCTAssertNil(s.editing)
        _ = s.reduce(.commandFinished)
        press(.ctrl("e"))
        press(.escape)
        XCTAssertNil(s.editing)
        XCTAssertTrue(s.input.isEmpty)
    }

    func testSelectionAndSiblingSwitching() {
        press(.altUp)
        XCTAssertEqual(s.selected, 5)
        press(.altUp, .altUp)
        XCTAssertEqual(s.selected, 3)
        XCTAssertEqual(press(.altLeft), [.submit("/goto 2")])
        XCTAssertEqual(s.selected, 2)
        _ = s.reduce(.commandFinished)
        press(.altDown, .altDown, .altDown, .altDown)
        XCTAssertNil(s.selected, "moving past the last message clears the selection")
        XCTAssertEqual(press(.altRight), [])
        XCTAssertEqual(s.transient, "no other branch at this message")
        press(.altUp)
        press(.escape)
        XCTAssertNil(s.selected)
    }

    func testRewindNewChatSaveAsAndQuit() {
        XCTAssertEqual(press(.ctrl("z")), [.submit("/rewind")])
        _ = s.reduce(.commandFinished)
        XCTAssertEqual(press(.ctrl("n")), [.submit("/new")])
        _ = s.reduce(.commandFinished)
        press(.ctrl("s"))
        XCTAssertEqual(s.mode, .prompt(.saveAs))
        XCTAssertEqual(s.promptInput.text, "demo")
        s.promptInput = InputEditor(text: "/tmp/x.rwkvsession")
        XCTAssertEqual(press(.enter), [.submit("/save /tmp/x.rwkvsession")])
        _ = s.reduce(.commandFinished)
        XCTAssertEqual(press(.ctrl("q")), [.quit])
        XCTAssertTrue(s.quitRequested)
        var busy = UIFixtures.state()
        busy.busy = true
        XCTAssertEqual(busy.reduce(.key(.ctrl("q"))), [.cancelGeneration, .quit])
        var signalled = UIFixtures.state()
        XCTAssertEqual(signalled.reduce(.terminate), [.cancelGeneration, .quit])
    }

    func testThinkingScrollHelpAndResize() {
        press(.function(2))
        XCTAssertTrue(s.showThinking)
        press(.pageUp)
        XCTAssertGreaterThan(s.scroll, 0)
        press(.pageDown, .pageDown)
        XCTAssertEqual(s.scroll, 0)
        press(.wheelUp)
        XCTAssertEqual(s.scroll, 3)
        press(.end)
        XCTAssertEqual(s.scroll, 0)
        type("?")
        XCTAssertEqual(s.mode, .help)
        press(.down, .pageDown)
        XCTAssertGreaterThan(s.overlayScroll, 0)
        press(.escape)
        XCTAssertEqual(s.mode, .chat)
        type("a?")
        XCTAssertEqual(s.input.text, "a?", "? is text when the box is not empty")
        _ = s.reduce(.resize(width: 132, height: 50))
        XCTAssertEqual(s.width, 132)
    }

    // MARK: Tree view

    func testWideTreePanelStaysOpenAfterEnter() {
        s = UIFixtures.state(width: 120, height: 30)
        press(.ctrl("t"), .left)
        XCTAssertEqual(press(.enter), [.submit("/goto 4")])
        XCTAssertEqual(s.mode, .tree)
    }

    func testTreeNavigationActivationBookmarkDeleteAndSearch() {
        press(.ctrl("t"))
        XCTAssertEqual(s.mode, .tree)
        XCTAssertEqual(s.treeSelection, 5)
        press(.left)
        XCTAssertEqual(s.treeSelection, 4)
        press(.left, .left)
        XCTAssertEqual(s.treeSelection, 1)
        press(.right)
        XCTAssertEqual(s.treeSelection, 3, "→ follows the active branch")
        press(.char("["))
        XCTAssertEqual(s.treeSelection, 2)
        press(.down)
        XCTAssertEqual(s.treeSelection, 3)
        press(.up, .up)
        XCTAssertEqual(s.treeSelection, 1)
        press(.down)
        XCTAssertEqual(press(.enter), [.submit("/goto 2")])
        XCTAssertEqual(s.selected, 2)
        XCTAssertEqual(s.mode, .chat, "a full-screen tree closes to show the branch")
        _ = s.reduce(.commandFinished)
        press(.ctrl("t"))
        XCTAssertEqual(s.treeSelection, 2)
        XCTAssertEqual(press(.char("b")), [.submit("/bookmark 2")])
        _ = s.reduce(.commandFinished)
        press(.char("d"))
        XCTAssertEqual(s.mode, .confirm(.deleteNode(2)))
        press(.char("n"))
        XCTAssertEqual(s.mode, .tree)
        press(.char("d"))
        XCTAssertEqual(press(.char("y")), [.submit("/delete 2")])
        _ = s.reduce(.commandFinished)
        press(.char("/"))
        XCTAssertEqual(s.mode, .prompt(.search))
        _ = s.reduce(.text("EMOJI"))
        press(.enter)
        XCTAssertEqual(s.searchHits, [4, 5])
        XCTAssertEqual(s.treeSelection, 4)
        press(.char("n"))
        XCTAssertEqual(s.treeSelection, 5)
        press(.char("n"))
        XCTAssertEqual(s.treeSelection, 4, "n wraps around")
        press(.escape)
        XCTAssertEqual(s.mode, .chat)
    }

    // MARK: Session browser

    func testSessionBrowserOpenRenameDeleteNew() {
        XCTAssertEqual(press(.ctrl("o")), [.listSessions])
        let a = URL(fileURLWithPath: "/sessions/demo.rwkvsession")
        let b = URL(fileURLWithPath: "/sessions/other.rwkvsession")
        _ = s.reduce(
            .sessionList([
                SessionEntry(url: a, model: "m", modified: 2, turns: 1, bytes: 10),
                SessionEntry(url: b, model: "m", modified: 1, turns: 3, bytes: 20),
            ]))
        press(.char("d"))
        XCTAssertEqual(s.mode, .sessions, "the open session cannot be deleted")
        XCTAssertTrue(s.transientIsError)
        press(.down)
        press(.char("r"))
        XCTAssertEqual(s.mode, .prompt(.rename(b)))
        s.promptInput = InputEditor(text: "renamed")
        XCTAssertEqual(press(.enter), [.renameSession(b, "renamed")])
        press(.char("d"))
        XCTAssertEqual(press(.char("y")), [.deleteSession(b)])
        XCTAssertEqual(press(.enter), [.submit("/load /sessions/other.rwkvsession")])
        XCTAssertEqual(s.mode, .chat)
        _ = s.reduce(.commandFinished)
        press(.ctrl("o"))
        XCTAssertEqual(press(.char("n")), [.submit("/new")])
    }

    // MARK: Engine reports and the clock

    func testEngineReportsAndTransientMessages() {
        s.now = 100
        _ = s.reduce(.engine(.error("no such node")))
        XCTAssertEqual(s.transient, "no such node")
        XCTAssertTrue(s.transientIsError)
        _ = s.reduce(.tick(102))
        XCTAssertNotNil(s.transient)
        _ = s.reduce(.tick(105))
        XCTAssertNil(s.transient)
        _ = s.reduce(.engine(.info("line one\nline two")))
        XCTAssertEqual(s.mode, .info("line one\nline two"))
        press(.escape)
        _ = s.reduce(.engine(.saved("/tmp/a.rwkvsession")))
        XCTAssertEqual(s.transient, "saved to /tmp/a.rwkvsession")
        XCTAssertEqual(s.reduce(.engine(.quit)), [.quit])
        _ = s.reduce(.notice("autosave failed", isError: true))
        XCTAssertTrue(s.transientIsError)
    }

    func testNoModelScreenQuitsOnAnyKey() {
        var n = AppState(width: 80, height: 24, modelLabel: "")
        n.mode = .noModel("x")
        XCTAssertEqual(n.reduce(.key(.enter)), [.quit])
    }

    func testConfiguredKeysReplaceTheDefaults() {
        var map = KeyMap.standard
        XCTAssertEqual(map.apply(["regenerate": ["ctrl-g"], "bogus": ["x"], "quit": ["hyper-q"]]).count, 2)
        s.keys = map
        XCTAssertEqual(press(.ctrl("g")), [.submit("/regen 5")])
        XCTAssertEqual(Key(name: "alt-left"), .altLeft)
        XCTAssertEqual(Key(name: "F2"), .function(2))
    }

    /// Random key sequences at many sizes: the reducer and the renderer never crash,
    /// and every frame has exactly the terminal's size.
    func testRandomKeysAtManySizesNeverBreakTheScreen() {
        let pool: [Action] = [
            .key(.up), .key(.down), .key(.left), .key(.right), .key(.enter), .key(.escape), .key(.tab),
            .key(.backspace), .key(.pageUp), .key(.pageDown), .key(.home), .key(.end), .key(.altUp), .key(.altDown),
            .key(.altLeft), .key(.altRight), .key(.ctrl("t")), .key(.ctrl("o")), .key(.ctrl("e")), .key(.ctrl("s")),
            .key(.ctrl("r")), .key(.function(1)), .key(.function(2)), .key(.char("[")), .key(.char("d")),
            .key(.char("n")), .key(.char("y")), .key(.char("/")), .text("中文 😀 text\nmore"), .text("?"),
            .engine(.text("streamed 漢字 ")), .engine(.info("a\nb\nc")), .engine(.error("oops")), .commandFinished,
            .session(SessionView(tree: UIFixtures.tree())),
            .sessionList([
                SessionEntry(url: URL(fileURLWithPath: "/s/a.rwkvsession"), model: "m", modified: 0, turns: 1, bytes: 1)
            ]),
            .key(.pasteStart), .key(.pasteEnd), .tick(1e9),
        ]
        var rng = SystemRandomNumberGenerator()
        for (w, h) in [(40, 10), (41, 11), (64, 16), (80, 24), (100, 30), (160, 50), (39, 9), (10, 3)] {
            var st = UIFixtures.state(width: w, height: h)
            for _ in 0..<400 {
                let a = pool.randomElement(using: &rng)!
                if case .key(.ctrl("q")) = a { continue }
                _ = st.reduce(a)
                if st.quitRequested { st.quitRequested = false }
                let f = Renderer.render(st)
                XCTAssertEqual(f.cells.count, w * h)
                // Every two-column cluster is followed by its continuation cell inside the row,
                // and every continuation cell follows one: no half characters, no overflow.
                for y in 0..<h {
                    for x in 0..<w {
                        let t = f[x, y].text
                        if !t.isEmpty && DisplayWidth.of(t) == 2 {
                            XCTAssertTrue(x + 1 < w && f[x + 1, y].text.isEmpty, "wide \(t) at \(x),\(y) of \(w)×\(h)")
                        }
                        if t.isEmpty {
                            XCTAssertTrue(
                                x > 0 && DisplayWidth.of(f[x - 1, y].text) == 2, "stray half cell at \(x),\(y)")
                        }
                    }
                }
                if let c = f.cursor {
                    XCTAssertTrue((0...w).contains(c.x) && (0..<h).contains(c.y), "cursor \(c) at \(w)×\(h)")
                }
            }
        }
    }
}
