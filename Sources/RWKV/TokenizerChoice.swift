import Foundation

/// Picks the tokenizer for a model.
public enum TokenizerChoice {
    /// The World vocabulary's file name.
    public static let worldVocabularyFile = "rwkv_vocab_v20230424.txt"
    /// The GPT-NeoX 20B tokenizer's file name.
    public static let neoXVocabularyFile = "20B_tokenizer.json"

    /// The tokenizer for a model with `vocabularySize` ids loaded from `modelPath`.
    ///
    /// An explicit `vocabPath` always wins, then a vocabulary stored in the model
    /// file (`embedded`, from GGUF). Otherwise byte-level models (256 ids)
    /// use `ByteTokenizer`, and World models (65,536 ids) use the World vocabulary
    /// file found next to the model, and 20B-vocabulary models the GPT-NeoX
    /// tokenizer file found next to the model.
    public static func tokenizer(
        vocabPath: String?, vocabularySize: Int, modelPath: String?, embedded: Tokenizer? = nil
    ) throws -> Tokenizer {
        if let vocabPath {
            if vocabPath == "bytes" { return ByteTokenizer() }
            if vocabPath.hasSuffix(".json") { return try NeoXTokenizer(path: vocabPath) }
            return try WorldTokenizer(path: vocabPath)
        }
        if let embedded { return embedded }
        if vocabularySize == 256 { return ByteTokenizer() }
        if let modelPath {
            let dir = (modelPath as NSString).deletingLastPathComponent as NSString
            // 20B-vocabulary models (RWKV-4 Pile/Raven: 50,277 ids, padded to 50,304 in some
            // checkpoints) use the GPT-NeoX tokenizer; the others use the World vocabulary.
            let neox = dir.appendingPathComponent(neoXVocabularyFile)
            if vocabularySize < 60000, FileManager.default.fileExists(atPath: neox) {
                return try NeoXTokenizer(path: neox)
            }
            let sibling = dir.appendingPathComponent(worldVocabularyFile)
            if FileManager.default.fileExists(atPath: sibling) { return try WorldTokenizer(path: sibling) }
        }
        throw ModelFileError(
            modelPath ?? "model", .missingFile,
            "no tokenizer for a \(vocabularySize)-token vocabulary: pass --vocab PATH (the World vocabulary is \(worldVocabularyFile))"
        )
    }

    /// The tokenizer for a loaded model: `vocabPath` if given, else the one stored in
    /// the file, else the one its vocabulary size and directory call for.
    public static func tokenizer(for model: Model, vocabPath: String?) throws -> Tokenizer {
        try tokenizer(
            vocabPath: vocabPath, vocabularySize: model.config.vocabulary, modelPath: model.path,
            embedded: model.tensors.embeddedTokenizer)
    }
}
