import RWKV

/// Identifies a node of a conversation tree; ids are never reused within a session.
public typealias NodeID = Int

/// One node of the conversation tree: the persona root, a user message, or a reply.
public struct Turn: Codable, Equatable, Sendable {
    /// Who the node's text belongs to.
    public enum Role: String, Codable, Sendable {
        /// The root: system text and warm-up.
        case persona
        /// A user message.
        case user
        /// A model reply.
        case assistant
    }

    /// Why a reply ended.
    public enum Finish: String, Codable, Sendable {
        /// The model produced the turn separator or a stop string.
        case stop
        /// The length limit was reached; `continue` can extend it.
        case length
        /// The model produced end-of-text.
        case endOfText
        /// Generation was cancelled; the state is the state after the last accepted token.
        case cancelled
        /// Not a reply.
        case none
    }

    /// This node's id.
    public var id: NodeID
    /// Parent id; nil only for the root.
    public var parent: NodeID?
    /// Child ids, oldest first.
    public var children: [NodeID] = []
    /// The node's role.
    public var role: Role
    /// The text as the user sees it (a user message as typed, a reply without its leading space).
    public var text: String
    /// The exact token ids this node fed to the model (user/persona) or produced (reply).
    public var tokens: [Int]
    /// Sampling settings used for a reply.
    public var sampling: SamplingSettings?
    /// The seed a reply was sampled with.
    public var seed: UInt64?
    /// Why a reply ended.
    public var finish: Finish = .none
    /// Seconds spent reading this node's prompt tokens.
    public var prefillSeconds: Double = 0
    /// Seconds spent generating this reply.
    public var generationSeconds: Double = 0
    /// Marked by the user.
    public var bookmarked = false
    /// Seconds since 1970 when the node was made.
    public var created: Double

    /// Creates a node.
    public init(id: NodeID, parent: NodeID?, role: Role, text: String, tokens: [Int], created: Double) {
        self.id = id
        self.parent = parent
        self.role = role
        self.text = text
        self.tokens = tokens
        self.created = created
    }
}
