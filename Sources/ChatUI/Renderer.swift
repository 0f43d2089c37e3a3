import Conversation
import Foundation

/// The screen as a pure function of the state: `render(state) → Frame`.
public enum Renderer {
    /// Draws the whole screen for `state`.
    public static func render(_ state: AppState) -> Frame {
        var f = Frame(width: state.width, height: state.height)
        if ScreenLayout.tooSmall(state) {
            tooSmall(state, &f)
            return f
        }
        if case .noModel(let text) = state.mode {
            centeredText(text, &f, style: .normal)
            return f
        }
        let layout = ScreenLayout(state)
        if state.showsSessions {
            sessions(state, &f)
            status(state, layout, &f)
            return f
        }
        if state.showsTree && layout.panelWidth == 0 {
            tree(state, x: 0, width: state.width, top: 1, height: state.height - 2, &f)
            title(state, &f)
            status(state, layout, &f)
            return f
        }
        title(state, &f)
        transcript(state, layout, &f)
        inputBox(state, layout, &f)
        if layout.panelWidth > 0 {
            tree(state, x: layout.chatWidth, width: layout.panelWidth, top: 1, height: state.height - 2, &f)
        }
        status(state, layout, &f)
        switch state.mode {
        case .help: overlay(title: "Keys and commands", lines: helpLines(state), state, &f)
        case .info(let text): overlay(title: "Output", lines: text.components(separatedBy: "\n"), state, &f)
        default: break
        }
        return f
    }

    static func tooSmall(_ state: AppState, _ f: inout Frame) {
        let lines = [
            "Terminal too small",
            "\(state.width)×\(state.height); rwkv-chat needs \(AppState.minimumWidth)×\(AppState.minimumHeight)",
            "Enlarge the window (Ctrl-Q quits)",
        ]
        for (i, l) in lines.enumerated() {
            let y = state.height / 2 - 1 + i
            let t = DisplayWidth.truncate(l, width: state.width)
            f.put(t, x: max((state.width - DisplayWidth.of(t)) / 2, 0), y: y, style: i == 0 ? .error : .normal)
        }
    }

    static func centeredText(_ text: String, _ f: inout Frame, style: Style) {
        let lines = text.components(separatedBy: "\n").flatMap { DisplayWidth.wrap($0, width: f.width - 4) }
        let top = max((f.height - lines.count) / 2, 0)
        for (i, l) in lines.enumerated() { f.put(l, x: 2, y: top + i, style: i == 0 ? .title : style) }
    }

    static func title(_ state: AppState, _ f: inout Frame) {
        f.fill(x: 0, y: 0, count: f.width, style: .title)
        var left = " rwkv-chat · \(state.modelLabel)"
        if let v = state.view { left += " · \(v.templateName)" }
        let right = state.view?.fileURL.map { " \($0.deletingPathExtension().lastPathComponent) " } ?? " (new session) "
        let rw = DisplayWidth.of(right)
        f.put(DisplayWidth.truncate(left, width: max(f.width - rw - 1, 1)), x: 0, y: 0, style: .title)
        if f.width - rw > 20 { f.put(right, x: f.width - rw, y: 0, style: .title) }
    }

    static func transcript(_ state: AppState, _ layout: ScreenLayout, _ f: inout Frame) {
        let h = layout.transcriptHeight
        let (lines, complete) = Transcript.lines(
            state, width: layout.chatWidth, atLeast: h + min(state.scroll, Int.max / 4), through: nil)
        let hasMessages = lines.contains { $0.node != nil } || state.pending != nil
        if !hasMessages {
            var hint = [
                "Type a message and press Enter.",
                "\(state.keys.label(.newline)) adds a line · F1 or ? shows every key · Ctrl-Q quits",
            ]
            if state.isDemoModel {
                hint += [
                    "", "This is the tiny built-in demo model: it knows the chat format, not much else.",
                    "Get a real one with: rwkv-chat pull",
                ]
            }
            for (i, l) in hint.enumerated() {
                let t = DisplayWidth.truncate(l, width: layout.chatWidth - 2)
                let x = max((layout.chatWidth - DisplayWidth.of(t)) / 2, 0)
                f.put(
                    t, x: x, y: layout.transcriptTop + h / 2 - 1 + i, style: i == 0 ? .normal : .dim,
                    maxX: layout.chatWidth)
            }
        }
        // Only a layout that reached the top knows how far up one can scroll.
        let maxScroll = complete ? max(lines.count - h, 0) : lines.count
        let scroll = min(state.scroll, maxScroll)
        let first = max(lines.count - h - scroll, 0)
        for row in 0..<h {
            let i = first + row
            guard i < lines.count else { break }
            let line = lines[i]
            let y = layout.transcriptTop + row
            let isSelected = line.node != nil && line.node == state.selected
            if isSelected { f.put("▌", x: 0, y: y, style: .selection, maxX: layout.chatWidth) }
            let style =
                isSelected && (line.style == .userLabel || line.style == .assistantLabel) ? .selection : line.style
            let end = f.put(line.text, x: 1, y: y, style: style, maxX: layout.chatWidth)
            if !line.accent.isEmpty { f.put(line.accent, x: end, y: y, style: .accent, maxX: layout.chatWidth) }
        }
        if scroll > 0 {
            let note = " ↓ \(scroll) more line\(scroll == 1 ? "" : "s") (PgDn/End) "
            let w = DisplayWidth.of(note)
            f.put(
                note, x: max(layout.chatWidth - w - 1, 0), y: layout.transcriptTop + h - 1, style: .accent,
                maxX: layout.chatWidth)
        }
    }

    static func inputBox(_ state: AppState, _ layout: ScreenLayout, _ f: inout Frame) {
        let w = layout.chatWidth
        f.fill("─", x: 0, y: layout.separatorRow, count: w, style: .border)
        var label = ""
        if let e = state.editing { label = " editing message #\(e): Enter sends a new branch · Esc cancels " }
        if !state.completions.isEmpty { label = " " + state.completions.joined(separator: "  ") + " " }
        if state.pasting { label = " pasting… " }
        if !label.isEmpty {
            f.put(DisplayWidth.truncate(label, width: w - 4), x: 2, y: layout.separatorRow, style: .accent, maxX: w)
        }
        let box = state.input.layout(width: w - ScreenLayout.promptWidth)
        // Keep the caret's row visible when the text is taller than the box.
        let firstRow = max(0, min(box.caretRow - layout.inputRows + 1, box.rows.count - layout.inputRows))
        for r in 0..<layout.inputRows {
            let y = layout.inputTop + r
            f.fill(x: 0, y: y, count: w, style: .input)
            f.put(r == 0 && firstRow == 0 ? "›" : " ", x: 0, y: y, style: .accent, maxX: w)
            let i = firstRow + r
            if i < box.rows.count { f.put(box.rows[i], x: ScreenLayout.promptWidth, y: y, style: .input, maxX: w) }
        }
        if state.mode == .chat {
            f.cursor = (ScreenLayout.promptWidth + box.caretColumn, layout.inputTop + box.caretRow - firstRow)
        }
    }

    /// "1,234".
    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 20 ? String(format: "%.1f MiB", Double(n) / Double(1 << 20)) : "\(n / 1024) KiB"
    }

    /// The position and figures of the status line, most important first, as many as fit in `width`.
    static func figures(_ state: AppState, width: Int) -> String {
        guard let v = state.view else { return "" }
        let tree = v.tree
        let cursor = tree.cursor
        let (sibs, index) = tree.siblings(of: cursor)
        // (priority, text): the lowest priorities are dropped first on a narrow terminal,
        // and the rest keep their order.
        var parts: [(Int, String)] = []
        if state.isDemoModel { parts.append((0, "demo model")) }
        parts.append((0, "node \(cursor)"))
        if sibs.count > 1 { parts.append((1, "branch \(index + 1)/\(sibs.count)")) }
        parts.append((1, "\(grouped(v.contextTokens)) tokens in context"))
        if v.generationTokensPerSecond > 0 {
            parts.append(
                (3, String(format: "%.0f/%.0f tok/s", v.prefillTokensPerSecond, v.generationTokensPerSecond)))
        }
        parts.append((4, "\(bytes(v.snapshotBytes)) snapshots"))
        parts.append((2, v.isDirty ? "● unsaved" : "✓ saved"))
        for limit in stride(from: 4, through: 0, by: -1) {
            let text = parts.filter { $0.0 <= limit }.map(\.1).joined(separator: " · ")
            if DisplayWidth.of(text) <= width || limit == 0 { return text }
        }
        return ""
    }

    /// The key for the most likely next action.
    static func hint(_ state: AppState) -> String {
        let k = state.keys
        switch state.mode {
        case .tree: return "Enter open · d delete · b bookmark · / search · Esc close"
        case .sessions: return "Enter open · r rename · d delete · n new · Esc back"
        case .help, .info: return "↑↓ scroll · Esc close"
        case .prompt: return "Enter ok · Esc cancel"
        case .confirm: return "y yes · n no"
        default: break
        }
        if state.busy { return "\(k.label(.cancel)) stops" }
        if state.editing != nil { return "Enter sends · Esc cancels" }
        if state.selected != nil { return "\(k.label(.regenerate)) regen · \(k.label(.edit)) edit · Alt-←/→ branch" }
        if !state.input.isEmpty { return "Enter sends · \(k.label(.newline)) new line" }
        if state.view?.tree.activePath.count ?? 0 > 1 {
            return "\(k.label(.regenerate)) regenerate · \(k.label(.tree)) tree · F1 help"
        }
        return "F1 help · \(k.label(.quit)) quit"
    }

    static func status(_ state: AppState, _ layout: ScreenLayout, _ f: inout Frame) {
        let y = layout.statusRow
        f.fill(x: 0, y: y, count: f.width, style: .status)
        switch state.mode {
        case .prompt(let kind):
            let label: String
            switch kind {
            case .saveAs: label = "Save as (name or path): "
            case .rename: label = "New name: "
            case .search: label = "Search all branches: "
            }
            let x = f.put(label, x: 1, y: y, style: .status)
            let box = state.promptInput.layout(width: max(f.width - x - 1, 2))
            f.put(box.rows.last ?? "", x: x, y: y, style: .status)
            f.cursor = (x + box.caretColumn, y)
            return
        case .confirm(let kind):
            let question: String
            switch kind {
            case .deleteNode(let id):
                let count = state.view.map { subtreeSize(id, $0.tree) } ?? 1
                question = "Delete node #\(id) and everything below it (\(count) node\(count == 1 ? "" : "s"))? y/n"
            case .deleteSession(let url):
                question = "Delete the saved session \(url.deletingPathExtension().lastPathComponent)? y/n"
            }
            f.put(DisplayWidth.truncate(question, width: f.width - 2), x: 1, y: y, style: .error)
            return
        default: break
        }
        // The key hint keeps its room (shortened to its first suggestion when tight);
        // the figures get the rest, dropping the least important ones first.
        let full = hint(state)
        let first = full.components(separatedBy: " · ").first ?? ""
        let right = DisplayWidth.of(full) + 40 <= f.width ? full : first
        let rw = right.isEmpty ? 0 : DisplayWidth.of(right) + 2
        let left = state.transient ?? figures(state, width: f.width - 3 - rw)
        let style: Style = state.transient != nil && state.transientIsError ? .error : .status
        f.put(DisplayWidth.truncate(left, width: f.width - 2 - rw), x: 1, y: y, style: style)
        if rw > 0 { f.put(" " + right + " ", x: f.width - rw, y: y, style: .status) }
    }

    static func subtreeSize(_ id: NodeID, _ tree: ConversationTree) -> Int {
        var n = 0
        var stack = [id]
        while let c = stack.popLast() {
            n += 1
            stack += tree[c]?.children ?? []
        }
        return n
    }
}
