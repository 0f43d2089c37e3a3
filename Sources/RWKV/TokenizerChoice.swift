import Foundation

/// Picks the tokenizer for a model.
public enum TokenizerChoice {
    /// The World vocabulary's file name.
    public static let worldVocabularyFile = "rwkv_vocab_v20230424.txt"

    /// The tokenizer for a model with `vocabularySize` ids loaded from `modelPath`.
    ///
    /// An explicit `vocabPath` always wins. Otherwise byte-level models (256 ids)
    /// use `ByteTokenizer`, and World models (65,536 ids) use the World vocabulary
    /// file found next to the model. Known limit: the 20B (GPT-NeoX) tokenizer of
    /// v4 Pile/Raven models is not implemented yet.
    public static func tokenizer(vocabPath: String?, vocabularySize: Int, modelPath: String?) throws -> Tokenizer {
        if let vocabPath {
            if vocabPath == "bytes" { return ByteTokenizer() }
            return try WorldTokenizer(path: vocabPath)
        }
        if vocabularySize == 256 { return ByteTokenizer() }
        if let modelPath {
            let sibling = ((modelPath as NSString).deletingLastPathComponent as NSString)
                .appendingPathComponent(worldVocabularyFile)
            if FileManager.default.fileExists(atPath: sibling) { return try WorldTokenizer(path: sibling) }
        }
        throw ModelFileError(
            modelPath ?? "model", .missingFile,
            "no tokenizer for a \(vocabularySize)-token vocabulary: pass --vocab PATH (the World vocabulary is \(worldVocabularyFile))"
        )
    }
}
