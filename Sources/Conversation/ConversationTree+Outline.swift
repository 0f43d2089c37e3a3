/// A text outline of the tree, for `/tree`, `session info` and tests.
extension ConversationTree {
    /// One line per node, depth-first in child order:
    /// `  3 user "Hello" ‹1/2›` with `*` on the active path, `>` at the cursor and `★` on bookmarks.
    public func outline(preview: Int = 40) -> [String] {
        var lines: [String] = []
        let active = Set(activePath)
        var stack: [(NodeID, Int)] = [(root, 0)]
        while let (id, depth) = stack.popLast() {
            guard let n = nodes[id] else { continue }
            let (sibs, index) = siblings(of: id)
            var text = n.text.replacingNewlines()
            if text.count > preview { text = String(text.prefix(preview - 1)) + "…" }
            let mark = id == cursor ? ">" : (active.contains(id) ? "*" : " ")
            var line = String(repeating: "  ", count: depth) + "\(mark)\(id) \(n.role.rawValue)"
            if n.role != .persona { line += " \"\(text)\"" }
            if sibs.count > 1 { line += " ‹\(index + 1)/\(sibs.count)›" }
            if n.bookmarked { line += " ★" }
            if n.finish == .length || n.finish == .cancelled { line += " (\(n.finish.rawValue))" }
            lines.append(line)
            for c in n.children.reversed() { stack.append((c, depth + 1)) }
        }
        return lines
    }
}

extension String {
    /// Newlines shown as `⏎` so a text fits on one line.
    func replacingNewlines() -> String {
        String(map { $0 == "\n" ? "⏎" : $0 })
    }
}
