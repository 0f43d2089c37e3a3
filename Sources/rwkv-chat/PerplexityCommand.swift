import ArgumentParser
import Foundation
import RWKV

/// `rwkv-chat perplexity`: per-token negative log-likelihood of a text file.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity", abstract: "Score a text file: mean negative log-likelihood per token and perplexity."
    )

    @OptionGroup var options: ModelOptions

    @Flag(name: .long, help: "Also print each token's id and NLL.")
    var perToken = false

    @Argument(help: "Text file to score.")
    var file: String

    func run() throws {
        let model = try options.load()
        let tokenizer = try options.tokenizer(for: model)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("\(file): cannot read the file")
        }
        let ids = tokenizer.encode(bytes: Array(data))
        guard ids.count >= 2 else { throw ValidationError("\(file): fewer than two tokens to score") }
        let started = Date()
        let nll = try model.negativeLogLikelihoods(ids)
        let seconds = Date().timeIntervalSince(started)
        if perToken {
            for (i, v) in nll.enumerated() { print("\(ids[i + 1])\t\(String(format: "%.5f", v))") }
        }
        let mean = nll.reduce(0, +) / Double(nll.count)
        print(
            "\(file): \(nll.count) tokens scored, mean NLL \(String(format: "%.5f", mean)) nats, "
                + "perplexity \(String(format: "%.4f", exp(mean))) "
                + "(\(String(format: "%.1f", Double(ids.count) / seconds)) tokens/s)")
    }
}
