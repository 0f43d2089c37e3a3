import Conversation
import Foundation

/// The reducer: every change to the UI state goes through `reduce`, which returns the
/// effects (commands for the worker, file operations) the app must carry out.
extension AppState {
    /// How long a status message stays.
    static let transientSeconds = 4.0

    /// Applies `action`; returns what the app must do.
    public mutating func reduce(_ action: Action) -> [Effect] {
        switch action {
        case .resize(let w, let h):
            width = max(w, 1)
            height = max(h, 1)
            return []
        case .tick(let t):
            now = t
            if transient != nil, t >= transientUntil { transient = nil }
            return []
        case .engine(let event):
            return engine(event)
        case .session(let v):
            view = v
            pending = nil
            if let s = selected, !v.tree.activePath.contains(s) { selected = nil }
            if let t = treeSelection, v.tree[t] == nil { treeSelection = v.tree.cursor }
            return []
        case .commandFinished:
            busy = false
            pending = nil
            return []
        case .sessionList(let list):
            sessions = list
            sessionIndex = min(sessionIndex, max(list.count - 1, 0))
            return []
        case .completions(let list):
            applyCompletions(list)
            return []
        case .notice(let text, let isError):
            notify(text, error: isError)
            return []
        case .terminate:
            quitRequested = true
            return [.cancelGeneration, .quit]
        case .text(let s):
            return typed(s)
        case .key(let key):
            return pressed(key)
        }
    }

    /// Shows `text` in the status line for a few seconds.
    mutating func notify(_ text: String, error: Bool = false) {
        transient = text
        transientIsError = error
        transientUntil = now + Self.transientSeconds
    }

    private mutating func engine(_ event: ChatEvent) -> [Effect] {
        switch event {
        case .text(let s):
            pending?.text += s
        case .reply(let summary):
            if summary.finish == .cancelled { notify("reply cancelled; it is kept as a branch") }
        case .info(let text):
            if text.contains("\n") {
                returnMode = .chat
                overlayScroll = 0
                mode = .info(text)
            } else {
                notify(text)
            }
        case .error(let text):
            notify(text, error: true)
        case .saved(let path):
            notify("saved to \(path)")
        case .quit:
            quitRequested = true
            return [.quit]
        }
        return []
    }

    private mutating func typed(_ s: String) -> [Effect] {
        switch mode {
        case .chat:
            if !pasting && s == "?" && input.isEmpty {
                returnMode = .chat
                overlayScroll = 0
                mode = .help
                return []
            }
            input.insert(s)
            historyIndex = nil
            completions = []
            return []
        case .prompt:
            promptInput.insert(s.replacingOccurrences(of: "\n", with: " "))
            return []
        case .tree:
            return s.count == 1 ? treeKey(.char(s.first!)) : []
        case .sessions:
            return s.count == 1 ? sessionsKey(.char(s.first!)) : []
        case .confirm(let kind):
            return s.count == 1 ? confirmKey(.char(s.first!), kind) : []
        case .help, .info:
            return s.count == 1 ? overlayKey(.char(s.first!)) : []
        case .noModel:
            quitRequested = true
            return [.quit]
        }
    }

    private mutating func pressed(_ key: Key) -> [Effect] {
        if key == .pasteStart {
            pasting = true
            return []
        }
        if key == .pasteEnd {
            pasting = false
            return []
        }
        // Inside a bracketed paste every key is text: Enter is a newline, never "send".
        if pasting {
            switch key {
            case .enter, .ctrl("j"), .altEnter: return typed("\n")
            case .tab: return typed("    ")
            case .char(let c): return typed(String(c))
            default: return []
            }
        }
        if case .char(let c) = key { return typed(String(c)) }
        switch mode {
        case .chat: return chatKey(key)
        case .tree: return treeKey(key)
        case .sessions: return sessionsKey(key)
        case .help, .info: return overlayKey(key)
        case .prompt(let kind): return promptKey(key, kind)
        case .confirm(let kind): return confirmKey(key, kind)
        case .noModel:
            quitRequested = true
            return [.quit]
        }
    }

    // MARK: - Chat mode

    /// The messages on the screen, in order.
    var shownMessages: [NodeID] { Transcript.messages(self) }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private mutating func chatKey(_ key: Key) -> [Effect] {
        if let binding = keys.binding(for: key) {
            return perform(binding)
        }
        let layout = ScreenLayout(self)
        let page = max(layout.transcriptHeight - 2, 1)
        // Candidates shown after Tab stay up only while Tab is pressed again.
        if key != .tab { completions = [] }
        switch key {
        case .enter: return send()
        case .tab: return complete()
        case .backspace: input.backspace()
        case .delete: input.deleteForward()
        case .left: input.move(-1)
        case .right: input.move(1)
        case .ctrlLeft, .alt("b"): input.moveWord(-1)
        case .ctrlRight, .alt("f"): input.moveWord(1)
        case .home, .ctrl("a"):
            if input.isEmpty { scroll = Int.max / 2 } else { input.home() }
        case .end:
            if input.isEmpty { scroll = 0 } else { input.end() }
        case .ctrl("u"): input.killToLineStart()
        case .ctrl("k"): input.killToLineEnd()
        case .ctrl("w"): input.killWordBack()
        case .up:
            if input.onFirstLine { recall(-1) } else { input.moveLine(-1) }
        case .down:
            if input.onLastLine { recall(1) } else { input.moveLine(1) }
        case .pageUp: scroll += page
        case .pageDown: scroll = max(scroll - page, 0)
        case .wheelUp: scroll += 3
        case .wheelDown: scroll = max(scroll - 3, 0)
        default: break
        }
        return []
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private mutating func perform(_ binding: Binding) -> [Effect] {
        guard let view else { return [] }
        let tree = view.tree
        switch binding {
        case .cancel:
            if busy {
                notify("cancelling…")
                return [.cancelGeneration]
            }
            if editing != nil {
                editing = nil
                input = InputEditor()
                notify("edit cancelled")
            } else if selected != nil {
                selected = nil
            } else if !completions.isEmpty {
                completions = []
            } else if !input.isEmpty {
                input = InputEditor()
            }
        case .regenerate:
            guard !busy else { return refuseBusy() }
            let target =
                selected.flatMap { id -> NodeID? in
                    guard let n = tree[id] else { return nil }
                    if n.role == .assistant { return id }
                    let path = tree.activePath
                    guard let i = path.firstIndex(of: id), i + 1 < path.count else { return nil }
                    return path[i + 1]
                } ?? tree.activePath.last { tree[$0]?.role == .assistant }
            guard let reply = target, let parent = tree[reply]?.parent else {
                notify("there is no reply to regenerate yet", error: true)
                return []
            }
            return start("/regen \(reply)", base: tree.path(to: parent), user: nil)
        case .edit:
            guard !busy else { return refuseBusy() }
            let target =
                selected.flatMap { id in tree[id]?.role == .user ? id : tree[id]?.parent }
                ?? tree.activePath.last { tree[$0]?.role == .user }
            guard let message = target, let turn = tree[message], turn.role == .user else {
                notify("there is no message to edit yet", error: true)
                return []
            }
            editing = message
            input = InputEditor(text: turn.text)
            notify("editing message #\(message): Enter sends it as a new branch, Esc cancels")
        case .rewind:
            guard !busy else { return refuseBusy() }
            selected = nil
            busy = true
            return [.submit("/rewind")]
        case .previousSibling, .nextSibling:
            guard !busy else { return refuseBusy() }
            guard let at = selected ?? shownMessages.last else { return [] }
            let (ids, index) = tree.siblings(of: at)
            guard ids.count > 1 else {
                notify("no other branch at this message")
                return []
            }
            let target = ids[(index + (binding == .nextSibling ? 1 : -1) + ids.count) % ids.count]
            if selected != nil { selected = target }
            busy = true
            scroll = 0
            return [.submit("/goto \(target)")]
        case .selectPrevious, .selectNext:
            let shown = shownMessages
            guard !shown.isEmpty else { return [] }
            if let s = selected, let i = shown.firstIndex(of: s) {
                let j = i + (binding == .selectNext ? 1 : -1)
                selected = shown.indices.contains(j) ? shown[j] : (binding == .selectNext ? nil : s)
            } else {
                selected = binding == .selectPrevious ? shown.last : nil
            }
            scrollToSelection()
        case .tree:
            treeSelection = selected ?? tree.cursor
            mode = .tree
        case .sessions:
            mode = .sessions
            return [.listSessions]
        case .saveAs:
            promptInput = InputEditor(text: view.fileURL?.deletingPathExtension().lastPathComponent ?? "")
            mode = .prompt(.saveAs)
        case .newChat:
            guard !busy else { return refuseBusy() }
            selected = nil
            editing = nil
            busy = true
            return [.submit("/new")]
        case .quit:
            quitRequested = true
            return busy ? [.cancelGeneration, .quit] : [.quit]
        case .help:
            returnMode = .chat
            overlayScroll = 0
            mode = .help
        case .toggleThinking:
            showThinking.toggle()
        case .newline:
            input.insert("\n")
        }
        return []
    }

    private mutating func refuseBusy() -> [Effect] {
        notify("still working: wait, or press \(keys.label(.cancel)) to stop", error: true)
        return []
    }

    /// Marks the UI busy with a reply shown as it streams, and submits `line`.
    private mutating func start(_ line: String, base: [NodeID], user: String?, prefix: String = "") -> [Effect] {
        busy = true
        scroll = 0
        selected = nil
        pending = PendingReply(basePath: base, userText: user, prefix: prefix, text: "")
        return [.submit(line)]
    }

    /// Enter: a message, an edit, or a /command.
    private mutating func send() -> [Effect] {
        let text = input.text
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return [] }
        guard let view else { return [] }
        let isCommand = text.hasPrefix("/") && !text.hasPrefix("//")
        if isCommand {
            let command: ChatCommand
            do {
                command = try ChatCommand.parse(text)
            } catch {
                notify("\(error)", error: true)
                return []
            }
            remember(text)
            input = InputEditor()
            switch command {
            case .help:
                returnMode = .chat
                overlayScroll = 0
                mode = .help
                return []
            case .quit:
                return perform(.quit)
            case .tree:
                return perform(.tree)
            default:
                guard !busy else { return refuseBusy() }
                if case .continueReply = command, let last = view.tree.activePath.last, let turn = view.tree[last] {
                    return start(text, base: Array(view.tree.activePath.dropLast()), user: nil, prefix: turn.text)
                }
                busy = true
                return [.submit(text)]
            }
        }
        guard !busy else { return refuseBusy() }
        remember(text)
        input = InputEditor()
        // Backslashes are doubled so the command parser's `\n` escape cannot change the text.
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\")
        if let message = editing, let parent = view.tree[message]?.parent {
            editing = nil
            return start("/edit #\(message) \(escaped)", base: view.tree.path(to: parent), user: text)
        }
        // `//text` stays as typed: the parser reads it as a message starting with `/`.
        return start(escaped, base: view.tree.activePath, user: text.hasPrefix("//") ? String(text.dropFirst()) : text)
    }

    private mutating func remember(_ text: String) {
        if history.last != text { history.append(text) }
        if history.count > 500 { history.removeFirst(history.count - 500) }
        historyIndex = nil
    }

    /// Up/Down on the first/last line: walks the history, keeping the unsent draft.
    private mutating func recall(_ direction: Int) {
        guard !history.isEmpty else { return }
        if historyIndex == nil {
            guard direction < 0 else { return }
            draft = input.text
            historyIndex = history.count
        }
        let next = historyIndex! + direction
        if next >= history.count {
            historyIndex = nil
            input = InputEditor(text: draft)
        } else if next >= 0 {
            historyIndex = next
            input = InputEditor(text: history[next])
        }
    }

    /// Tab: completes a command name, or asks the app for paths after a file command.
    private mutating func complete() -> [Effect] {
        let text = input.text
        guard text.hasPrefix("/") else { return [] }
        if !text.contains(" ") {
            applyCompletions(ChatCommand.completions(of: text).map { $0 + " " }, replacingFrom: text.startIndex)
            return []
        }
        let name = text.prefix { $0 != " " }
        guard ["/save", "/load", "/export", "/prompt"].contains(String(name)) else { return [] }
        let arg = text.dropFirst(name.count).drop { $0 == " " }
        return [.completePath(String(arg))]
    }

    /// Applies completion candidates to the argument after the command name (or to the whole input).
    mutating func applyCompletions(_ list: [String], replacingFrom start: String.Index? = nil) {
        let text = input.text
        let from = start ?? text.firstIndex(of: " ").map { text.index(after: $0) } ?? text.endIndex
        let typed = String(text[from...]).trimmingCharacters(in: .whitespaces)
        guard !list.isEmpty else {
            notify("no completions")
            completions = []
            return
        }
        var common = list[0]
        for c in list.dropFirst() {
            while !c.hasPrefix(common) { common.removeLast() }
        }
        if common.count > typed.count {
            input = InputEditor(text: String(text[..<from]) + common)
        }
        completions = list.count > 1 ? list : []
    }

    /// Sets `scroll` so the selected message's label is on screen.
    mutating func scrollToSelection() {
        guard let s = selected else {
            scroll = 0
            return
        }
        let layout = ScreenLayout(self)
        let h = layout.transcriptHeight
        let lines = Transcript.lines(self, width: layout.chatWidth, atLeast: h + scroll, through: s).lines
        guard let first = Transcript.firstLine(of: s, in: lines) else { return }
        let top = max(lines.count - h - scroll, 0)
        if first < top || first >= top + h {
            // Put the label a third of the way down the transcript.
            scroll = max(lines.count - h - max(first - h / 3, 0), 0)
        }
    }
}
