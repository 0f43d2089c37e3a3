/// The multi-line input box's text and caret, with the editing operations of a shell line editor.
///
/// Text is kept as an array of `Character`s so the caret moves by whole grapheme
/// clusters (an emoji or a CJK character is one step). Lines are separated by
/// "\n"; "the line" in the operations below is the logical line around the caret.
public struct InputEditor: Equatable, Sendable {
    /// The text, one element per grapheme cluster.
    public private(set) var chars: [Character] = []
    /// The caret: an index into `chars` (0…count).
    public private(set) var caret = 0

    /// An empty editor.
    public init() {}

    /// An editor holding `text` with the caret at its end.
    public init(text: String) {
        chars = Array(text)
        caret = chars.count
    }

    /// The text as a string.
    public var text: String { String(chars) }
    /// True when there is no text.
    public var isEmpty: Bool { chars.isEmpty }

    /// Inserts text at the caret (a paste arrives here whole, newlines included).
    public mutating func insert(_ s: String) {
        // Re-segment around the caret: a terminal delivers a cluster (e + U+0301, a ZWJ
        // emoji) one code point at a time, and the pieces must join into one character.
        let before = String(chars[..<caret]) + s
        let after = String(chars[caret...])
        let joined = Array(before + after)
        caret = min(Array(before).count, joined.count)
        chars = joined
    }

    /// Deletes the character before the caret.
    public mutating func backspace() {
        guard caret > 0 else { return }
        chars.remove(at: caret - 1)
        caret -= 1
    }

    /// Deletes the character after the caret.
    public mutating func deleteForward() {
        guard caret < chars.count else { return }
        chars.remove(at: caret)
    }

    /// Moves the caret one character left or right.
    public mutating func move(_ delta: Int) { caret = min(max(caret + delta, 0), chars.count) }

    /// Start index of the line holding `i`.
    func lineStart(_ i: Int) -> Int {
        var j = i
        while j > 0, chars[j - 1] != "\n" { j -= 1 }
        return j
    }

    /// End index (the newline's index, or count) of the line holding `i`.
    func lineEnd(_ i: Int) -> Int {
        var j = i
        while j < chars.count, chars[j] != "\n" { j += 1 }
        return j
    }

    /// Moves to the start of the line.
    public mutating func home() { caret = lineStart(caret) }
    /// Moves to the end of the line.
    public mutating func end() { caret = lineEnd(caret) }

    /// True when the caret is on the first line.
    public var onFirstLine: Bool { lineStart(caret) == 0 }
    /// True when the caret is on the last line.
    public var onLastLine: Bool { lineEnd(caret) == chars.count }

    /// Moves up (-1) or down (+1) one line, keeping the column where possible.
    public mutating func moveLine(_ direction: Int) {
        let start = lineStart(caret)
        let column = caret - start
        if direction < 0 {
            guard start > 0 else { return }
            let prevStart = lineStart(start - 1)
            caret = min(prevStart + column, start - 1)
        } else {
            let end = lineEnd(caret)
            guard end < chars.count else { return }
            let nextStart = end + 1
            caret = min(nextStart + column, lineEnd(nextStart))
        }
    }

    static func isWordChar(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }

    /// Index of the start of the word before the caret (skipping spaces first).
    func wordStartBefore(_ i: Int) -> Int {
        var j = i
        while j > 0, !Self.isWordChar(chars[j - 1]) { j -= 1 }
        while j > 0, Self.isWordChar(chars[j - 1]) { j -= 1 }
        return j
    }

    /// Moves one word left or right.
    public mutating func moveWord(_ direction: Int) {
        if direction < 0 {
            caret = wordStartBefore(caret)
        } else {
            var j = caret
            while j < chars.count, !Self.isWordChar(chars[j]) { j += 1 }
            while j < chars.count, Self.isWordChar(chars[j]) { j += 1 }
            caret = j
        }
    }

    /// Ctrl-U: deletes from the start of the line to the caret.
    public mutating func killToLineStart() {
        let s = lineStart(caret)
        chars.removeSubrange(s..<caret)
        caret = s
    }

    /// Ctrl-K: deletes from the caret to the end of the line.
    public mutating func killToLineEnd() {
        chars.removeSubrange(caret..<lineEnd(caret))
    }

    /// Ctrl-W: deletes the word before the caret.
    public mutating func killWordBack() {
        let s = wordStartBefore(caret)
        chars.removeSubrange(s..<caret)
        caret = s
    }

    /// Replaces the whole text, caret at the end.
    public mutating func set(_ text: String) { self = InputEditor(text: text) }

    /// The text laid out in rows of at most `width` columns (hard wrap, newlines kept),
    /// with the caret's row and column.
    public func layout(width: Int) -> (rows: [String], caretRow: Int, caretColumn: Int) {
        let width = max(width, 2)
        var rows: [String] = [""]
        var col = 0
        var caretPos = (0, 0)
        for (i, c) in chars.enumerated() {
            if i == caret { caretPos = (rows.count - 1, col) }
            if c == "\n" {
                rows.append("")
                col = 0
                continue
            }
            let shown: Character = c == "\t" ? " " : DisplayWidth.displayable(c)
            let w = max(DisplayWidth.of(shown), 0)
            if col + w > width {
                rows.append("")
                col = 0
                if i == caret { caretPos = (rows.count - 1, 0) }
            }
            rows[rows.count - 1].append(shown)
            col += w
        }
        if caret == chars.count {
            caretPos = (rows.count - 1, col)
            if col >= width {
                rows.append("")
                caretPos = (rows.count - 1, 0)
            }
        }
        return (rows, caretPos.0, caretPos.1)
    }
}
