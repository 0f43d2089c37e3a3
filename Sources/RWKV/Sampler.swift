import Foundation

/// The sampling knobs of the RWKV ecosystem, with the official package's meanings.
public struct SamplingSettings: Equatable, Sendable {
    /// Softmax temperature; 0 means greedy (the most likely token).
    public var temperature: Float
    /// Nucleus cutoff: keep the most likely tokens whose probabilities sum to at least this. 0 keeps only the top token.
    public var topP: Float
    /// Keep only the k most likely tokens; 0 disables.
    public var topK: Int
    /// Drop tokens less likely than `minP` × the top probability; 0 disables.
    public var minP: Float
    /// Subtracted from the logit of every token already generated in this reply (ChatRWKV `alpha_presence`).
    public var presencePenalty: Float
    /// Subtracted per (decayed) occurrence (ChatRWKV `alpha_frequency`).
    public var frequencyPenalty: Float
    /// Occurrence counts are multiplied by this after every generated token (ChatRWKV `alpha_decay`).
    public var penaltyDecay: Float
    /// Added to the logits of the given tokens before anything else.
    public var logitBias: [Int: Float]
    /// Tokens that are never sampled.
    public var bannedTokens: [Int]

    /// ChatRWKV's RWKV-7 chat defaults.
    public static let chatDefault = SamplingSettings(
        temperature: 1.0, topP: 0.3, topK: 0, minP: 0, presencePenalty: 0.5, frequencyPenalty: 0.5,
        penaltyDecay: 0.996, logitBias: [:], bannedTokens: [])

    /// Settings with every field given.
    public init(
        temperature: Float, topP: Float, topK: Int, minP: Float, presencePenalty: Float, frequencyPenalty: Float,
        penaltyDecay: Float, logitBias: [Int: Float], bannedTokens: [Int]
    ) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.penaltyDecay = penaltyDecay
        self.logitBias = logitBias
        self.bannedTokens = bannedTokens
    }
}

/// Chooses tokens from logits, with per-reply penalty memory and a seeded generator.
///
/// Semantics follow `PIPELINE.sample_logits` and `PIPELINE.generate` of the official
/// package: bans and penalties on logits, softmax, top-p cutoff by probability
/// value, top-k, then temperature as `p^(1/T)`, renormalise, draw. min-p (not in the
/// package) is applied after top-k. Temperature 0 is greedy with ties going to the
/// lower id, so it needs no randomness. One sampler is used for one reply.
public struct Sampler: Sendable {
    /// The settings in force.
    public var settings: SamplingSettings
    private var rng: SeededGenerator
    private var occurrence: [Int: Float] = [:]
    private let uncounted: @Sendable (Int) -> Bool

    /// A sampler for one reply. `uncounted(token)` says whether a token is exempt from
    /// penalty counting (whitespace and digits in the official package).
    public init(settings: SamplingSettings, seed: UInt64, uncounted: @escaping @Sendable (Int) -> Bool = { _ in false })
    {
        self.settings = settings
        self.rng = SeededGenerator(seed: seed)
        self.uncounted = uncounted
    }

    /// Picks the next token from `logits`, or nil when every token is banned.
    public mutating func sample(_ logits: [Float]) -> Int? {
        var l = logits
        for (t, b) in settings.logitBias where t >= 0 && t < l.count { l[t] += b }
        for (t, n) in occurrence where t >= 0 && t < l.count {
            l[t] -= settings.presencePenalty + n * settings.frequencyPenalty
        }
        for t in settings.bannedTokens where t >= 0 && t < l.count { l[t] = -.infinity }
        guard let token = Self.choose(l, settings, &rng) else { return nil }
        // Penalty memory, in the package's order: decay the old counts, then count this token.
        for key in occurrence.keys { occurrence[key]! *= settings.penaltyDecay }
        occurrence[token, default: 0] += uncounted(token) ? 0 : 1
        return token
    }

    /// The core draw on already-adjusted logits.
    static func choose(_ logits: [Float], _ s: SamplingSettings, _ rng: inout SeededGenerator) -> Int? {
        var best = -1
        var bestLogit = -Float.infinity
        for (i, v) in logits.enumerated() where v > bestLogit {
            best = i
            bestLogit = v
        }
        guard best >= 0 else { return nil }
        if s.temperature <= 0 { return best }
        // Softmax in Double for a stable cumulative sum.
        var probs = [Double](repeating: 0, count: logits.count)
        var total = 0.0
        for (i, v) in logits.enumerated() where v > -.infinity {
            let e = exp(Double(v - bestLogit))
            probs[i] = e
            total += e
        }
        // Only the most likely tokens can survive top-p and top-k, so only those are
        // sorted: take every token at or above a threshold, lowering it until the
        // candidates hold the top-p mass or the top-k tokens. A token below the
        // threshold is below the cutoff, so this equals sorting the whole vocabulary.
        var threshold = 1e-4
        var order: [Int] = []
        while true {
            order.removeAll(keepingCapacity: true)
            var mass = 0.0
            for (i, e) in probs.enumerated() where e > 0 && e >= threshold {
                order.append(i)
                mass += e
            }
            if mass / total >= Double(s.topP) || (s.topK > 0 && order.count >= s.topK) || threshold == 0 { break }
            threshold = threshold < 1e-300 ? 0 : threshold * 1e-4
        }
        order.sort { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }
        // top-p: the probability at which the sorted cumulative sum first reaches top_p is
        // the cutoff. If the candidates never reach it, it lies below them all.
        var cumulative = 0.0
        var cutoff = probs[order[order.count - 1]]
        for i in order {
            cumulative += probs[i] / total
            if cumulative >= Double(s.topP) {
                cutoff = probs[i]
                break
            }
        }
        let topKLimit = s.topK > 0 ? min(s.topK, order.count) : order.count
        let minPFloor = Double(s.minP) * probs[order[0]]
        var kept: [(token: Int, weight: Double)] = []
        for (rank, i) in order.enumerated() where rank < topKLimit && probs[i] >= cutoff && probs[i] >= minPFloor {
            let p = probs[i] / total
            kept.append((i, s.temperature == 1 ? p : pow(p, 1 / Double(s.temperature))))
        }
        // Draw in token-id order, as the package's np.random.choice does.
        kept.sort { $0.token < $1.token }
        let sum = kept.reduce(0) { $0 + $1.weight }
        guard sum > 0, sum.isFinite else { return best }
        var u = rng.nextUnit() * sum
        for k in kept {
            u -= k.weight
            if u < 0 { return k.token }
        }
        return kept.last?.token ?? best
    }
}

extension SamplingSettings: Codable {
    enum CodingKeys: String, CodingKey {
        case temperature, topP = "top_p", topK = "top_k", minP = "min_p", presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty", penaltyDecay = "penalty_decay", logitBias = "logit_bias"
        case bannedTokens = "banned_tokens"
    }

    /// Decodes settings; absent keys take the chat defaults, and `logit_bias` is an object keyed by token id.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SamplingSettings.chatDefault
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? d.temperature
        topP = try c.decodeIfPresent(Float.self, forKey: .topP) ?? d.topP
        topK = try c.decodeIfPresent(Int.self, forKey: .topK) ?? d.topK
        minP = try c.decodeIfPresent(Float.self, forKey: .minP) ?? d.minP
        presencePenalty = try c.decodeIfPresent(Float.self, forKey: .presencePenalty) ?? d.presencePenalty
        frequencyPenalty = try c.decodeIfPresent(Float.self, forKey: .frequencyPenalty) ?? d.frequencyPenalty
        penaltyDecay = try c.decodeIfPresent(Float.self, forKey: .penaltyDecay) ?? d.penaltyDecay
        let bias = try c.decodeIfPresent([String: Float].self, forKey: .logitBias) ?? [:]
        logitBias = [:]
        for (k, v) in bias {
            guard let id = Int(k) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .logitBias, in: c, debugDescription: "logit_bias key '\(k)' is not a token id")
            }
            logitBias[id] = v
        }
        bannedTokens = try c.decodeIfPresent([Int].self, forKey: .bannedTokens) ?? []
    }

    /// Encodes every field, `logit_bias` as an object keyed by token id.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(temperature, forKey: .temperature)
        try c.encode(topP, forKey: .topP)
        try c.encode(topK, forKey: .topK)
        try c.encode(minP, forKey: .minP)
        try c.encode(presencePenalty, forKey: .presencePenalty)
        try c.encode(frequencyPenalty, forKey: .frequencyPenalty)
        try c.encode(penaltyDecay, forKey: .penaltyDecay)
        try c.encode(Dictionary(uniqueKeysWithValues: logitBias.map { (String($0.key), $0.value) }), forKey: .logitBias)
        try c.encode(bannedTokens, forKey: .bannedTokens)
    }
}
