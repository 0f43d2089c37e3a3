import Foundation
import RWKV

/// Reading a session file without its model: for `session info` and `session export`.
extension SessionFile {
    /// What a session file holds, read and verified without loading the model.
    public struct Summary: Sendable {
        /// The model the session was made with.
        public var model: ModelIdentity
        /// The tokenizer the session was made with.
        public var tokenizer: TokenizerIdentity
        /// The tree.
        public var tree: ConversationTree
        /// The template in force when saved.
        public var template: ChatTemplate
        /// Stored snapshots: node id and bytes.
        public var snapshots: [(node: NodeID, bytes: Int)]
        /// File size in bytes.
        public var fileBytes: Int
    }

    /// Reads and checks every section of the file at `url`.
    public static func inspect(_ url: URL) throws -> Summary {
        let path = url.path
        let bytes = try FileBytes.read(path)
        let sections = try parseSections(bytes, path: path)
        func decode<T: Decodable>(_ type: T.Type, _ tag: String) throws -> T {
            guard let payload = sections.first(where: { $0.0 == tag })?.1 else {
                throw ModelFileError(path, .corrupt, "session has no \(tag) section")
            }
            do {
                return try JSONDecoder().decode(type, from: Data(payload))
            } catch {
                throw ModelFileError(path, .corrupt, "session \(tag) section is invalid: \(error)")
            }
        }
        let record = try decode(TreeRecord.self, "TREE")
        var snaps: [(NodeID, Int)] = []
        for (tag, payload) in sections where tag == "SNAP" {
            let (id, _) = try parseSnapshot(payload, path: path)
            snaps.append((id, payload.count))
        }
        return Summary(
            model: try decode(ModelIdentity.self, "MODL"), tokenizer: try decode(TokenizerIdentity.self, "TOKZ"),
            tree: record.tree, template: record.template, snapshots: snaps, fileBytes: bytes.count)
    }

    /// The per-user directory where named sessions live: `$XDG_DATA_HOME/rwkv-chat/sessions`
    /// (default `~/.local/share/rwkv-chat/sessions`).
    public static var defaultDirectory: URL {
        UserDirectory.data.appending("sessions")
    }

    /// A path as given, or a bare name (no `/`, no extension) placed in `defaultDirectory`.
    public static func resolve(_ nameOrPath: String) -> URL {
        if nameOrPath.contains("/") || nameOrPath.contains(".") { return URL(fileURLWithPath: nameOrPath) }
        return defaultDirectory.appendingPathComponent("\(nameOrPath).rwkvsession")
    }
}
