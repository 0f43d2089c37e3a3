/// How many terminal columns text occupies, and wrapping and truncation by columns.
///
/// Terminals lay text out by grapheme cluster: a CJK ideograph or an emoji takes
/// two columns, a combining mark none (it joins the character before it, so a
/// cluster such as "é" written as e + U+0301 is one column), and a ZWJ sequence
/// such as 👨‍👩‍👧 or a flag is one two-column picture. Swift's `Character` is
/// already a grapheme cluster, so widths are computed per `Character`.
/// Known limit: terminals disagree about some sequences (older ones draw a ZWJ
/// family as three emoji); this follows current xterm, VTE, kitty and tmux 3.x.
public enum DisplayWidth {
    /// Columns of one grapheme cluster: 0, 1 or 2.
    public static func of(_ c: Character) -> Int {
        // Most text is printable ASCII: one column, no Unicode property lookups.
        if let a = c.asciiValue { return a >= 0x20 && a < 0x7F ? 1 : 0 }
        let scalars = c.unicodeScalars
        guard let first = scalars.first else { return 0 }
        // Format characters and lone combining marks have no width of their own.
        if scalars.count == 1 {
            switch first.properties.generalCategory {
            case .nonspacingMark, .enclosingMark, .format, .control: return 0
            default: break
            }
        }
        // VS16 asks for the emoji (two-column) presentation; a ZWJ sequence or a
        // skin-tone sequence is one emoji picture.
        if scalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
        if first.properties.isEmojiPresentation { return 2 }
        if scalars.count > 1, first.properties.isEmoji,
            scalars.contains(where: { $0.value == 0x200D || (0x1F3FB...0x1F3FF).contains($0.value) })
        {
            return 2
        }
        return isWide(first.value) ? 2 : 1
    }

    /// Columns of a string.
    public static func of(_ s: some StringProtocol) -> Int {
        s.reduce(0) { $0 + of($1) }
    }

    /// East Asian Wide and Fullwidth code points (Unicode 15 EastAsianWidth W/F, in ranges).
    static func isWide(_ v: UInt32) -> Bool {
        switch v {
        case 0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF,
            0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3,
            0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
            0x16FE0...0x16FE4, 0x17000...0x18CFF, 0x1B000...0x1B2FF, 0x1F200...0x1F2FF,
            0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return true
        default:
            return false
        }
    }

    /// Text made safe to draw: a tab becomes four spaces and every other control
    /// character except newline becomes U+FFFD, so model output can never move the
    /// cursor or change terminal modes.
    public static func sanitize(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            if c == "\n" {
                out.append(c)
            } else if c == "\t" {
                out += "    "
            } else if c == "\r\n" {
                out.append("\n")
            } else {
                out.append(displayable(c))
            }
        }
        return out
    }

    /// `c`, or U+FFFD when a terminal could not agree with us on its width: control
    /// characters, unassigned and private-use code points (for which `wcwidth` answers
    /// -1 or guesses). Random bytes from a model can decode to any of these, and a
    /// width disagreement would leave stale cells on the screen.
    public static func displayable(_ c: Character) -> Character {
        if c.asciiValue.map({ $0 >= 0x20 && $0 < 0x7F }) == true { return c }
        for s in c.unicodeScalars {
            switch s.properties.generalCategory {
            case .control, .unassigned, .privateUse, .surrogate: return "\u{FFFD}"
            default: continue
            }
        }
        return c
    }

    /// Splits `text` into lines of at most `width` columns: at newlines, then at the last
    /// space that fits (the space is dropped), or mid-word when a word is wider than a line.
    public static func wrap(_ text: String, width: Int) -> [String] {
        let width = max(width, 2)
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            var lineWidth = 0
            var lastSpace: String.Index?  // in `line`
            for c in paragraph {
                let w = of(c)
                if lineWidth + w > width {
                    if let space = lastSpace, c != " " {
                        // Move the partial word after the last space to the next line.
                        let rest = String(line[line.index(after: space)...])
                        lines.append(String(line[..<space]))
                        line = rest
                        lineWidth = of(rest)
                    } else {
                        lines.append(line)
                        line = ""
                        lineWidth = 0
                    }
                    lastSpace = nil
                    if c == " " { continue }
                }
                if c == " " { lastSpace = line.endIndex }
                line.append(c)
                lineWidth += w
            }
            lines.append(line)
        }
        return lines
    }

    /// `text` cut to at most `width` columns, ending in "…" when something was cut.
    public static func truncate(_ text: String, width: Int) -> String {
        guard width > 0 else { return "" }
        if of(text) <= width { return text }
        var out = ""
        var used = 0
        for c in text {
            let w = of(c)
            if used + w > width - 1 { break }
            out.append(c)
            used += w
        }
        return out + "…"
    }

    /// `text` padded with spaces (or truncated) to exactly `width` columns.
    public static func pad(_ text: String, width: Int) -> String {
        let t = truncate(text, width: width)
        return t + String(repeating: " ", count: max(0, width - of(t)))
    }
}
