import ArgumentParser
import Foundation
import Kernels
import RWKV

/// Options shared by the commands that load a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model file (.pth, .safetensors, rwkv.cpp .bin or .gguf).")
    var model: String

    @Option(
        name: .long,
        help: "Vocabulary file (World rwkv_vocab_v20230424.txt), or 'bytes'. Default: chosen from the model.")
    var vocab: String?

    @Option(name: .long, help: "Threads for matrix products (results do not depend on it). Default: all cores.")
    var threads: Int?

    @Option(
        name: .long,
        help:
            "Convert the large matrices at load: fp32, fp16, bf16, q8_0, q5_1, q5_0, q4_1, q4_0. Default: as stored in the file."
    )
    var precision: String?

    /// Loads the model with the requested thread count and precision.
    func load() throws -> Model {
        try Model.load(
            path: model, threads: threads ?? ThreadPool.availableCores, precision: try parsePrecision(precision))
    }

    /// The tokenizer for `model`.
    func tokenizer(for model: Model) throws -> Tokenizer {
        try TokenizerChoice.tokenizer(for: model, vocabPath: vocab)
    }
}

/// Parses "34,105,110" (spaces and brackets allowed) into token ids.
func parseTokenList(_ text: String) throws -> [Int] {
    let cleaned = text.filter { !"[] ".contains($0) }
    guard !cleaned.isEmpty else { return [] }
    return try cleaned.split(separator: ",", omittingEmptySubsequences: false).map { part in
        guard let v = Int(part) else { throw ValidationError("'\(part)' is not a token id") }
        return v
    }
}

/// Writes float32 values little-endian to `path`, replacing the file atomically.
func writeFloats(_ values: [Float], to path: String) throws {
    var bytes = [UInt8]()
    bytes.reserveCapacity(values.count * 4)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
    try writeBytes(bytes, to: path)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a failure never leaves half a file.
func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
}

/// The weight type named by a `--precision` value (nil for none).
func parsePrecision(_ name: String?) throws -> WeightType? {
    guard let name else { return nil }
    let types: [String: WeightType] = [
        "fp32": .f32, "f32": .f32, "fp16": .f16, "f16": .f16, "bf16": .bf16, "q8_0": .q8_0, "q5_1": .q5_1,
        "q5_0": .q5_0, "q4_1": .q4_1, "q4_0": .q4_0,
    ]
    guard let t = types[name.lowercased()] else {
        throw ValidationError("--precision must be one of fp32, fp16, bf16, q8_0, q5_1, q5_0, q4_1, q4_0")
    }
    return t
}
