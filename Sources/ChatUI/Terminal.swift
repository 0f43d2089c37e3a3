/// What the app reads from a terminal.
public enum TerminalInput: Equatable, Sendable {
    /// A key press.
    case key(Key)
    /// Typed or pasted text (several characters that arrived together).
    case text(String)
    /// The terminal has a new size.
    case resize(width: Int, height: Int)
}

/// A screen the app draws frames on and reads keys from.
///
/// `CursesTerminal` is the real one (the only code that talks to curses);
/// `MemoryTerminal` keeps frames in memory for tests.
public protocol Terminal: AnyObject {
    /// Columns and rows.
    var size: (width: Int, height: Int) { get }
    /// Shows `frame`.
    func draw(_ frame: Frame)
    /// The next input, waiting at most `timeoutMs` milliseconds.
    func read(timeoutMs: Int) -> TerminalInput?
    /// Restores the terminal to how it was before the app started.
    func shutdown()
}

/// An in-memory terminal for tests: scripted input, the last frame kept.
public final class MemoryTerminal: Terminal {
    /// Columns and rows.
    public var size: (width: Int, height: Int)
    /// Inputs still to deliver, in order.
    public var pending: [TerminalInput] = []
    /// The frames drawn so far (the last one is on screen).
    public private(set) var frames: [Frame] = []
    /// True after `shutdown`.
    public private(set) var isShutDown = false

    /// A terminal of the given size.
    public init(width: Int, height: Int) { size = (width, height) }

    /// Records `frame`.
    public func draw(_ frame: Frame) { frames.append(frame) }

    /// The next scripted input, or nil.
    public func read(timeoutMs: Int) -> TerminalInput? { pending.isEmpty ? nil : pending.removeFirst() }

    /// Marks the terminal restored.
    public func shutdown() { isShutDown = true }

    /// The screen's text now.
    public var screen: String { frames.last?.text ?? "" }
}
