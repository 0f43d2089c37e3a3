import XCTest

@testable import RWKV

final class SamplerTests: XCTestCase {
    let logits: [Float] = [1.0, 3.0, 2.0, 0.5, 2.9]

    func settings(_ change: (inout SamplingSettings) -> Void) -> SamplingSettings {
        var s = SamplingSettings.chatDefault
        s.presencePenalty = 0
        s.frequencyPenalty = 0
        change(&s)
        return s
    }

    func testTemperatureZeroIsGreedyAndTopPZeroKeepsTheTopToken() {
        var a = Sampler(settings: settings { $0.temperature = 0 }, seed: 1)
        XCTAssertEqual((0..<20).map { _ in a.sample(logits) }, Array(repeating: 1, count: 20))
        var b = Sampler(settings: settings { $0.topP = 0 }, seed: 1)
        XCTAssertEqual((0..<20).map { _ in b.sample(logits) }, Array(repeating: 1, count: 20))
        var c = Sampler(
            settings: settings {
                $0.topP = 1; $0.topK = 1
            }, seed: 1)
        XCTAssertEqual((0..<20).map { _ in c.sample(logits) }, Array(repeating: 1, count: 20))
        // Ties go to the lower id when greedy.
        var d = Sampler(settings: settings { $0.temperature = 0 }, seed: 1)
        XCTAssertEqual(d.sample([0, 5, 5, 1]), 1)
    }

    func testTopPKeepsTheSmallestSetReachingP() {
        // Probabilities of [1, 3, 2, 0.5, 2.9]: token 1 ≈ 0.38, 4 ≈ 0.35, 2 ≈ 0.14, … top_p 0.5 keeps {1, 4}.
        var s = Sampler(settings: settings { $0.topP = 0.5 }, seed: 3)
        let drawn = Set((0..<300).compactMap { _ in s.sample(logits) })
        XCTAssertEqual(drawn, [1, 4])
    }

    func testDrawsFollowTheDistribution() {
        var s = Sampler(settings: settings { $0.topP = 1 }, seed: 9)
        var counts = [Int](repeating: 0, count: 5)
        let n = 20000
        for _ in 0..<n { counts[s.sample(logits)!] += 1 }
        let z = logits.map { exp(Double($0)) }.reduce(0, +)
        for i in 0..<5 {
            XCTAssertEqual(Double(counts[i]) / Double(n), exp(Double(logits[i])) / z, accuracy: 0.015, "token \(i)")
        }
        // Temperature 2 flattens: p^(1/2) renormalised.
        var t = Sampler(
            settings: settings {
                $0.topP = 1; $0.temperature = 2
            }, seed: 9)
        counts = [Int](repeating: 0, count: 5)
        for _ in 0..<n { counts[t.sample(logits)!] += 1 }
        let w = logits.map { exp(Double($0) / 2) }
        for i in 0..<5 {
            XCTAssertEqual(Double(counts[i]) / Double(n), w[i] / w.reduce(0, +), accuracy: 0.015, "T=2 token \(i)")
        }
    }

    func testMinPBansAndBias() {
        var m = Sampler(
            settings: settings {
                $0.topP = 1; $0.minP = 0.5
            }, seed: 4)
        XCTAssertEqual(Set((0..<300).compactMap { _ in m.sample(logits) }), [1, 4])
        var banned = Sampler(
            settings: settings {
                $0.temperature = 0; $0.bannedTokens = [1, 4]
            }, seed: 4)
        XCTAssertEqual(banned.sample(logits), 2)
        var all = Sampler(settings: settings { $0.bannedTokens = [0, 1, 2, 3, 4] }, seed: 4)
        XCTAssertNil(all.sample(logits), "nothing left to sample")
        var bias = Sampler(
            settings: settings {
                $0.temperature = 0; $0.logitBias = [3: 10]
            }, seed: 4)
        XCTAssertEqual(bias.sample(logits), 3)
    }

    func testPresenceAndFrequencyPenaltiesWithDecay() {
        // Greedy with a strong presence penalty: the top token cannot repeat immediately.
        var s = Sampler(
            settings: settings {
                $0.temperature = 0; $0.presencePenalty = 5
            }, seed: 1)
        XCTAssertEqual(s.sample(logits), 1)
        XCTAssertEqual(s.sample(logits), 4)
        XCTAssertEqual(s.sample(logits), 2)
        // Uncounted tokens (whitespace, digits in the package) add no frequency count, but,
        // as in the package, they are in the occurrence table and so get the presence penalty.
        var u = Sampler(
            settings: settings {
                $0.temperature = 0; $0.frequencyPenalty = 5
            }, seed: 1, uncounted: { $0 == 1 })
        XCTAssertEqual([u.sample(logits), u.sample(logits)], [1, 1])
        var up = Sampler(
            settings: settings {
                $0.temperature = 0; $0.presencePenalty = 5
            }, seed: 1, uncounted: { $0 == 1 })
        XCTAssertEqual([up.sample(logits), up.sample(logits)], [1, 4])
        // Frequency penalty decays: with decay 0 the count is gone after the next token.
        var d = Sampler(
            settings: settings {
                $0.temperature = 0
                $0.frequencyPenalty = 0.5
                $0.penaltyDecay = 0
            }, seed: 1)
        XCTAssertEqual(d.sample(logits), 1)
        XCTAssertEqual(d.sample(logits), 4, "1 penalised by 0.5 → 2.5 < 2.9")
        XCTAssertEqual(d.sample(logits), 1, "after decay to 0 only 4's fresh count remains")
    }

    func testSeedMakesSamplingReproducible() {
        var a = Sampler(settings: settings { $0.topP = 1 }, seed: 77)
        var b = Sampler(settings: settings { $0.topP = 1 }, seed: 77)
        var c = Sampler(settings: settings { $0.topP = 1 }, seed: 78)
        let ra = (0..<50).map { _ in a.sample(logits)! }
        XCTAssertEqual(ra, (0..<50).map { _ in b.sample(logits)! })
        XCTAssertNotEqual(ra, (0..<50).map { _ in c.sample(logits)! })
    }

    func testLargeVocabularyMatchesFullSortSemantics() {
        // 65,536 logits: the candidate shortcut must pick exactly the tokens a full sort would.
        var rng = SeededGenerator(seed: 1)
        let big = (0..<65536).map { _ in Float(rng.nextUnit() * 8) }
        let top = big.indices.sorted { big[$0] > big[$1] }
        var s = Sampler(
            settings: settings {
                $0.topP = 0.0; $0.topK = 0
            }, seed: 2)
        XCTAssertEqual(s.sample(big), top[0])
        var k = Sampler(
            settings: settings {
                $0.topP = 1; $0.topK = 3
            }, seed: 2)
        let drawn = Set((0..<40).compactMap { _ in k.sample(big) })
        XCTAssertTrue(drawn.isSubset(of: Set(top.prefix(3))), "\(drawn)")
    }
}
