import XCTest

@testable import ChatUI

final class InputEditorTests: XCTestCase {
    func testEditingOperations() {
        var e = InputEditor()
        e.insert("hello world")
        e.moveWord(-1)
        XCTAssertEqual(e.caret, 6)
        e.insert("big ")
        XCTAssertEqual(e.text, "hello big world")
        e.killWordBack()
        XCTAssertEqual(e.text, "hello world")
        e.end()
        e.backspace()
        XCTAssertEqual(e.text, "hello worl")
        e.home()
        e.deleteForward()
        XCTAssertEqual(e.text, "ello worl")
        e.move(4)
        e.killToLineEnd()
        XCTAssertEqual(e.text, "ello")
        e.killToLineStart()
        XCTAssertEqual(e.text, "")
    }

    func testLinesAndVerticalMovement() {
        var e = InputEditor(text: "first line\nsecond\nthird line here")
        XCTAssertTrue(e.onLastLine)
        XCTAssertFalse(e.onFirstLine)
        e.moveLine(-1)
        XCTAssertEqual(e.caret, "first line\nsecond".count, "the column is clamped to the shorter line")
        e.moveLine(-1)
        XCTAssertTrue(e.onFirstLine)
        e.home()
        e.moveLine(1)
        XCTAssertEqual(e.caret, "first line\n".count)
        e.killToLineEnd()
        XCTAssertEqual(e.text, "first line\n\nthird line here")
    }

    func testClustersAreOneStepAndCombiningInputJoins() {
        var e = InputEditor()
        e.insert("a👨‍👩‍👧b")
        XCTAssertEqual(e.chars.count, 3)
        e.move(-1)
        e.backspace()
        XCTAssertEqual(e.text, "ab")
        // A terminal delivers a decomposed é as two code points, one after the other.
        e.end()
        e.insert("e")
        e.insert("\u{301}")
        XCTAssertEqual(e.chars.last, "e\u{301}")
        XCTAssertEqual(e.chars.count, 3)
    }

    func testLayoutWrapsAndTracksTheCaret() {
        let e = InputEditor(text: "abcdefgh\n中文中文")
        let l = e.layout(width: 5)
        XCTAssertEqual(l.rows, ["abcde", "fgh", "中文", "中文"])
        XCTAssertEqual(l.caretRow, 3)
        XCTAssertEqual(l.caretColumn, 4)
        let full = InputEditor(text: "abcde").layout(width: 5)
        XCTAssertEqual(full.caretRow, 1, "a caret after a full row moves to the next row")
    }
}

final class PaletteTests: XCTestCase {
    func testColourOverrides() {
        var p = Palette.standard
        XCTAssertEqual(p.apply(["user": "magenta", "title": "White on Blue", "dim": "default"]), [])
        XCTAssertEqual(p.describe(.userLabel), "magenta")
        XCTAssertEqual(p.describe(.title), "white on blue")
        XCTAssertEqual(p.describe(.dim), "default")
        XCTAssertEqual(p.apply(["user": "greenish", "nonsense": "red", "status": "red on"]).count, 3)
        XCTAssertEqual(p.describe(.userLabel), "magenta", "a bad value changes nothing")
    }
}
