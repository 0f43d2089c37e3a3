import XCTest

@testable import Conversation

final class ChatCommandTests: XCTestCase {
    func testParser() throws {
        XCTAssertEqual(try ChatCommand.parse("hello\\nworld"), .say("hello\nworld"))
        XCTAssertEqual(try ChatCommand.parse("//etc/passwd is a path"), .say("/etc/passwd is a path"))
        XCTAssertEqual(try ChatCommand.parse("/regen"), .regenerate(nil))
        XCTAssertEqual(try ChatCommand.parse("/regen 7"), .regenerate(7))
        XCTAssertEqual(try ChatCommand.parse("/edit new text"), .edit(nil, "new text"))
        XCTAssertEqual(try ChatCommand.parse("/edit #12 new text"), .edit(12, "new text"))
        XCTAssertThrowsError(try ChatCommand.parse("/edit #12"))
        XCTAssertEqual(try ChatCommand.parse("/new"), .new)
        XCTAssertEqual(try ChatCommand.parse("/rewind"), .rewind(1))
        XCTAssertEqual(try ChatCommand.parse("/rewind 3"), .rewind(3))
        XCTAssertEqual(try ChatCommand.parse("/goto 12"), .goto(12))
        XCTAssertEqual(try ChatCommand.parse("/set temperature 0.8"), .set("temperature", "0.8"))
        XCTAssertEqual(try ChatCommand.parse("/save"), .save(nil))
        XCTAssertEqual(try ChatCommand.parse("/save /tmp/x.rwkvsession"), .save("/tmp/x.rwkvsession"))
        XCTAssertEqual(try ChatCommand.parse("/QUIT"), .quit)
        for bad in ["/rewind -1", "/goto x", "/edit", "/set temperature", "/frobnicate", "/regen now", "/load"] {
            XCTAssertThrowsError(try ChatCommand.parse(bad), bad)
        }
        XCTAssertEqual(ChatCommand.completions(of: "/re"), ["/regen", "/rewind"])
    }

    func testControllerReportsErrorsAndKeepsTheSessionUnchanged() throws {
        let s = try ConversationFixtures.session()
        let c = ChatController(session: s, templates: TemplateLibrary(directories: []))
        var events: [ChatEvent] = []
        let emit: (ChatEvent) -> Bool = {
            events.append($0)
            return true
        }
        c.handle("/regen", emit: emit)
        guard case .error = events.last else { return XCTFail("regen with no reply must fail: \(events)") }
        let before = s.tree
        c.handle("/set temperature hot", emit: emit)
        c.handle("/goto 99", emit: emit)
        c.handle("/nonsense", emit: emit)
        XCTAssertEqual(s.tree, before)
        XCTAssertEqual(events.filter { if case .error = $0 { return true } else { return false } }.count, 4)
        c.handle("Hi there", emit: emit)
        guard case .reply(let r) = events.last else { return XCTFail("\(events)") }
        let streamed = events.compactMap { if case .text(let t) = $0 { return t } else { return nil } }.joined()
        XCTAssertEqual(streamed, r.text)
        c.handle("/regen", emit: emit)
        c.handle("/prev", emit: emit)
        XCTAssertEqual(c.session.cursor, r.node)
        c.handle("/next", emit: emit)
        XCTAssertNotEqual(c.session.cursor, r.node)
        c.handle("/rewind", emit: emit)
        XCTAssertEqual(c.session.cursor, c.session.tree.root)
        XCTAssertFalse(c.handle("/quit", emit: emit))
    }
}
