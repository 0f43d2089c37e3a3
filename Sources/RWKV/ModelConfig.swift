import Kernels

/// An RWKV architecture generation, as the official package distinguishes them.
public enum ArchitectureVersion: String, Sendable, CaseIterable {
    /// RWKV-4 (Pile, Raven).
    case v4 = "4"
    /// RWKV-5 with `ln_x` and no gate.
    case v5_0 = "5.0"
    /// RWKV-5 with a gate and per-head decay.
    case v5_1 = "5.1"
    /// RWKV-5 with per-channel decay ("Eagle" World v2).
    case v5_2 = "5.2"
    /// RWKV-6 ("Finch").
    case v6 = "6.0"
    /// RWKV-7 ("Goose", x070: World v3, G1).
    case v7 = "7.0"

    /// Detects the generation from tensor names and shapes, as the official package does.
    public static func detect(_ table: TensorTable) -> ArchitectureVersion {
        let names = table.names
        if names.contains(where: { $0.hasSuffix(".att.r_k") }) { return .v7 }
        if names.contains(where: { $0.contains("time_maa") }) { return .v6 }
        if names.contains(where: { $0.contains("ln_x") }) {
            guard names.contains(where: { $0.contains("gate.weight") }) else { return .v5_0 }
            let perChannel = table.tensors.contains {
                $0.name.hasSuffix("att.time_decay") && $0.squeezedShape.count > 1
            }
            return perChannel ? .v5_2 : .v5_1
        }
        return .v4
    }
}

/// The dimensions of a model, read from tensor shapes alone.
public struct ModelConfig: Equatable, Sendable {
    /// Architecture generation.
    public var version: ArchitectureVersion
    /// Number of blocks.
    public var layerCount: Int
    /// Embedding width C.
    public var embedding: Int
    /// Vocabulary size V.
    public var vocabulary: Int
    /// Channel-mix hidden width.
    public var ffnWidth: Int
    /// Heads H (1 for v4).
    public var headCount: Int
    /// Head size N (0 for v4).
    public var headSize: Int
    /// LoRA ranks by name (v7: decay, a, v, gate), empty when the version has none.
    public var loraRanks: [String: Int]
}
