import ArgumentParser
import Foundation
import RWKV

/// `rwkv-chat info`: describes a model file.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a model's format, version, dimensions, parameters and types.")

    @Option(name: .long, help: "Model file.")
    var model: String

    @Flag(name: .long, help: "List every tensor with its shape and type.")
    var tensors = false

    func run() throws {
        let m = try Model.load(path: model, threads: 1)
        let c = m.config
        let size = (try? FileManager.default.attributesOfItem(atPath: model)[.size] as? Int) ?? 0
        var types: [String: Int] = [:]
        for t in m.tensors.tensors { types[t.type.description, default: 0] += t.count }
        let typeList = types.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let ranks = c.loraRanks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("file:        \(model)")
        print("format:      \(m.format.rawValue)")
        if let name = m.tensors.metadata["general.name"] { print("name:        \(name)") }
        if let vocab = m.tensors.embeddedTokenizer { print("tokenizer:   \(vocab.name), stored in the file") }
        if m.tensors.residualRescaleEvery > 0 {
            print("rescale:     residual halved every \(m.tensors.residualRescaleEvery) layers")
        }
        print("version:     RWKV v\(c.version.rawValue)")
        print("layers:      \(c.layerCount)")
        print("embedding:   \(c.embedding)")
        print("heads:       \(c.headCount) × \(c.headSize)")
        print("ffn width:   \(c.ffnWidth)")
        print("vocabulary:  \(c.vocabulary)")
        if !ranks.isEmpty { print("LoRA ranks:  \(ranks)") }
        print("parameters:  \(m.parameterCount)")
        print("types:       \(typeList) (elements)")
        let matrices = m.tensors.tensors.filter { $0.shape.filter { $0 > 1 }.count >= 2 }
        let bits = matrices.reduce(0.0) { $0 + Double($1.count) * $1.type.bitsPerWeight }
        let elements = matrices.reduce(0) { $0 + $1.count }
        if elements > 0 { print("bits/weight: \(String(format: "%.2f", bits / Double(elements))) (matrices)") }
        print("state:       \(m.stateLayout.floatCount) floats (\(m.stateLayout.floatCount * 4) bytes)")
        print("file size:   \(size) bytes")
        if tensors {
            for t in m.tensors.tensors {
                print("  \(t.name) \(t.shape) \(t.type) (\(t.type.bitsPerWeight) bits/weight)")
            }
        }
    }
}
