import Foundation

/// Export of a conversation as Markdown or JSON.
extension ChatSession {
    /// The active path as Markdown: a heading, then each message under its role.
    public func markdown() -> String {
        Self.markdown(tree: tree, template: template, modelName: (model.path as NSString).lastPathComponent)
    }

    /// Markdown of `tree`'s active path (also used on files, without a model).
    public static func markdown(tree: ConversationTree, template: ChatTemplate, modelName: String) -> String {
        var out = "# Conversation\n\n"
        out += "Model: `\(modelName)` · template: `\(template.name)`\n"
        for id in tree.activePath {
            guard let n = tree[id] else { continue }
            switch n.role {
            case .persona: continue
            case .user: out += "\n**\(template.userRole):**\n\n\(n.text)\n"
            case .assistant:
                // Reasoning is collapsed; the answer is shown.
                let (think, answer) = template.thinkParts(n.text)
                out += "\n**\(template.assistantRole):**\n\n"
                if let think {
                    out += "<details><summary>Thinking</summary>\n\n\(think)\n\n</details>\n\n"
                }
                out += "\(answer)\n"
                if n.finish == .length || n.finish == .cancelled { out += "\n*(\(n.finish.rawValue))*\n" }
            }
        }
        return out
    }

    /// The whole tree as JSON (the same record a session file's TREE section holds).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(
            SessionFile.TreeRecord(
                tree: tree, template: template, sampling: sampling, seed: seed, maxTokens: maxTokens,
                saved: Date().timeIntervalSince1970))
    }

    /// Writes `markdown()` (for a `.md` path) or `json()` (for `.json`) to `url` atomically.
    public func export(to url: URL) throws {
        let ext = url.pathExtension.lowercased()
        let data: Data
        switch ext {
        case "md", "markdown": data = Data(markdown().utf8)
        case "json": data = try json()
        default: throw ConversationError("export to .md or .json, not '.\(ext)'")
        }
        try SessionFile.writeAtomically([UInt8](data), to: url)
    }
}
