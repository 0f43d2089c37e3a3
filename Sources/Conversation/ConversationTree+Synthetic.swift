/// Large conversations made up on the spot, for the UI benchmark and its test.
extension ConversationTree {
    /// A linear conversation of `turns` question/answer pairs (about 200 characters
    /// each, one placeholder token per message), with the cursor on the last answer.
    public static func synthetic(turns: Int) -> ConversationTree {
        var tree = ConversationTree(root: Turn(id: 0, parent: nil, role: .persona, text: "", tokens: [], created: 0))
        var at = 0
        for i in 0..<turns {
            let u = tree.add(
                .user, text: "Question \(i): " + String(repeating: "why is the sky blue? ", count: 9), tokens: [1],
                under: at, time: 0)
            at = tree.add(
                .assistant, text: "Answer \(i): " + String(repeating: "Rayleigh scattering. ", count: 9), tokens: [1],
                under: u, time: 0)
        }
        tree.moveCursor(to: at)
        return tree
    }
}
