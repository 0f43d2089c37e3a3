import Conversation

/// A key press as the UI sees it, independent of curses key codes.
public enum Key: Hashable, Sendable {
    /// A printable character.
    case char(Character)
    /// Ctrl plus a letter (`ctrl("r")`).
    case ctrl(Character)
    /// Alt (Meta) plus a character.
    case alt(Character)
    /// Enter, Alt-Enter, Tab, Backspace, Delete, Escape.
    case enter, altEnter, tab, backspace, delete, escape
    /// Arrows and the navigation block.
    case up, down, left, right, home, end, pageUp, pageDown
    /// Alt-arrows.
    case altUp, altDown, altLeft, altRight
    /// Ctrl-arrows (word movement).
    case ctrlLeft, ctrlRight
    /// A function key F1…F12.
    case function(Int)
    /// The mouse wheel.
    case wheelUp, wheelDown
    /// Bracketed paste markers (the text between them arrives as characters).
    case pasteStart, pasteEnd

    /// Parses a key name from the config file: `ctrl-r`, `alt-left`, `f1`, `esc`, `enter`, `pgup`, `a`.
    public init?(name: String) {
        let n = name.lowercased().replacingOccurrences(of: "+", with: "-")
        let named: [String: Key] = [
            "enter": .enter, "alt-enter": .altEnter, "tab": .tab, "backspace": .backspace, "delete": .delete,
            "esc": .escape, "escape": .escape, "up": .up, "down": .down, "left": .left, "right": .right,
            "home": .home, "end": .end, "pgup": .pageUp, "pageup": .pageUp, "pgdn": .pageDown, "pagedown": .pageDown,
            "alt-up": .altUp, "alt-down": .altDown, "alt-left": .altLeft, "alt-right": .altRight,
            "ctrl-left": .ctrlLeft, "ctrl-right": .ctrlRight,
        ]
        if let k = named[n] {
            self = k
        } else if n.hasPrefix("ctrl-"), n.count == 6, let c = n.last, c.isLetter {
            self = .ctrl(c)
        } else if n.hasPrefix("alt-"), n.count == 5, let c = n.last {
            self = .alt(c)
        } else if n.hasPrefix("f"), let i = Int(n.dropFirst()), (1...12).contains(i) {
            self = .function(i)
        } else if n.count == 1, let c = n.first {
            self = .char(c)
        } else {
            return nil
        }
    }

    /// The key's name as the help and status line show it (`Ctrl-R`, `Alt-←`, `F1`).
    public var label: String {
        switch self {
        case .char(let c): return String(c)
        case .ctrl(let c): return "Ctrl-\(c.uppercased())"
        case .alt(let c): return "Alt-\(c)"
        case .enter: return "Enter"
        case .altEnter: return "Alt-Enter"
        case .tab: return "Tab"
        case .backspace: return "Backspace"
        case .delete: return "Delete"
        case .escape: return "Esc"
        case .up: return "↑"
        case .down: return "↓"
        case .left: return "←"
        case .right: return "→"
        case .home: return "Home"
        case .end: return "End"
        case .pageUp: return "PgUp"
        case .pageDown: return "PgDn"
        case .altUp: return "Alt-↑"
        case .altDown: return "Alt-↓"
        case .altLeft: return "Alt-←"
        case .altRight: return "Alt-→"
        case .ctrlLeft: return "Ctrl-←"
        case .ctrlRight: return "Ctrl-→"
        case .function(let i): return "F\(i)"
        case .wheelUp: return "wheel up"
        case .wheelDown: return "wheel down"
        case .pasteStart, .pasteEnd: return "paste"
        }
    }
}

/// The commands that keys can be bound to in chat mode (names used in the config file).
public enum Binding: String, CaseIterable, Sendable {
    /// Stop generating (or close/clear).
    case cancel
    /// Regenerate the selected or last reply.
    case regenerate
    /// Edit the selected or last user message.
    case edit
    /// Rewind one turn.
    case rewind
    /// Previous sibling at the selected message.
    case previousSibling = "previous-sibling"
    /// Next sibling at the selected message.
    case nextSibling = "next-sibling"
    /// Select the previous message.
    case selectPrevious = "select-previous"
    /// Select the next message.
    case selectNext = "select-next"
    /// Toggle the tree view.
    case tree
    /// Open the session browser.
    case sessions
    /// Save the session under a new name.
    case saveAs = "save-as"
    /// Start a new conversation.
    case newChat = "new-chat"
    /// Quit (autosaves).
    case quit
    /// Show the help overlay.
    case help
    /// Expand or collapse `<think>` sections.
    case toggleThinking = "toggle-thinking"
    /// Insert a newline in the input.
    case newline

    /// One line for the help overlay.
    public var summary: String {
        switch self {
        case .cancel: return "cancel generation · close a panel · clear the selection"
        case .regenerate: return "regenerate the selected (or last) reply as a new branch"
        case .edit: return "edit the selected (or last) message; Enter sends it as a new branch"
        case .rewind: return "rewind one turn (the next message branches there)"
        case .previousSibling: return "previous alternative at the selected message"
        case .nextSibling: return "next alternative at the selected message"
        case .selectPrevious: return "select the previous message"
        case .selectNext: return "select the next message"
        case .tree: return "conversation tree"
        case .sessions: return "saved sessions"
        case .saveAs: return "save as…"
        case .newChat: return "new conversation"
        case .quit: return "quit (the session is saved)"
        case .help: return "this help"
        case .toggleThinking: return "show or hide <think> sections"
        case .newline: return "new line in the message"
        }
    }
}

/// The key bindings of chat mode: defaults, overridable from the config file.
public struct KeyMap: Equatable, Sendable {
    /// Keys for each binding (a binding may have several).
    public var keys: [Binding: [Key]]

    /// The defaults documented in the README.
    public static let standard = KeyMap(keys: [
        .cancel: [.escape, .ctrl("c")], .regenerate: [.ctrl("r")], .edit: [.ctrl("e")], .rewind: [.ctrl("z")],
        .previousSibling: [.altLeft], .nextSibling: [.altRight], .selectPrevious: [.altUp],
        .selectNext: [.altDown], .tree: [.ctrl("t")], .sessions: [.ctrl("o")], .saveAs: [.ctrl("s")],
        .newChat: [.ctrl("n")], .quit: [.ctrl("q")], .help: [.function(1)], .toggleThinking: [.function(2)],
        .newline: [.altEnter, .ctrl("j")],
    ])

    /// The binding of `key`, if any.
    public func binding(for key: Key) -> Binding? {
        for b in Binding.allCases where keys[b]?.contains(key) == true { return b }
        return nil
    }

    /// The first key of `b`, for hints.
    public func label(_ b: Binding) -> String { keys[b]?.first?.label ?? "(unbound)" }

    /// Applies overrides `{"regenerate": "ctrl-g", "quit": ["ctrl-q", "f10"]}`; returns the names it could not use.
    public mutating func apply(_ overrides: [String: [String]]) -> [String] {
        var problems: [String] = []
        for (name, specs) in overrides {
            guard let b = Binding(rawValue: name) else {
                problems.append("unknown binding '\(name)'")
                continue
            }
            let parsed = specs.compactMap(Key.init(name:))
            guard parsed.count == specs.count, !parsed.isEmpty else {
                problems.append("cannot read the keys \(specs) for '\(name)'")
                continue
            }
            keys[b] = parsed
        }
        return problems
    }
}

/// Everything that changes the UI state: keys (already mapped), engine reports and the clock.
public enum Action: Equatable, Sendable {
    /// A key press, interpreted by the reducer according to the mode.
    case key(Key)
    /// Text typed or pasted.
    case text(String)
    /// The terminal changed size.
    case resize(width: Int, height: Int)
    /// Time passed (clears transient messages).
    case tick(Double)
    /// An event from the command layer.
    case engine(ChatEvent)
    /// The session after a command, from the worker.
    case session(SessionView)
    /// The worker finished the command.
    case commandFinished
    /// The saved sessions, from `.listSessions`.
    case sessionList([SessionEntry])
    /// Completion candidates, from `.completePath`.
    case completions([String])
    /// Show a status message (errors from effects).
    case notice(String, isError: Bool)
    /// SIGTERM, SIGHUP or SIGINT from outside: stop, save and quit.
    case terminate
}
