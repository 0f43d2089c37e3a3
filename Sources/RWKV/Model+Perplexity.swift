extension Model {
    /// Negative log-likelihood (nats) of each of `tokens[1...]` given the tokens before it,
    /// from the initial state, reading `chunk` tokens per sequence-mode call.
    public func negativeLogLikelihoods(_ tokens: [Int], chunk: Int = 128) throws -> [Double] {
        guard tokens.count >= 2 else { throw InferenceError("need at least two tokens to score") }
        var state = initialState()
        var out: [Double] = []
        out.reserveCapacity(tokens.count - 1)
        let vocab = config.vocabulary
        var start = 0
        // The last token is only ever a target, so inputs are tokens[0..<count-1].
        while start < tokens.count - 1 {
            let end = min(start + chunk, tokens.count - 1)
            let rows = try sequence(Array(tokens[start..<end]), state: &state, allLogits: true)
            for (i, pos) in (start..<end).enumerated() {
                out.append(Logits.negativeLogLikelihood(rows[(i * vocab)..<((i + 1) * vocab)], target: tokens[pos + 1]))
            }
            start = end
        }
        return out
    }
}
