import CNcursesw
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one file that talks to curses: draws frames and reads keys through ncursesw.
///
/// Raw mode (so Ctrl-C, Ctrl-S, Ctrl-Q and Ctrl-Z arrive as keys), no echo, keypad
/// decoding, bracketed paste, mouse-wheel reporting, and colours mapped from the
/// semantic `Style`s: 256 or 8 colours, attributes only on monochrome terminals,
/// none of them when `NO_COLOR` is set. Crashes that arrive as signals restore the
/// terminal before the process dies.
public final class CursesTerminal: Terminal {
    private var screen: OpaquePointer?
    private var attrs: [Int32] = []
    private var lastCursorVisible = -1

    // Key codes defined for escape sequences terminfo often lacks.
    private static let codePasteStart: Int32 = 0x7A00, codePasteEnd: Int32 = 0x7A01
    private static let codeAltUp: Int32 = 0x7A02, codeAltDown: Int32 = 0x7A03
    private static let codeAltLeft: Int32 = 0x7A04, codeAltRight: Int32 = 0x7A05
    private static let codeCtrlLeft: Int32 = 0x7A06, codeCtrlRight: Int32 = 0x7A07

    /// Starts curses on the controlling terminal, drawing styles in `palette`; throws when there is none.
    public init(palette: Palette = .standard) throws {
        guard isatty(STDIN_FILENO) != 0, isatty(STDOUT_FILENO) != 0 else {
            throw TerminalError(
                "the chat needs a terminal (stdin and stdout must be a TTY); use `rwkv-chat run` for pipes")
        }
        setlocale(LC_ALL, "")
        // Before curses changes the modes, so a crash can put these back.
        shim_install_crash_restore()
        guard let s = newterm(nil, stdout, stdin) else {
            throw TerminalError(
                "cannot start curses for TERM=\(ProcessInfo.processInfo.environment["TERM"] ?? "(unset)")")
        }
        screen = s
        set_term(s)
        set_escdelay(25)
        raw()
        noecho()
        nonl()
        keypad(stdscr, true)
        setupColors(palette)
        mousemask(mmask_t(shim_wheel_up_mask() | shim_wheel_down_mask()), nil)
        mouseinterval(0)
        let sequences: [(String, Int32)] = [
            ("\u{1b}[200~", Self.codePasteStart), ("\u{1b}[201~", Self.codePasteEnd),
            ("\u{1b}[1;3A", Self.codeAltUp), ("\u{1b}[1;3B", Self.codeAltDown),
            ("\u{1b}[1;3D", Self.codeAltLeft), ("\u{1b}[1;3C", Self.codeAltRight),
            ("\u{1b}[1;5D", Self.codeCtrlLeft), ("\u{1b}[1;5C", Self.codeCtrlRight),
        ]
        for (seq, code) in sequences { define_key(seq, code) }
        // Bracketed paste: a paste arrives between markers, so its newlines never send.
        Self.writeRaw("\u{1b}[?2004h")
    }

    /// Columns and rows.
    public var size: (width: Int, height: Int) { (Int(shim_getmaxx()), Int(shim_getmaxy())) }

    private func setupColors(_ palette: Palette) {
        let noColor = ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        let bold = shim_a_bold(), dim = shim_a_dim(), rev = shim_a_reverse(), normal = shim_a_normal()
        // Monochrome (or NO_COLOR): attributes carry the meaning.
        var table: [Style: Int32] = [
            .normal: normal, .title: rev, .userLabel: bold, .assistantLabel: bold, .dim: dim, .status: rev,
            .error: bold | rev, .selection: rev, .border: dim, .accent: bold, .input: normal,
        ]
        if !noColor, has_colors() {
            start_color()
            use_default_colors()
            // Only the eight basic colours are used, so 8-colour terminals look the same as
            // 256-colour ones; -1 is the terminal's default colour.
            let emphasis: [Style: Int32] = [.userLabel: bold, .assistantLabel: bold, .error: bold, .accent: bold]
            for (i, (style, pair)) in palette.pairs.sorted(by: { $0.key.rawValue < $1.key.rawValue }).enumerated() {
                init_pair(Int16(i + 1), pair.foreground ?? -1, pair.background ?? -1)
                table[style] = shim_color_pair(Int32(i + 1)) | (emphasis[style] ?? normal)
            }
        }
        attrs = Style.allCases.map { table[$0] ?? normal }
    }

    /// Draws `frame`: each run of same-styled cells in one call; after any wide or
    /// multi-scalar cluster the cursor is placed explicitly, so a terminal that
    /// measures an emoji differently cannot shift the rest of the row.
    public func draw(_ frame: Frame) {
        erase()
        for y in 0..<frame.height {
            var x = 0
            while x < frame.width {
                let style = frame[x, y].style
                var run = ""
                let start = x
                while x < frame.width, frame[x, y].style == style {
                    let cell = frame[x, y]
                    run += cell.text
                    x += 1
                    let scalars = cell.text.unicodeScalars.count
                    if scalars > 1 || (x < frame.width && frame[x, y].text.isEmpty) {
                        if x < frame.width && frame[x, y].text.isEmpty { x += 1 }
                        break
                    }
                }
                shim_attrset(attrs[style.rawValue])
                mvaddstr(Int32(y), Int32(start), run)
            }
        }
        shim_attrset(shim_a_normal())
        if let c = frame.cursor {
            move(Int32(c.y), Int32(c.x))
            if lastCursorVisible != 1 { curs_set(1) }
            lastCursorVisible = 1
        } else {
            if lastCursorVisible != 0 { curs_set(0) }
            lastCursorVisible = 0
        }
        refresh()
    }

    /// The next input; characters that arrive together are returned as one text
    /// (a paste without bracketed-paste support then still cannot send its newlines).
    public func read(timeoutMs: Int) -> TerminalInput? {
        timeout(Int32(timeoutMs))
        guard let first = readOne() else { return nil }
        guard case .key(.char(let c)) = first else { return first }
        var text = String(c)
        timeout(0)
        while text.utf8.count < 1 << 16 {
            guard let next = readOne() else { break }
            if case .key(.char(let d)) = next {
                text.append(d)
            } else if case .key(.enter) = next {
                // Enter inside a burst of characters is a pasted newline; Enter at the end
                // of a burst (typed text then Enter, as `tmux send-keys` does) still sends.
                guard let after = readOne() else {
                    unget(next)
                    break
                }
                text.append("\n")
                unget(after)
            } else {
                unget(next)
                break
            }
        }
        return text.count == 1 ? first : .text(text)
    }

    private var pushedBack: TerminalInput?

    private func unget(_ input: TerminalInput) { pushedBack = input }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private func readOne() -> TerminalInput? {
        if let p = pushedBack {
            pushedBack = nil
            return p
        }
        var ch: wint_t = 0
        let r = wget_wch(stdscr, &ch)
        if r == ERR { return nil }
        let code = Int32(bitPattern: ch)
        if r == shim_key_code_yes() {
            switch code {
            case KEY_RESIZE: return .resize(width: size.width, height: size.height)
            case KEY_UP: return .key(.up)
            case KEY_DOWN: return .key(.down)
            case KEY_LEFT: return .key(.left)
            case KEY_RIGHT: return .key(.right)
            case KEY_HOME: return .key(.home)
            case KEY_END: return .key(.end)
            case KEY_PPAGE: return .key(.pageUp)
            case KEY_NPAGE: return .key(.pageDown)
            case KEY_BACKSPACE: return .key(.backspace)
            case KEY_DC: return .key(.delete)
            case KEY_ENTER: return .key(.enter)
            case KEY_BTAB: return .key(.tab)
            case Self.codePasteStart: return .key(.pasteStart)
            case Self.codePasteEnd: return .key(.pasteEnd)
            case Self.codeAltUp: return .key(.altUp)
            case Self.codeAltDown: return .key(.altDown)
            case Self.codeAltLeft: return .key(.altLeft)
            case Self.codeAltRight: return .key(.altRight)
            case Self.codeCtrlLeft: return .key(.ctrlLeft)
            case Self.codeCtrlRight: return .key(.ctrlRight)
            case KEY_MOUSE:
                var event = MEVENT()
                guard getmouse(&event) == OK else { return nil }
                if UInt(event.bstate) & shim_wheel_up_mask() != 0 { return .key(.wheelUp) }
                if UInt(event.bstate) & shim_wheel_down_mask() != 0 { return .key(.wheelDown) }
                return nil
            default:
                for n in 1...12 where code == shim_key_f(Int32(n)) { return .key(.function(n)) }
                return nil
            }
        }
        switch code {
        case 13: return .key(.enter)
        case 10: return .key(.ctrl("j"))
        case 9: return .key(.tab)
        case 8, 127: return .key(.backspace)
        case 27:
            // Alt-x arrives as ESC then x; a lone ESC has nothing behind it.
            timeout(0)
            guard let next = readOne() else { return .key(.escape) }
            switch next {
            case .key(.char(let c)): return .key(.alt(c))
            case .key(.enter): return .key(.altEnter)
            case .key(.up): return .key(.altUp)
            case .key(.down): return .key(.altDown)
            case .key(.left): return .key(.altLeft)
            case .key(.right): return .key(.altRight)
            case .key(.escape): return .key(.escape)
            default:
                unget(next)
                return .key(.escape)
            }
        case 1...26: return .key(.ctrl(Character(Unicode.Scalar(UInt8(code) + 96))))
        case 0..<32: return nil
        default:
            guard let scalar = Unicode.Scalar(UInt32(code)) else { return nil }
            return .key(.char(Character(scalar)))
        }
    }

    /// Leaves curses and restores the terminal (idempotent).
    public func shutdown() {
        guard let s = screen else { return }
        // Terminals without an alternate screen (vt100, the Linux console) would keep the
        // last frame with the shell prompt drawn over its status line; clear it first.
        erase()
        refresh()
        Self.writeRaw("\u{1b}[?2004l")
        endwin()
        delscreen(s)
        screen = nil
    }

    deinit { shutdown() }

    static func writeRaw(_ s: String) {
        fflush(stdout)
        _ = s.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
    }
}

/// The terminal cannot be used for the full-screen UI.
public struct TerminalError: Error, CustomStringConvertible, Sendable {
    /// Why.
    public let description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
