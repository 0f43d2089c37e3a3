import Conversation
import Foundation
import RWKV
import XCTest

@testable import ChatUI

/// The app loop on an in-memory terminal with a real (tiny) model: keys in, frames out.
final class AppTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-app-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let modelPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("RWKVTests/Fixtures/tiny7.fp32.pth").path

    func makeApp(maxTokens: Int = 24, width: Int = 80, height: Int = 24) throws -> (ChatApp, MemoryTerminal) {
        let model = try Model.load(path: Self.modelPath)
        let session = try ChatSession(model: model, tokenizer: ByteTokenizer(), maxTokens: maxTokens)
        let controller = ChatController(session: session, templates: TemplateLibrary(directories: []))
        let terminal = MemoryTerminal(width: width, height: height)
        let app = ChatApp(
            controller: controller, terminal: terminal, modelLabel: "tiny7 · fp32", autosaveDirectory: dir)
        return (app, terminal)
    }

    /// Steps the loop until the worker is idle and nothing is left to do (or `seconds` pass).
    func settle(_ app: ChatApp, seconds: Double = 20) {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            app.step(timeoutMs: 1)
        } while (app.state.busy || app.worker.isBusy) && Date() < deadline
        app.step(timeoutMs: 1)
        app.draw()
    }

    func testTypeSendRegenerateSwitchResizeAndQuit() throws {
        let (app, term) = try makeApp()
        app.draw()
        XCTAssertTrue(term.screen.contains("Type a message"))
        term.pending = [.text("Hello"), .key(.enter)]
        settle(app)
        XCTAssertTrue(term.screen.contains("You"))
        XCTAssertTrue(term.screen.contains("Hello"))
        XCTAssertTrue(term.screen.contains("Assistant"))
        let saved = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
            $0.hasSuffix(".rwkvsession")
        }
        XCTAssertEqual(saved.count, 1, "the new session autosaves after the reply")

        term.pending = [.key(.ctrl("r"))]
        settle(app)
        XCTAssertTrue(term.screen.contains("‹ 2/2 ›"), term.screen)
        term.pending = [.key(.altLeft)]
        settle(app)
        XCTAssertTrue(term.screen.contains("‹ 1/2 ›"), term.screen)

        term.pending = [.resize(width: 50, height: 14)]
        settle(app)
        XCTAssertEqual(term.frames.last?.width, 50)
        XCTAssertTrue(term.screen.contains("‹ 1/2 ›"), "the transcript reflows after a resize:\n\(term.screen)")

        term.pending = [.key(.ctrl("q"))]
        var running = true
        for _ in 0..<1000 where running { running = app.step(timeoutMs: 1) }
        XCTAssertFalse(running)
        app.finish()
        XCTAssertTrue(term.isShutDown)
        let url = dir.appendingPathComponent(saved[0])
        let summary = try SessionFile.inspect(url)
        XCTAssertEqual(summary.tree.nodes.count, 4, "persona, message, two replies")
    }

    func testEscCancelsALongReplyAndKeepsIt() throws {
        let (app, term) = try makeApp(maxTokens: 1_000_000)
        term.pending = [.text("Go on forever"), .key(.enter)]
        app.step(timeoutMs: 1)
        // Wait for the reply to start streaming, then cancel it.
        let deadline = Date().addingTimeInterval(10)
        while app.state.pending?.text.isEmpty ?? true, Date() < deadline { app.step(timeoutMs: 1) }
        let pressed = Date()
        term.pending = [.key(.escape)]
        while app.state.busy, Date() < deadline.addingTimeInterval(10) { app.step(timeoutMs: 1) }
        let latency = Date().timeIntervalSince(pressed)
        print("[tui] Esc to reply stopped: \(String(format: "%.1f", latency * 1000)) ms")
        settle(app)
        let tree = try XCTUnwrap(app.state.view?.tree)
        let reply = try XCTUnwrap(tree[tree.cursor])
        XCTAssertEqual(reply.finish, .cancelled)
        XCTAssertTrue(term.screen.contains("(cancelled)"), term.screen)
    }

    func testResponsivenessWithAHugePasteAndA500TurnSession() throws {
        // A 10,000-character paste arrives as text between paste markers.
        var s = UIFixtures.state()
        let paste = String(repeating: "Lorem ipsum dolor sit amet, 中文 😀 consectetur.\n", count: 200).prefix(10_000)
        _ = s.reduce(.key(.pasteStart))
        var t0 = Date()
        _ = s.reduce(.text(String(paste)))
        _ = s.reduce(.key(.pasteEnd))
        let pasteReduce = Date().timeIntervalSince(t0)
        t0 = Date()
        let frame = Renderer.render(s)
        let pasteRender = Date().timeIntervalSince(t0)
        XCTAssertEqual(s.input.chars.count, paste.count)
        XCTAssertFalse(s.busy, "the paste sent nothing")
        XCTAssertTrue(frame.text.contains("›") || frame.text.contains("consectetur"))
        t0 = Date()
        _ = s.reduce(.text("x"))
        _ = Renderer.render(s)
        let keyAfterPaste = Date().timeIntervalSince(t0)

        // 500 turns: 1,000 messages of about 200 characters each.
        let tree = ConversationTree.synthetic(turns: 500)
        var big = AppState(width: 120, height: 40, modelLabel: "m")
        big.view = SessionView(tree: tree)
        func median(_ body: () -> Void) -> Double {
            var times: [Double] = []
            for _ in 0..<9 {
                let t = Date()
                body()
                times.append(Date().timeIntervalSince(t))
            }
            return times.sorted()[4]
        }
        let chatFrame = median { _ = Renderer.render(big) }
        _ = big.reduce(.key(.ctrl("t")))
        let treeFrame = median { _ = Renderer.render(big) }
        _ = big.reduce(.key(.escape))
        let select = median { _ = big.reduce(.key(.altUp)) }
        print(
            String(
                format:
                    "[tui] 10,000-char paste: reduce %.1f ms, render %.1f ms, next key + frame %.1f ms; 500-turn session: chat frame %.1f ms, tree frame %.1f ms, select message %.1f ms (medians of 9, debug build)",
                pasteReduce * 1000, pasteRender * 1000, keyAfterPaste * 1000, chatFrame * 1000, treeFrame * 1000,
                select * 1000))
    }
}
