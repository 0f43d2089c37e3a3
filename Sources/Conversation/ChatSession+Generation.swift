import Foundation
import RWKV

/// The generation loop: sample, feed, decode, stop.
extension ChatSession {
    /// What one run of the generation loop produced.
    struct GenerationResult {
        /// Tokens sampled and fed, in order (the stop token included).
        var tokens: [Int] = []
        /// The reply's display text (all of it, including any text it continued).
        var text = ""
        /// Why it ended.
        var finish: Turn.Finish = .length
        /// The state after the last fed token, with its logits.
        var snapshot: Snapshot
        /// Wall-clock seconds.
        var seconds: Double = 0
    }

    /// Samples up to `maxTokens` tokens from `start`, feeding each one, until a stop.
    ///
    /// Every sampled token is fed before the loop decides to stop, so the state
    /// always ends after the last token in `tokens` (for the separator `\n\n`, the
    /// next turn can start directly with `User:`). Text reaches `onText` only when it
    /// is complete UTF-8 and cannot be the start of a stop string. The loop cannot
    /// fail once started, so a reply is never half-recorded.
    func generate(from start: Snapshot, seed: UInt64, priorText: String, onText: (String) -> Bool) -> GenerationResult {
        var result = GenerationResult(snapshot: start)
        var settings = sampling
        // End-of-text is banned in chat (the reply ends at the separator instead), and a stop elsewhere.
        if template.framed { settings.bannedTokens.append(0) }
        let uncounted = uncountedTokens
        var sampler = Sampler(settings: settings, seed: seed, uncounted: { uncounted.contains($0) })
        var decoder = UTF8StreamDecoder()
        var raw = priorText
        // Counted in Unicode scalars, not Characters: a combining mark that arrives later
        // joins the previous Character without changing the Character count.
        var emitted = template.displayReply(raw).unicodeScalars.count
        let started = Date()
        defer {
            result.seconds = Date().timeIntervalSince(started)
            lastGenerationTokensPerSecond = Double(result.tokens.count) / max(result.seconds, 1e-9)
        }

        func emit(upTo end: String.Index) -> Bool {
            let shown = template.displayReply(String(raw[..<end])).unicodeScalars
            guard shown.count > emitted else { return true }
            var delta = ""
            delta.unicodeScalars.append(contentsOf: shown.dropFirst(emitted))
            emitted = shown.count
            return onText(delta)
        }

        while result.tokens.count < maxTokens {
            guard !result.snapshot.logits.isEmpty, let token = sampler.sample(result.snapshot.logits) else {
                result.finish = .stop
                break
            }
            if token == 0 {
                result.finish = .endOfText
                break
            }
            // The token is valid for this model (sampled from its logits), so feeding it cannot fail.
            guard let logits = try? model.sequence([token], state: &result.snapshot.state) else {
                result.finish = .stop
                break
            }
            result.snapshot.logits = logits
            result.snapshot.tokenCount += 1
            result.tokens.append(token)
            raw += decoder.feed(tokenizer.bytes(of: token) ?? [])
            if let stop = template.stopRange(in: raw) {
                raw = String(raw[..<stop.lowerBound])
                _ = emit(upTo: raw.endIndex)
                result.finish = .stop
                result.text = template.displayReply(raw)
                return result
            }
            if !emit(upTo: safeEnd(raw)) {
                result.finish = .cancelled
                break
            }
        }
        raw += decoder.flush()
        _ = emit(upTo: raw.endIndex)
        result.text = template.displayReply(raw)
        return result
    }

    /// The end of the part of `raw` that cannot turn into a stop string with more text.
    func safeEnd(_ raw: String) -> String.Index {
        var stops = template.stopStrings
        if template.framed { stops.append(template.separator) }
        var end = raw.endIndex
        for stop in stops where !stop.isEmpty {
            // The longest suffix of raw that is a proper prefix of this stop string.
            var k = min(stop.count - 1, raw.count)
            while k > 0 {
                let suffixStart = raw.index(raw.endIndex, offsetBy: -k)
                if stop.hasPrefix(raw[suffixStart...]) {
                    end = min(end, suffixStart)
                    break
                }
                k -= 1
            }
        }
        return end
    }
}
