import ArgumentParser
import Foundation
import RWKV

/// `rwkv-chat eval`: runs tokens through a model from the initial state.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Run tokens through a model and report or save the logits and state.")

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case step, sequence
    }

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Comma-separated token ids, e.g. 34,105,110.")
    var tokens: String?

    @Option(name: .long, help: "Text to tokenize and run.")
    var text: String?

    @Option(name: .long, help: "step (one token per call) or sequence (one call for all tokens).")
    var mode: Mode = .sequence

    @Flag(name: .long, help: "Write logits after every token, not only the last.")
    var allLogits = false

    @Option(name: .long, help: "Write little-endian float32 logits to this file.")
    var logitsOut: String?

    @Option(name: .long, help: "Write the final state (official package layout, float32 LE) to this file.")
    var stateOut: String?

    func validate() throws {
        guard (tokens == nil) != (text == nil) else { throw ValidationError("give exactly one of --tokens and --text") }
    }

    func run() throws {
        let model = try options.load()
        let ids: [Int]
        var tokenizer: Tokenizer?
        if let tokens {
            ids = try parseTokenList(tokens)
        } else {
            tokenizer = try options.tokenizer(for: model)
            ids = tokenizer!.encode(text ?? "")
        }
        guard !ids.isEmpty else { throw ValidationError("no tokens to evaluate") }
        var state = model.initialState()
        var logits: [Float] = []
        let started = Date()
        switch mode {
        case .sequence:
            logits = try model.sequence(ids, state: &state, allLogits: allLogits)
        case .step:
            for id in ids {
                let row = try model.step(id, state: &state)
                logits = allLogits ? logits + row : row
            }
        }
        let seconds = Date().timeIntervalSince(started)
        if let logitsOut { try writeFloats(logits, to: logitsOut) }
        if let stateOut { try writeBytes(state.officialLayoutBytes(), to: stateOut) }

        let vocab = model.config.vocabulary
        let last = logits[(logits.count - vocab)...]
        let top = Logits.top(last, k: 5).map { entry -> String in
            let label = tokenizer.map { " " + String(reflecting: $0.decode([entry.token])) } ?? ""
            return "\(entry.token)\(label) \(String(format: "%.3f", entry.logit))"
        }
        print(
            "\((model.path as NSString).lastPathComponent): RWKV v\(model.config.version.rawValue), "
                + "\(ids.count) tokens (\(mode.rawValue), \(String(format: "%.1f", seconds * 1000)) ms); "
                + "top-5 next: \(top.joined(separator: ", "))")
    }
}
