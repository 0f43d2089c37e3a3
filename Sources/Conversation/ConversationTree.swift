/// The tree of turns and the cursor that marks the active node.
///
/// Pure data: no model, no states. The active path from the root to the cursor is
/// "the conversation"; every other path is a branch that can be switched to.
public struct ConversationTree: Equatable, Sendable {
    /// All nodes by id.
    public private(set) var nodes: [NodeID: Turn]
    /// The persona node every path starts from.
    public let root: NodeID
    /// The active node: the tip of the conversation the user sees.
    public private(set) var cursor: NodeID
    /// The id the next node will get.
    public private(set) var nextID: NodeID
    /// For each node, the child whose branch was visited last (so switching back restores it).
    public private(set) var activeChild: [NodeID: NodeID] = [:]

    /// A tree holding only the persona root.
    public init(root: Turn) {
        nodes = [root.id: root]
        self.root = root.id
        cursor = root.id
        nextID = root.id + 1
    }

    /// The node with id `id`.
    public subscript(id: NodeID) -> Turn? { nodes[id] }

    /// The node with id `id`, or an error naming it.
    public func node(_ id: NodeID) throws -> Turn {
        guard let n = nodes[id] else { throw ConversationError("no node \(id) in this conversation") }
        return n
    }

    /// Adds a child of `parent` and returns its id.
    @discardableResult
    public mutating func add(
        _ role: Turn.Role, text: String, tokens: [Int], under parent: NodeID, time: Double
    ) -> NodeID {
        let id = nextID
        nextID += 1
        nodes[id] = Turn(id: id, parent: parent, role: role, text: text, tokens: tokens, created: time)
        nodes[parent]?.children.append(id)
        activeChild[parent] = id
        return id
    }

    /// Replaces a node's content (used while a reply grows); the id, parent and children stay.
    public mutating func update(_ id: NodeID, _ change: (inout Turn) -> Void) {
        guard var n = nodes[id] else { return }
        change(&n)
        n.id = id
        nodes[id] = n
    }

    /// Node ids from the root to `id`, inclusive.
    public func path(to id: NodeID) -> [NodeID] {
        var out: [NodeID] = []
        var cur: NodeID? = id
        while let c = cur, let n = nodes[c] {
            out.append(c)
            cur = n.parent
        }
        return out.reversed()
    }

    /// The active path: root to cursor.
    public var activePath: [NodeID] { path(to: cursor) }

    /// `id`'s siblings including itself, in order, and its position among them.
    public func siblings(of id: NodeID) -> (ids: [NodeID], index: Int) {
        guard let p = nodes[id]?.parent, let parent = nodes[p] else { return ([id], 0) }
        return (parent.children, parent.children.firstIndex(of: id) ?? 0)
    }

    /// True when `ancestor` is on the path from the root to `id` (a node is its own ancestor).
    public func isAncestor(_ ancestor: NodeID, of id: NodeID) -> Bool { path(to: id).contains(ancestor) }

    /// The tip reached from `id` by following the last-visited child at each step.
    public func tip(from id: NodeID) -> NodeID {
        var cur = id
        while let n = nodes[cur], !n.children.isEmpty {
            cur = activeChild[cur].flatMap { n.children.contains($0) ? $0 : nil } ?? n.children.last!
        }
        return cur
    }

    /// Moves the cursor to `id` and remembers the branch taken at every node above it.
    public mutating func moveCursor(to id: NodeID) {
        guard nodes[id] != nil else { return }
        let p = path(to: id)
        for (a, b) in zip(p, p.dropFirst()) { activeChild[a] = b }
        cursor = id
    }

    /// Removes `id` and everything below it; returns the removed ids. The root cannot be removed.
    public mutating func removeSubtree(_ id: NodeID) throws -> [NodeID] {
        guard id != root, let n = nodes[id] else { throw ConversationError("node \(id) cannot be deleted") }
        var removed: [NodeID] = []
        var stack = [id]
        while let c = stack.popLast() {
            if let cn = nodes[c] { stack += cn.children }
            nodes[c] = nil
            activeChild[c] = nil
            removed.append(c)
        }
        if let p = n.parent {
            nodes[p]?.children.removeAll { $0 == id }
            if activeChild[p] == id { activeChild[p] = nodes[p]?.children.last }
            if removed.contains(cursor) { cursor = p }
        }
        return removed
    }

    /// Nodes with more than one child.
    public var branchPoints: [NodeID] { nodes.values.filter { $0.children.count > 1 }.map(\.id).sorted() }

    /// Nodes with no children.
    public var leaves: [NodeID] { nodes.values.filter { $0.children.isEmpty }.map(\.id).sorted() }

    /// The nodes sorted by id.
    public var orderedNodes: [Turn] { nodes.values.sorted { $0.id < $1.id } }
}

/// A conversation operation that cannot be done, with the reason.
public struct ConversationError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The reason, as a sentence.
    public let detail: String
    /// Creates an error.
    public init(_ detail: String) { self.detail = detail }
    /// The reason.
    public var description: String { detail }
}

extension ConversationTree: Codable {
    enum CodingKeys: String, CodingKey {
        case root, cursor, nextID = "next_id", nodes, activeChild = "active_child"
    }

    /// Decodes a tree and checks that it is whole: ids unique, parents and children
    /// agreeing, every node reachable from the root, the cursor present.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        root = try c.decode(NodeID.self, forKey: .root)
        cursor = try c.decode(NodeID.self, forKey: .cursor)
        nextID = try c.decode(NodeID.self, forKey: .nextID)
        let list = try c.decode([Turn].self, forKey: .nodes)
        var map: [NodeID: Turn] = [:]
        for n in list {
            guard map[n.id] == nil, n.id >= 0, n.id < nextID else {
                throw DecodingError.dataCorruptedError(
                    forKey: .nodes, in: c, debugDescription: "node id \(n.id) is repeated or out of range")
            }
            map[n.id] = n
        }
        nodes = map
        let pairs = try c.decode([String: NodeID].self, forKey: .activeChild)
        activeChild = [:]
        for (k, v) in pairs {
            guard let key = Int(k) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .activeChild, in: c, debugDescription: "bad active_child key")
            }
            activeChild[key] = v
        }
        guard map[root]?.parent == nil, map[cursor] != nil else {
            throw DecodingError.dataCorruptedError(forKey: .root, in: c, debugDescription: "root or cursor missing")
        }
        var reached = 0
        var stack = [root]
        var seen = Set<NodeID>()
        while let id = stack.popLast() {
            guard let n = map[id], seen.insert(id).inserted else {
                throw DecodingError.dataCorruptedError(
                    forKey: .nodes, in: c, debugDescription: "node \(id) is missing or in a cycle")
            }
            reached += 1
            for child in n.children {
                guard map[child]?.parent == id else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .nodes, in: c, debugDescription: "node \(child) does not name \(id) as parent")
                }
                stack.append(child)
            }
        }
        guard reached == map.count else {
            throw DecodingError.dataCorruptedError(
                forKey: .nodes, in: c, debugDescription: "some nodes are not reachable from the root")
        }
    }

    /// Encodes nodes as a list sorted by id and `active_child` as an object keyed by node id.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(root, forKey: .root)
        try c.encode(cursor, forKey: .cursor)
        try c.encode(nextID, forKey: .nextID)
        try c.encode(orderedNodes, forKey: .nodes)
        try c.encode(
            Dictionary(uniqueKeysWithValues: activeChild.map { (String($0.key), $0.value) }), forKey: .activeChild)
    }
}
