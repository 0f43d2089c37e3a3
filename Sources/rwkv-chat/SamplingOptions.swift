import ArgumentParser
import Conversation
import RWKV

/// Sampling and session flags shared by the chat commands.
struct SamplingOptions: ParsableArguments {
    @Option(name: .long, help: "Prompt template name (see prompts/) or path to a template .json.")
    var prompt: String?

    @Option(name: .long, help: "Seed for sampling (each reply's seed derives from it). Default: 42 for new sessions.")
    var seed: UInt64?

    @Option(name: .long, help: "Temperature; 0 is greedy.") var temperature: Float?
    @Option(name: .customLong("top-p"), help: "Nucleus cutoff.") var topP: Float?
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0: off).") var topK: Int?
    @Option(name: .customLong("min-p"), help: "Drop tokens below min-p × the top probability.") var minP: Float?
    @Option(name: .customLong("presence-penalty"), help: "ChatRWKV alpha_presence.") var presencePenalty: Float?
    @Option(name: .customLong("frequency-penalty"), help: "ChatRWKV alpha_frequency.") var frequencyPenalty: Float?
    @Option(name: .customLong("penalty-decay"), help: "ChatRWKV alpha_decay.") var penaltyDecay: Float?

    @Option(name: .customLong("max-tokens"), help: "Longest reply in tokens.")
    var maxTokens: Int?

    /// Applies the flags that were given on top of `s`.
    func apply(to s: inout SamplingSettings) {
        if let temperature { s.temperature = max(0, temperature) }
        if let topP { s.topP = topP }
        if let topK { s.topK = topK }
        if let minP { s.minP = minP }
        if let presencePenalty { s.presencePenalty = presencePenalty }
        if let frequencyPenalty { s.frequencyPenalty = frequencyPenalty }
        if let penaltyDecay { s.penaltyDecay = penaltyDecay }
    }
}
