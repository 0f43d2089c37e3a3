import Kernels

/// The container formats rwkv-chat reads model weights from.
public enum ModelFormat: String, Sendable {
    /// `torch.save` zip archive (BlinkDL `.pth` releases).
    case pytorch = "pytorch .pth"
    /// Hugging Face safetensors (Ai00 / web-rwkv).
    case safetensors = "safetensors"
    /// rwkv.cpp's ggmf `.bin`.
    case rwkvcpp = "rwkv.cpp .bin"
    /// llama.cpp's GGUF (architectures `rwkv6` and `rwkv7`).
    case gguf = "GGUF"
    /// Built in memory with deterministic weights (benchmarks and tests).
    case synthetic = "synthetic"

    /// Opens `path`, recognises its format from its first bytes, and reads its tensor table.
    ///
    /// The file extension is not trusted: a renamed file still opens, and a file of
    /// another kind gets an error that says what it looks like.
    public static func open(path: String) throws -> TensorTable {
        let file = try MappedFile(path: path)
        guard file.size >= 8 else {
            throw ModelFileError(path, .unknownFormat, "not a model file: only \(file.size) bytes")
        }
        let magic = try file.read(UInt32.self, at: 0, what: "the file header")
        switch magic {
        case 0x0403_4b50:
            return try TorchCheckpoint.read(file)
        case 0x6767_6d66:
            return try RWKVCppFile.read(file)
        case 0x4655_4747:
            return try GGUFFile.read(file)
        default:
            break
        }
        let headerLength = try file.read(UInt64.self, at: 0, what: "the file header")
        if file.size > 8, try file.read(UInt8.self, at: 8, what: "the file header") == UInt8(ascii: "{") {
            return try SafeTensorsFile.read(file, headerLength: headerLength)
        }
        if magic & 0xFFFF == 0x0280 || magic & 0xFF == 0x80 {
            throw ModelFileError(
                path, .unsupported,
                "legacy (pre-1.6) PyTorch pickle checkpoints are not supported; re-save it with a current torch.save")
        }
        throw ModelFileError(
            path, .unknownFormat,
            "not a model file: unrecognised header (expected a .pth zip archive, .safetensors, rwkv.cpp .bin or GGUF)")
    }
}

extension WeightType {
    /// The element type of a PyTorch storage class name, if rwkv-chat supports it.
    init?(torchStorage name: String) {
        switch name {
        case "FloatStorage": self = .f32
        case "HalfStorage": self = .f16
        case "BFloat16Storage": self = .bf16
        default: return nil
        }
    }

    /// The element type of a safetensors dtype string, if supported.
    init?(safetensors name: String) {
        switch name {
        case "F32": self = .f32
        case "F16": self = .f16
        case "BF16": self = .bf16
        default: return nil
        }
    }
}
