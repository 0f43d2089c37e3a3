import Foundation
import XCTest

@testable import Conversation
@testable import RWKV

final class TemplateTests: XCTestCase {
    func testDefaultFramingByteForByte() {
        let t = ChatTemplate.default
        let fed = t.preamble() + t.userTurn("第一行\n\n第二行")
        // The worked example of the reference framing (two turns, no-think, normalised).
        let expected =
            "User: hi\n\nAssistant: Hi. I am your assistant and I will provide expert full response in full details. Please feel free to ask any question and I will always answer it.\n\nUser: 第一行\n第二行\n\nAssistant:"
        XCTAssertEqual(Array(fed.utf8), Array(expected.utf8))
        XCTAssertEqual(t.displayReply(" Hello"), "Hello")
        XCTAssertFalse(fed.hasSuffix(" "), "the generation prompt ends with 'Assistant:' and no space")
    }

    func testShippedTemplatesLoadAndRenderAsSpecified() throws {
        let dir = ConversationFixtures.repoRoot.appendingPathComponent("prompts")
        let lib = TemplateLibrary(directories: [dir])
        for name in ["default", "g1-think", "assistant-zh", "raven", "qa", "plain"] {
            XCTAssertNoThrow(try lib.template(name), name)
        }
        XCTAssertEqual(
            try lib.template("default"), ChatTemplate.default, "prompts/default.json is the built-in default")
        let think = try lib.template("g1-think")
        XCTAssertEqual(think.preamble() + think.userTurn("Why?"), "User: Why?\n\nAssistant: <think")
        let qa = try lib.template("qa")
        XCTAssertEqual(qa.userTurn("2+2?"), "Question: 2+2?\n\nAnswer:")
        let raven = try lib.template("raven")
        XCTAssertTrue(raven.preamble().hasPrefix("System: The following is a coherent verbose detailed conversation"))
        XCTAssertTrue(raven.preamble().contains("\n\nBob: Hello Alice, how are you doing?\n\nAlice: Hi!"))
        XCTAssertEqual(raven.userTurn("hey"), "Bob: hey\n\nAlice:")
        let plain = try lib.template("plain")
        XCTAssertEqual(plain.preamble(), "")
        XCTAssertEqual(
            plain.userTurn("Once upon a time\n\nthere"), "Once upon a time\n\nthere", "plain feeds text as is")
        XCTAssertNil(plain.stopRange(in: "a\n\nb"), "plain mode has no separator stop")
        XCTAssertThrowsError(try lib.template("no-such-template")) { XCTAssertTrue("\($0)".contains("available")) }
    }

    func testNormalisationCannotForgeATurnBoundary() {
        XCTAssertEqual(ChatTemplate.normalize("a\r\n\r\nb"), "a\nb")
        XCTAssertEqual(ChatTemplate.normalize("  a\n \n\t\n  b  \n\n"), "a\n  b")
        XCTAssertEqual(ChatTemplate.normalize("line\n    indented"), "line\n    indented")
        XCTAssertEqual(ChatTemplate.normalize("x\r\ry"), "x\ny")
        var rng = SeededGenerator(seed: 5)
        let pieces = ["\n", "\r", "\r\n", " ", "\t", "a", "User:", "Assistant:", "é", "\u{3000}"]
        let t = ChatTemplate.default
        for _ in 0..<2000 {
            let s = (0..<Int(rng.next() % 12)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            let n = ChatTemplate.normalize(s)
            XCTAssertFalse(n.contains("\n\n"), String(reflecting: s))
            XCTAssertFalse(n.hasPrefix("\n") || n.hasSuffix("\n") || n.hasPrefix(" ") || n.hasSuffix(" "))
            // Within a framed turn, the only separators are the two the template puts there.
            let turn = t.userTurn(s)
            XCTAssertEqual(turn.components(separatedBy: "\n\n").count, 2, String(reflecting: turn))
        }
    }

    func testThinkPartsOfAG1Reply() throws {
        let think = try TemplateLibrary(directories: [ConversationFixtures.repoRoot.appendingPathComponent("prompts")])
            .template("g1-think")
        let parts = think.thinkParts(">\nThe user greets me.\n</think>\nHello! How can I help?")
        XCTAssertEqual(parts.think, "The user greets me.")
        XCTAssertEqual(parts.answer, "Hello! How can I help?")
        XCTAssertEqual(think.thinkParts(">\nstill thinking").answer, "", "cut inside the think block: no answer yet")
        XCTAssertNil(ChatTemplate.default.thinkParts("Plain answer").think)
        XCTAssertEqual(ChatTemplate.default.thinkParts("Plain answer").answer, "Plain answer")
    }

    func testStopStringsAndHoldBack() throws {
        var t = ChatTemplate.default
        t.stopStrings = ["\nUser:"]
        XCTAssertEqual(t.stopRange(in: "abc\n\ndef").map { "abc\n\ndef"[..<$0.lowerBound] }, "abc")
        XCTAssertEqual(t.stopRange(in: "abc\nUser: x").map { "abc\nUser: x"[..<$0.lowerBound] }, "abc")
        let s = try ConversationFixtures.session()
        s.setTemplate(t)
        // A trailing "\n" could start "\n\n" or "\nUser:", so it is held back until decided.
        XCTAssertEqual(String("Hello\n"[..<s.safeEnd("Hello\n")]), "Hello")
        XCTAssertEqual(String("Hello\nUs"[..<s.safeEnd("Hello\nUs")]), "Hello")
        XCTAssertEqual(String("Hello\nX"[..<s.safeEnd("Hello\nX")]), "Hello\nX")
    }
}
