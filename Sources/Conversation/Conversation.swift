import RWKV

/// Placeholder namespace for the conversation tree (issue: conversation tree and sessions).
///
/// Known limit: nothing lives here yet; the module exists so the layering
/// rwkv-chat → ChatUI → Conversation → RWKV → Kernels is in place from the start.
public enum ConversationModule {
    /// The module's name, for diagnostics.
    public static let name = "Conversation"
}
