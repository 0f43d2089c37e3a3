import RWKV

/// Everything needed to continue from a point in a conversation without replaying it.
///
/// A plain value: copying it is forking. `logits` are the model's output after the
/// last token (empty when no token has been read), so a reply can be sampled at once.
public struct Snapshot: Equatable, Sendable {
    /// The recurrent state after `tokenCount` tokens.
    public var state: State
    /// Logits after the last token, [V], or empty.
    public var logits: [Float]
    /// Tokens read from the start of the conversation to here.
    public var tokenCount: Int

    /// Creates a snapshot.
    public init(state: State, logits: [Float], tokenCount: Int) {
        self.state = state
        self.logits = logits
        self.tokenCount = tokenCount
    }

    /// Bytes of memory the snapshot holds (state and logits).
    public var byteCount: Int { (state.values.count + logits.count) * 4 }
}
