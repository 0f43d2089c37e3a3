import ArgumentParser
import Conversation
import Foundation
import Kernels
import RWKV

/// `rwkv-chat bench`: speed figures for a model or a synthetic model of a real shape.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure generation, prefill, state and session speed (medians with min–max).",
        discussion: """
            Generation is timed token by token after a warm-up, in --repeats rounds of --tokens
            tokens, and compared with this machine's read bandwidth, measured just before and
            just after each round: a generated token must read every weight once, so weight
            bytes ÷ bandwidth is its lower bound. Prefill is compared in the same way with the
            arithmetic peak (independent FMA chains on the same threads, read before and after
            each round), counting the weight matrices' 2 · rows · cols operations per token.
            Figures vary with the machine's load; compare ratios measured in one run.
            """)

    @Option(name: .long, help: "Model file to measure.") var model: String?
    @Option(name: .long, help: "Synthetic RWKV-7 shape instead of a file: 0.1b, 0.4b, 1.5b, 2.9b, 7.2b.")
    var synthetic: String?
    @Option(
        name: .long,
        help:
            "Weight type: fp32, fp16, bf16 for a synthetic model (default fp16); for a file, also q8_0 … q4_0 (converted at load; default as stored)."
    )
    var precision: String?
    @Option(name: .long, help: "Threads.") var threads: Int = 1
    @Option(
        name: .long,
        help: "Kernels: auto, avx2 (without the AVX-512 variants) or portable, to compare the paths on one machine.")
    var kernels: String = "auto"
    @Option(
        name: .long,
        help: "Software prefetch in the one-token fp16/bf16/Q8_0 kernels: auto (the host's default), on or off.")
    var prefetch: String = "auto"
    @Option(name: .long, help: "Generated tokens timed in each round.") var tokens: Int = 32
    @Option(name: .long, help: "Prompt length for prefill.") var prefill: Int = 512
    @Option(name: .long, help: "Repetitions of each measurement.") var repeats: Int = 3
    @Option(
        name: .customLong("session-turns"),
        help: "Also time a session of this many turns: restore versus replay (0: skip).")
    var sessionTurns: Int = 0
    @Option(name: .customLong("session-tokens"), help: "Approximate total tokens of that session.")
    var sessionTokens: Int = 2000
    @Flag(name: .long, help: "Print one JSON object.") var json = false
    @Flag(name: .long, help: "Time the full-screen chat's reducer and renderer instead of a model.") var ui = false
    @Option(
        name: .long,
        help: "Write the synthetic model to this GGUF file (to time loading a real file of that shape) and stop.")
    var save: String?

    func validate() throws {
        if ui { return }
        guard (model == nil) != (synthetic == nil) else {
            throw ValidationError("give exactly one of --model and --synthetic")
        }
        _ = try parsePrecision(precision)
        guard ["auto", "avx2", "portable"].contains(kernels) else {
            throw ValidationError("--kernels must be auto, avx2 or portable, not '\(kernels)'")
        }
        guard ["auto", "on", "off"].contains(prefetch) else {
            throw ValidationError("--prefetch must be auto, on or off, not '\(prefetch)'")
        }
        guard tokens >= 1, repeats >= 1, prefill >= 1, threads >= 1 else {
            throw ValidationError("--tokens, --repeats, --prefill and --threads must be at least 1")
        }
    }

    func run() throws {
        if ui {
            runUI()
            return
        }
        MatMul.forceAVX2(kernels == "avx2")
        MatMul.forcePortable(kernels == "portable")
        MatMul.forceRowPrefetch(prefetch == "auto" ? nil : prefetch == "on")
        var out: [String: Any] = [
            "threads": threads, "kernels": MatMul.activePath, "row_prefetch": MatMul.rowPrefetch,
        ]
        let loadStart = Date()
        let m: Model
        if let synthetic {
            let type = try parsePrecision(precision) ?? .f16
            m = try SyntheticModel.make(synthetic, type: type, threads: threads)
            out["shape"] = synthetic
            out["precision"] = type.description
            if let save {
                try GGUFWriter.write(m, to: save, type: type)
                print("wrote \(save)")
                return
            }
        } else {
            m = try Model.load(path: model!, threads: threads, precision: try parsePrecision(precision))
            out["model"] = model!
            out["precision"] = Set(m.tensors.tensors.filter { $0.shape.count == 2 }.map { $0.type.description })
                .sorted().joined(separator: "+")
        }
        var s = m.initialState()
        _ = try m.step(1, state: &s)
        out["load_s"] = Date().timeIntervalSince(loadStart)
        if synthetic != nil { out["load_note"] = "synthetic: time to build the weights in memory" }

        // Bytes one generated token reads: every tensor except the embedding table, of which one row is read.
        let c = m.config
        let emb = m.tensors["emb.weight"]!
        let weightBytes =
            m.tensors.dataBytes - emb.type.byteCount(elements: emb.count) + emb.type.byteCount(elements: c.embedding)
        out["weight_bytes_per_token"] = weightBytes

        // Prefill: one sequence-mode call over `prefill` tokens from a fresh state, in
        // `repeats` rounds, each between two readings of the arithmetic peak (which moves
        // with this VM's clock, as bandwidth does, so each round is compared with the
        // readings around it). A prompt token costs 2 · rows · cols for every weight
        // matrix but the embedding table and the head (run for the last token only);
        // the delta rule and the element-wise work come on top and are not counted.
        let prompt = (0..<prefill).map { ($0 * 31 + 7) % c.vocabulary }
        let matrixFlops = m.tensors.tensors
            .filter { $0.shape.count == 2 && $0.name != "emb.weight" && $0.name != "head.weight" }
            .reduce(0) { $0 + 2 * $1.count }
        out["matrix_flops_per_token"] = matrixFlops
        let peakProbe = ComputePeak(threads: threads)
        var peaks = [peakProbe.measure()]
        var prefillRates: [Double] = []
        var peakFractions: [Double] = []
        for _ in 0..<repeats {
            var ps = m.initialState()
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try m.sequence(prompt, state: &ps)
            let rate = Double(prefill) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            prefillRates.append(rate)
            peaks.append(peakProbe.measure())
            let around = (peaks[peaks.count - 2] + peaks[peaks.count - 1]) / 2
            peakFractions.append(rate * Double(matrixFlops) / 1e9 / around)
        }
        let pf = Stats(prefillRates)
        out["prefill_tokens_per_s"] = pf.median
        out["prefill_tokens_per_s_min"] = pf.min
        out["prefill_tokens_per_s_max"] = pf.max
        out["prefill_gflops"] = pf.median * Double(matrixFlops) / 1e9
        let pk = Stats(peaks)
        out["compute_peak_gflops"] = pk.median
        out["compute_peak_gflops_min"] = pk.min
        out["compute_peak_gflops_max"] = pk.max
        let pfr = Stats(peakFractions)
        out["prefill_peak_fraction"] = pfr.median
        out["prefill_peak_fraction_min"] = pfr.min
        out["prefill_peak_fraction_max"] = pfr.max

        // State: fork (a copy of the value), serialize, restore, of a state after a
        // 4-token warm-up (which generation below continues from).
        var state = m.initialState()
        for t in 0..<4 { _ = try m.step(t + 10, state: &state) }
        out["state_bytes"] = state.values.count * 4
        out["fork_ms"] =
            Stats(
                (0..<max(5, repeats)).map { _ in
                    time {
                        var fork = state
                        fork.values[0] += 0  // Forces the copy that a later write would make.
                        precondition(fork.values.count == state.values.count)
                    }
                }
            ).median
        var bytes: [UInt8] = []
        out["state_save_ms"] = Stats((0..<max(5, repeats)).map { _ in time { bytes = state.serialized() } }).median
        out["state_restore_ms"] =
            Stats((0..<max(5, repeats)).map { _ in time { _ = try? State(serialized: bytes, path: "bench") } }).median

        if sessionTurns > 0 { try benchSession(m, into: &out) }
        // Peak memory is read before the bandwidth probe, whose 512 MiB buffer would inflate it;
        // generation, timed last, allocates nothing new (the warm-up step made its scratch).
        out["peak_rss_mib"] = peakRSSMiB()
        try benchGeneration(m, from: state, weightBytes: weightBytes, into: &out)
        report(out)
    }

    /// Times generation in `repeats` rounds of `tokens` tokens, each between two readings
    /// of the bandwidth probe.
    ///
    /// This VM's bandwidth moves by up to a factor of two from one second to the next,
    /// so a bound measured at another moment than the tokens it bounds says little.
    /// Each round is compared with the mean of the readings just before and just after
    /// it, and the fraction reported is the median over rounds.
    func benchGeneration(_ m: Model, from warmed: State, weightBytes: Int, into out: inout [String: Any]) throws {
        let probe = Bandwidth.Probe(megabytes: 512, threads: threads)
        var state = warmed
        var genMs: [Double] = []
        var bandwidths: [Double] = []
        var fractions: [Double] = []
        var before = probe.measure(repeats: 3)
        for round in 0..<repeats {
            var roundMs: [Double] = []
            for i in 0..<tokens {
                let token = ((round * tokens + i) * 7919) % m.config.vocabulary
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try m.step(token, state: &state)
                roundMs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            let after = probe.measure(repeats: 3)
            let bandwidth = (before + after) / 2
            bandwidths.append(bandwidth)
            fractions.append(Double(weightBytes) / (bandwidth * 1e9) * 1e3 / Stats(roundMs).median)
            genMs += roundMs
            before = after
        }
        let gen = Stats(genMs), bw = Stats(bandwidths), fraction = Stats(fractions)
        out["gen_ms_per_token"] = gen.median
        out["gen_ms_min"] = gen.min
        out["gen_ms_max"] = gen.max
        out["read_bandwidth_gbs"] = bw.median
        out["read_bandwidth_gbs_min"] = bw.min
        out["read_bandwidth_gbs_max"] = bw.max
        out["bandwidth_bound_ms"] = Double(weightBytes) / (bw.median * 1e9) * 1e3
        out["bandwidth_bound_fraction"] = fraction.median
        out["bandwidth_bound_fraction_min"] = fraction.min
        out["bandwidth_bound_fraction_max"] = fraction.max
    }

    /// Builds a session of `sessionTurns` turns (about `sessionTokens` tokens), saves it, then
    /// times reopening it (load + the active node's snapshot) against replaying its tokens.
    func benchSession(_ m: Model, into out: inout [String: Any]) throws {
        let perTurn = max(8, sessionTokens / sessionTurns)
        var template = ChatTemplate.default
        template.warmup = []
        let chat = try ChatSession(
            model: m, tokenizer: ByteTokenizer(), template: template, seed: 1, maxTokens: perTurn / 2)
        let message = String(repeating: "word ", count: max(1, (perTurn / 2 - 17) / 5))
        for _ in 0..<sessionTurns { _ = try chat.send(message) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-bench-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bench.rwkvsession")
        try SessionFile.save(chat, to: url)
        let pathTokens = chat.tree.activePath.flatMap { chat.tree[$0]!.tokens }
        var restores: [Double] = []
        var replays: [Double] = []
        for _ in 0..<repeats {
            restores.append(
                try timeThrowing {
                    let loaded = try SessionFile.load(url, model: m, tokenizer: ByteTokenizer())
                    _ = try loaded.snapshot(for: loaded.cursor)
                })
            replays.append(
                try timeThrowing {
                    var st = m.initialState()
                    _ = try m.sequence(pathTokens, state: &st)
                })
        }
        let restore = Stats(restores).median
        let replay = Stats(replays).median
        out["session_turns"] = sessionTurns
        out["session_tokens"] = pathTokens.count
        out["session_file_bytes"] = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        out["session_restore_ms"] = restore
        out["session_replay_ms"] = replay
        out["session_replay_over_restore"] = replay / restore
    }

    func report(_ out: [String: Any]) {
        if json {
            let data = (try? JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])) ?? Data()
            print(String(decoding: data, as: UTF8.self))
            return
        }
        for key in out.keys.sorted() {
            let v = out[key]!
            if let d = v as? Double {
                print("\(key): \(String(format: d < 10 ? "%.4f" : "%.1f", d))")
            } else {
                print("\(key): \(v)")
            }
        }
    }
}

/// Median, min and max of a list of measurements.
struct Stats {
    let median: Double, min: Double, max: Double
    init(_ xs: [Double]) {
        let s = xs.sorted()
        median = s.isEmpty ? 0 : s[s.count / 2]
        min = s.first ?? 0
        max = s.last ?? 0
    }
}

/// Milliseconds taken by `body`.
func time(_ body: () -> Void) -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
}

/// Milliseconds taken by a throwing `body`.
func timeThrowing(_ body: () throws -> Void) throws -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
}

/// The process's peak resident set size in MiB.
func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024  // Linux reports KiB.
}
