import XCTest

@testable import ChatUI

/// Column widths of CJK, emoji (ZWJ sequences, flags, variation selectors), combining marks; wrapping and truncation.
final class DisplayWidthTests: XCTestCase {
    func testWidthsOfClusters() {
        let cases: [(String, Int)] = [
            ("a", 1), ("é", 1), ("e\u{301}", 1), ("中", 2), ("あ", 2), ("한", 2), ("Ａ", 2), ("😀", 2),
            ("👨‍👩‍👧", 2), ("🇫🇷", 2), ("❤️", 2), ("❤", 1), ("☺", 1), ("1️⃣", 2), ("👍🏽", 2), ("\u{200B}", 0),
            ("\u{301}", 0), ("─", 1), ("…", 1),
        ]
        for (s, w) in cases {
            XCTAssertEqual(s.count, 1, "\(s) is one cluster")
            XCTAssertEqual(
                DisplayWidth.of(s.first!), w, "width of \(s.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        XCTAssertEqual(DisplayWidth.of("Hi 你好 👨‍👩‍👧!"), 2 + 1 + 4 + 1 + 2 + 1)
    }

    func testWrapNeverExceedsTheWidthAndKeepsEveryCharacter() {
        let texts = [
            "The quick brown fox jumps over the lazy dog",
            "中文文本没有空格所以必须在任意字符处换行才行",
            "emoji 👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧 and flags 🇫🇷🇯🇵 mixed with 漢字 and cafe\u{301}",
            "averyveryverylongwordthatdoesnotfitonasingleline",
            "line one\nline two\n\nafter a blank line",
        ]
        for text in texts {
            for width in [5, 7, 10, 13, 40] {
                let lines = DisplayWidth.wrap(text, width: width)
                for l in lines { XCTAssertLessThanOrEqual(DisplayWidth.of(l), width, "\(text) at \(width): \(l)") }
                // Only spaces at the wrap points are dropped.
                let kept = lines.joined().filter { $0 != " " }
                XCTAssertEqual(kept, text.filter { $0 != " " && $0 != "\n" }, "\(text) at \(width)")
            }
        }
        XCTAssertEqual(DisplayWidth.wrap("hello world again", width: 11), ["hello world", "again"])
        XCTAssertEqual(DisplayWidth.wrap("中文中文中", width: 4), ["中文", "中文", "中"])
        XCTAssertEqual(DisplayWidth.wrap("a\n\nb", width: 10), ["a", "", "b"])
    }

    func testTruncationEndsInAnEllipsisAndNeverSplitsAWideCharacter() {
        XCTAssertEqual(DisplayWidth.truncate("hello", width: 5), "hello")
        XCTAssertEqual(DisplayWidth.truncate("hello world", width: 6), "hello…")
        XCTAssertEqual(DisplayWidth.truncate("中文中文", width: 6), "中文…")
        XCTAssertEqual(DisplayWidth.truncate("中文中文", width: 5), "中文…")
        XCTAssertEqual(DisplayWidth.truncate("👨‍👩‍👧👨‍👩‍👧", width: 3), "👨‍👩‍👧…")
        XCTAssertEqual(DisplayWidth.of(DisplayWidth.pad("中", width: 5)), 5)
    }

    func testSanitizeRemovesControlCharacters() {
        XCTAssertEqual(DisplayWidth.sanitize("a\u{1b}[2Jb\tc\r\nd\u{7}"), "a\u{FFFD}[2Jb    c\nd\u{FFFD}")
    }

    func testFramePutsWideCharactersInTwoCellsAndClipsWithoutHalves() {
        var f = Frame(width: 6, height: 1)
        let end = f.put("a中b", x: 0, y: 0, style: .normal)
        XCTAssertEqual(end, 4)
        XCTAssertEqual(f[1, 0].text, "中")
        XCTAssertEqual(f[2, 0].text, "")
        XCTAssertEqual(f.line(0), "a中b")
        var g = Frame(width: 4, height: 1)
        g.put("abc中", x: 0, y: 0, style: .normal)
        XCTAssertEqual(g.line(0), "abc", "a wide character that does not fit is not drawn in half")
        var h = Frame(width: 5, height: 1)
        h.put("👨‍👩‍👧x", x: 0, y: 0, style: .normal)
        XCTAssertEqual(h.line(0), "👨‍👩‍👧x")
    }
}
