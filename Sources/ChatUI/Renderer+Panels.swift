import Conversation
import Foundation

/// The tree view, the session browser and the overlays.
extension Renderer {
    static func tree(_ state: AppState, x: Int, width: Int, top: Int, height: Int, _ f: inout Frame) {
        guard let tree = state.view?.tree, height > 2, width > 8 else { return }
        let maxX = x + width
        for row in top..<(top + height) { f.fill(x: x, y: row, count: width, style: .normal) }
        if x > 0 {
            for row in top..<(top + height) { f.put("│", x: x, y: row, style: .border) }
        }
        let left = x + (x > 0 ? 2 : 1)
        f.put("Conversation tree", x: left, y: top, style: .title, maxX: maxX)
        f.put("↑↓ ←→ [ ]  Enter  / search", x: left + 19, y: top, style: .dim, maxX: maxX)
        let rows = TreeRows.rows(tree)
        let active = Set(tree.activePath)
        let hits = Set(state.searchHits)
        let selectedID = state.treeSelection ?? tree.cursor
        let sel = rows.firstIndex { $0.id == selectedID } ?? 0
        let visible = height - 1
        // Keep the highlighted row in the middle third when the tree is taller than the panel.
        let first = max(0, min(sel - visible / 2, rows.count - visible))
        for (i, r) in rows.enumerated().dropFirst(first).prefix(visible) {
            guard let turn = tree[r.id] else { continue }
            let y = top + 1 + (i - first)
            let isSel = r.id == selectedID && state.showsTree
            var col = left + min(r.depth, 12) * 2
            let mark = r.id == tree.cursor ? "▶" : (active.contains(r.id) ? "•" : " ")
            col = f.put(mark, x: col, y: y, style: isSel ? .selection : .accent, maxX: maxX)
            let (sibs, index) = tree.siblings(of: r.id)
            var suffix = sibs.count > 1 ? " ‹\(index + 1)/\(sibs.count)›" : ""
            if turn.bookmarked { suffix += " ★" }
            if hits.contains(r.id) { suffix += " ⌕" }
            let label = TreeRows.label(turn, tree: tree)
            let room = maxX - col - 1 - DisplayWidth.of(suffix)
            let style: Style = isSel ? .selection : (active.contains(r.id) ? .normal : .dim)
            col = f.put(
                " " + DisplayWidth.truncate(label, width: max(room - 1, 4)), x: col, y: y, style: style, maxX: maxX)
            f.put(suffix, x: col, y: y, style: isSel ? .selection : .accent, maxX: maxX)
        }
    }

    static func sessions(_ state: AppState, _ f: inout Frame) {
        f.fill(x: 0, y: 0, count: f.width, style: .title)
        f.put(
            DisplayWidth.truncate(" Saved sessions — \(state.sessionsDirectory)", width: f.width), x: 0, y: 0,
            style: .title)
        let header = columns("name", "model", "last used", "turns", "size", width: f.width)
        f.put(header, x: 1, y: 2, style: .dim)
        if state.sessions.isEmpty {
            f.put(
                "No saved sessions yet. Sessions are saved as you chat; press n for a new one.", x: 2, y: 4, style: .dim
            )
            return
        }
        let visible = f.height - 5
        let first = max(0, min(state.sessionIndex - visible / 2, state.sessions.count - visible))
        for (i, e) in state.sessions.enumerated().dropFirst(first).prefix(visible) {
            let y = 3 + i - first
            let isSel = i == state.sessionIndex
            let current = e.url.standardizedFileURL == state.view?.fileURL?.standardizedFileURL
            let line: String
            if let p = e.problem {
                line = columns(e.name, "unreadable: \(p)", "", "", "", width: f.width)
            } else {
                line = columns(
                    e.name + (current ? " (open)" : ""), e.model, age(e.modified, now: state.now), "\(e.turns)",
                    bytes(e.bytes), width: f.width)
            }
            if isSel { f.fill(x: 0, y: y, count: f.width, style: .selection) }
            f.put(line, x: 1, y: y, style: isSel ? .selection : (e.problem != nil ? .error : .normal))
        }
    }

    static func columns(_ a: String, _ b: String, _ c: String, _ d: String, _ e: String, width: Int) -> String {
        let rest = max(width - 2 - 14 - 7 - 10, 20)
        let nameW = rest / 2, modelW = rest - nameW
        return DisplayWidth.pad(a, width: nameW) + DisplayWidth.pad(b, width: modelW) + DisplayWidth.pad(c, width: 14)
            + DisplayWidth.pad(d, width: 7) + DisplayWidth.pad(e, width: 10)
    }

    /// "3 min ago", "2 days ago".
    static func age(_ t: Double, now: Double) -> String {
        let s = max(now - t, 0)
        if s < 60 { return "just now" }
        if s < 3600 { return "\(Int(s / 60)) min ago" }
        if s < 86400 { return "\(Int(s / 3600)) h ago" }
        return "\(Int(s / 86400)) days ago"
    }

    /// The overlay box's width on a `width`-column terminal.
    static func overlayWidth(_ width: Int) -> Int { min(width - 4, max(60, min(100, width - 4))) }

    /// "  KEY   description" with the description wrapped under itself.
    static func entry(_ key: String, _ text: String, keyWidth: Int, width: Int) -> [String] {
        let body = DisplayWidth.wrap(text, width: max(width - keyWidth - 2, 10))
        return body.enumerated().map { i, l in
            "  " + (i == 0 ? DisplayWidth.pad(key, width: keyWidth) : String(repeating: " ", count: keyWidth)) + l
        }
    }

    static func helpLines(_ state: AppState) -> [String] {
        let w = overlayWidth(state.width) - 4
        var lines = ["Chat"]
        for b in Binding.allCases {
            let keys = (state.keys.keys[b] ?? []).map(\.label).joined(separator: ", ")
            lines += entry(keys, b.summary, keyWidth: 18, width: w)
        }
        let more = [
            ("Enter", "send the message (or the edit)"),
            ("↑ ↓", "move between lines; on the first/last line: history"),
            ("Ctrl-U/K/W", "delete to line start / to line end / the word before"),
            ("Ctrl-← →", "move by word"),
            ("PgUp PgDn", "scroll (Home/End on an empty input; mouse wheel)"),
            ("Tab", "complete a /command or a file path"),
            ("?", "this help (on an empty input)"),
        ]
        for (k, t) in more { lines += entry(k, t, keyWidth: 18, width: w) }
        lines += [
            "", "Tree view",
            "  ↑ ↓ rows · ← parent · → child · [ ] siblings · Enter make active · b bookmark",
            "  d delete the subtree (asks first) · / search all branches · n/N next/previous match",
            "", "Session browser",
            "  Enter open · r rename · d delete · n new conversation", "", "Commands (type them in the input)",
        ]
        for c in ChatCommand.catalog {
            lines += entry("/\(c.name)\(c.args.isEmpty ? "" : " " + c.args)", c.help, keyWidth: 22, width: w)
        }
        return lines
    }

    static func overlay(title: String, lines: [String], _ state: AppState, _ f: inout Frame) {
        let w = overlayWidth(f.width)
        let h = f.height - 4
        let x0 = (f.width - w) / 2, y0 = 2
        let wrapped = lines.flatMap { DisplayWidth.wrap(DisplayWidth.sanitize($0), width: w - 4) }
        let maxScroll = max(wrapped.count - (h - 2), 0)
        let scroll = min(state.overlayScroll, maxScroll)
        for y in y0..<(y0 + h) { f.fill(x: x0, y: y, count: w, style: .normal) }
        f.fill("─", x: x0, y: y0, count: w, style: .border)
        f.fill("─", x: x0, y: y0 + h - 1, count: w, style: .border)
        for y in y0..<(y0 + h) {
            f.put("│", x: x0, y: y, style: .border)
            f.put("│", x: x0 + w - 1, y: y, style: .border)
        }
        f.put("┌", x: x0, y: y0, style: .border)
        f.put("┐", x: x0 + w - 1, y: y0, style: .border)
        f.put("└", x: x0, y: y0 + h - 1, style: .border)
        f.put("┘", x: x0 + w - 1, y: y0 + h - 1, style: .border)
        f.put(" \(title) ", x: x0 + 2, y: y0, style: .title)
        let more = maxScroll > scroll ? " ↓ more " : ""
        f.put(" Esc closes\(more) ", x: x0 + 2, y: y0 + h - 1, style: .dim)
        for (i, l) in wrapped.dropFirst(scroll).prefix(h - 2).enumerated() {
            f.put(l, x: x0 + 2, y: y0 + 1 + i, style: .normal, maxX: x0 + w - 2)
        }
    }
}
