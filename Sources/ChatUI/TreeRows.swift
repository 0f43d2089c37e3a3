import Conversation

/// The conversation tree flattened into display rows for the tree view.
///
/// Depth-first in child order. To stay compact on long conversations, a node is
/// indented one step deeper than its parent only where the parent branches (has
/// more than one child); a chain of turns stays in one column.
public enum TreeRows {
    /// One row of the tree view.
    public struct Row: Equatable, Sendable {
        /// The node.
        public var id: NodeID
        /// Indentation steps.
        public var depth: Int
    }

    /// All rows of `tree`.
    public static func rows(_ tree: ConversationTree) -> [Row] {
        var out: [Row] = []
        var stack: [(NodeID, Int)] = [(tree.root, 0)]
        while let (id, depth) = stack.popLast() {
            guard let n = tree[id] else { continue }
            out.append(Row(id: id, depth: depth))
            let childDepth = n.children.count > 1 ? depth + 1 : depth
            for c in n.children.reversed() { stack.append((c, childDepth)) }
        }
        return out
    }

    /// The text of a row (without indentation): `#12 you: Hello ‹1/2› ★`.
    public static func label(_ turn: Turn, tree: ConversationTree) -> String {
        let role: String
        switch turn.role {
        case .persona: role = "persona"
        case .user: role = "you"
        case .assistant: role = "bot"
        }
        var text = "#\(turn.id) \(role)"
        if turn.role != .persona {
            let preview = DisplayWidth.sanitize(turn.text).replacingOccurrences(of: "\n", with: " ⏎ ")
            text += ": " + preview
        }
        return text
    }

    /// Nodes whose text contains `query` (case-insensitive), in row order.
    public static func search(_ tree: ConversationTree, _ query: String) -> [NodeID] {
        guard !query.isEmpty else { return [] }
        return rows(tree).map(\.id).filter { tree[$0]?.text.localizedCaseInsensitiveContains(query) == true }
    }
}
