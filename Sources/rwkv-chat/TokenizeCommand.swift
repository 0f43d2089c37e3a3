import ArgumentParser
import Foundation
import RWKV

/// `rwkv-chat tokenize`: prints the token ids of a text as a JSON array.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize", abstract: "Print the token ids of TEXT (or of stdin's raw bytes) as a JSON array.")

    @Option(name: .long, help: "Vocabulary file (World rwkv_vocab_v20230424.txt), or 'bytes'.")
    var vocab: String

    @Argument(help: "Text to tokenize. Without it, stdin's bytes are tokenized exactly as read.")
    var text: String?

    func run() throws {
        let tokenizer = try TokenizerChoice.tokenizer(vocabPath: vocab, vocabularySize: 0, modelPath: nil)
        let bytes = text.map { Array($0.utf8) } ?? Array(FileHandle.standardInput.readDataToEndOfFile())
        print("[" + tokenizer.encode(bytes: bytes).map(String.init).joined(separator: ",") + "]")
    }
}

/// `rwkv-chat detokenize`: prints the text of token ids.
struct DetokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detokenize", abstract: "Print the text of comma-separated token ids.")

    @Option(name: .long, help: "Vocabulary file (World rwkv_vocab_v20230424.txt), or 'bytes'.")
    var vocab: String

    @Argument(help: "Token ids, e.g. 33155,3266 or [33155, 3266].")
    var tokens: String

    func run() throws {
        let tokenizer = try TokenizerChoice.tokenizer(vocabPath: vocab, vocabularySize: 0, modelPath: nil)
        let ids = try parseTokenList(tokens)
        if let bad = ids.first(where: { tokenizer.bytes(of: $0) == nil && $0 != 0 }) {
            throw ValidationError("token \(bad) is not in the vocabulary")
        }
        FileHandle.standardOutput.write(Data(tokenizer.decodeBytes(ids)))
        print()
    }
}
