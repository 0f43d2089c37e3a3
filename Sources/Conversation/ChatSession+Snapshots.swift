import RWKV

/// Snapshot memory: exact recomputation of dropped snapshots, and the budget that drops them.
extension ChatSession {
    /// The snapshot after `node`, recomputed if it was dropped.
    ///
    /// Recomputation starts from the nearest ancestor with a snapshot and feeds each
    /// node's own stored tokens in one sequence-mode call. Sequence mode equals step
    /// mode bit for bit in this engine, so the result equals the dropped snapshot exactly.
    public func snapshot(for node: NodeID) throws -> Snapshot {
        if let s = snapshots[node] { return s }
        let path = tree.path(to: node)
        guard path.first == tree.root else { throw ConversationError("no node \(node) in this conversation") }
        guard let baseIndex = path.lastIndex(where: { snapshots[$0] != nil }) else {
            throw ConversationError("no snapshot to start from (the root's is missing)")
        }
        var snap = snapshots[path[baseIndex]]!
        for id in path[(baseIndex + 1)...] {
            let tokens = tree[id]?.tokens ?? []
            guard !tokens.isEmpty else { continue }
            snap.logits = try model.sequence(tokens, state: &snap.state)
            snap.tokenCount += tokens.count
        }
        snapshots[node] = snap
        enforceBudget(keeping: node)
        return snap
    }

    /// Bytes held by in-memory snapshots.
    public var snapshotBytes: Int { snapshots.values.reduce(0) { $0 + $1.byteCount } }

    /// Nodes whose snapshot is never dropped: the root, the cursor, and every branch point.
    var protectedNodes: Set<NodeID> {
        Set([tree.root, tree.cursor] + tree.branchPoints)
    }

    /// Drops snapshots until the budget holds: first interior nodes with one child,
    /// oldest first (each is cheap to recompute: its own tokens from its parent), then
    /// leaves off the active path. Protected nodes and `keeping` are never dropped, so a
    /// budget smaller than those alone is exceeded rather than broken.
    func enforceBudget(keeping: NodeID? = nil) {
        var total = snapshotBytes
        guard total > snapshotBudget else { return }
        var keep = protectedNodes
        if let keeping { keep.insert(keeping) }
        let interior = snapshots.keys.filter { !keep.contains($0) && (tree[$0]?.children.count ?? 0) == 1 }.sorted()
        let leaves = snapshots.keys.filter { !keep.contains($0) && (tree[$0]?.children.isEmpty ?? true) }.sorted()
        for id in interior + leaves {
            guard total > snapshotBudget else { break }
            total -= snapshots[id]?.byteCount ?? 0
            snapshots[id] = nil
        }
    }
}
