import ArgumentParser
import Foundation
import Kernels
import RWKV

/// `rwkv-chat quantize`: writes a model as an rwkv.cpp `.bin`, optionally quantized.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract:
            "Convert a model (.pth, .safetensors, .bin) to an rwkv.cpp .bin: f32, f16, q8_0, q5_1, q5_0, q4_1 or q4_0.")

    @Argument(help: "Input model file.") var input: String
    @Argument(help: "Output .bin file.") var output: String
    @Option(name: .long, help: "Target type of the large matrices.") var type: String = "q8_0"

    func run() throws {
        let types: [String: WeightType] = [
            "f32": .f32, "fp32": .f32, "f16": .f16, "fp16": .f16, "q8_0": .q8_0, "q5_1": .q5_1, "q5_0": .q5_0,
            "q4_1": .q4_1, "q4_0": .q4_0,
        ]
        guard let t = types[type.lowercased()] else {
            throw ValidationError("--type must be one of f32, f16, q8_0, q5_1, q5_0, q4_1, q4_0")
        }
        guard (input as NSString).standardizingPath != (output as NSString).standardizingPath else {
            throw ValidationError("the output must be a different file from the input")
        }
        let model = try Model.load(path: input, threads: 1)
        try RWKVCppWriter.write(model, to: output, type: t)
        let before = (try? FileManager.default.attributesOfItem(atPath: input)[.size] as? Int) ?? 0
        let after = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        print("\(output): RWKV v\(model.config.version.rawValue), \(t), \(after) bytes (input \(before) bytes)")
    }
}
