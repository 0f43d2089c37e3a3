import ArgumentParser
import Foundation
import Kernels
import RWKV

/// `rwkv-chat quantize`: writes a model as an rwkv.cpp `.bin` or a GGUF file, optionally quantized.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract:
            "Convert a model (.pth, .safetensors, .bin, .gguf) to an rwkv.cpp .bin or a GGUF file: f32, f16, bf16 (GGUF only), q8_0, q5_1, q5_0, q4_1 or q4_0.",
        discussion: """
            The output format follows the output's extension (.gguf: GGUF, anything else: rwkv.cpp .bin) \
            unless --format says otherwise. GGUF holds RWKV-6 and RWKV-7 models and stores the World \
            vocabulary inside the file (from --vocab, the input GGUF, or the vocabulary file next to the input).
            """)

    @Argument(help: "Input model file.") var input: String
    @Argument(help: "Output .bin file.") var output: String
    @Option(name: .long, help: "Target type of the large matrices.") var type: String = "q8_0"
    @Option(name: .long, help: "Output format: bin (rwkv.cpp) or gguf. Default: from the output's extension.")
    var format: String?
    @Option(name: .long, help: "World vocabulary to store in a GGUF output.") var vocab: String?

    func run() throws {
        let types: [String: WeightType] = [
            "f32": .f32, "fp32": .f32, "f16": .f16, "fp16": .f16, "q8_0": .q8_0, "q5_1": .q5_1, "q5_0": .q5_0,
            "q4_1": .q4_1, "q4_0": .q4_0, "bf16": .bf16,
        ]
        guard let t = types[type.lowercased()] else {
            throw ValidationError("--type must be one of f32, f16, bf16, q8_0, q5_1, q5_0, q4_1, q4_0")
        }
        guard (input as NSString).standardizingPath != (output as NSString).standardizingPath else {
            throw ValidationError("the output must be a different file from the input")
        }
        let gguf: Bool
        switch format?.lowercased() {
        case nil: gguf = output.lowercased().hasSuffix(".gguf")
        case "gguf"?: gguf = true
        case "bin"?, "rwkvcpp"?, "rwkv.cpp"?: gguf = false
        default: throw ValidationError("--format must be bin or gguf")
        }
        let model = try Model.load(path: input, threads: 1)
        if gguf {
            // The vocabulary goes inside the file when one can be found; byte-level models need none.
            let find = {
                try TokenizerChoice.tokenizer(for: model, vocabPath: vocab)
            }
            // An explicit --vocab must load; otherwise a missing vocabulary just leaves it out.
            let tokenizer = vocab != nil ? try find() : try? find()
            try GGUFWriter.write(model, to: output, type: t, tokenizer: tokenizer)
        } else {
            try RWKVCppWriter.write(model, to: output, type: t)
        }
        let before = (try? FileManager.default.attributesOfItem(atPath: input)[.size] as? Int) ?? 0
        let after = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        print("\(output): RWKV v\(model.config.version.rawValue), \(t), \(after) bytes (input \(before) bytes)")
    }
}
