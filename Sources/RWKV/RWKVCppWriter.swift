import Foundation
import Kernels

/// Writes a model as an rwkv.cpp `.bin` file (file version 101), optionally quantized.
///
/// The tensors are written as rwkv.cpp's converter lays them out (see
/// `RWKVCppFile.canonicalize`, which reads them back): dimensions innermost first,
/// `.time_*` tensors squeezed, v4/v5 decays exponentiated, v6 mixing LoRA
/// transposed, v7 `x_rwkvag` concatenated and LoRA transposed. Which tensors get
/// the target type follows rwkv.cpp: large matrices are quantized; the embedding,
/// the head, vectors and small tensors stay float (FP16 for matrices in an FP16 file).
public enum RWKVCppWriter {
    /// Writes `model`'s tensors to `path` with matrices in `type` (f32, f16, or a quantized type).
    public static func write(_ model: Model, to path: String, type: WeightType) throws {
        guard type != .bf16 else { throw InferenceError("rwkv.cpp files have no bf16 type; use f16 or f32") }
        let table = model.tensors
        let version = model.config.version
        var out: [UInt8] = []
        let typeCode: [WeightType: Int32] = [.f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q5_0: 7, .q5_1: 8, .q8_0: 9]
        for v in [
            0x6767_6d66, 101, Int32(model.config.vocabulary), Int32(model.config.embedding),
            Int32(model.config.layerCount), typeCode[type]!,
        ] as [Int32] {
            out.appendLE(UInt32(bitPattern: v))
        }
        let mixNames = ["x_r", "x_w", "x_k", "x_v", "x_a", "x_g"]
        let v7Lora = ["w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"]
        for t in table.tensors {
            let last = String(t.name.split(separator: ".").last ?? "")
            var name = t.name
            var shape = t.shape
            var values = t.floats()
            if version == .v7 && t.name.contains(".att.") && mixNames.contains(last) {
                guard last == "x_r" else { continue }
                // The six token-shift vectors go as one [6, 1, C] tensor.
                let stem = String(t.name.dropLast(3))
                values = try mixNames.flatMap { try table.require(stem + $0).floats() }
                name = stem + "x_rwkvag"
                shape = [6, 1, t.count]
            } else if version == .v7 && t.name.contains(".att.") && v7Lora.contains(last) && shape.count == 2 {
                (values, shape) = (transpose(values, shape[0], shape[1]), [shape[1], shape[0]])
            } else if version == .v6
                && ["time_maa_w1", "time_decay_w1", "time_decay_w2"].contains(last) && shape.count == 2
            {
                (values, shape) = (transpose(values, shape[0], shape[1]), [shape[1], shape[0]])
            } else if version == .v6 && last == "time_maa_w2" && shape.count == 3 {
                let (n, a, b) = (shape[0], shape[1], shape[2])
                var swapped = values
                for j in 0..<n {
                    for x in 0..<a {
                        for y in 0..<b { swapped[(j * b + y) * a + x] = values[(j * a + x) * b + y] }
                    }
                }
                (values, shape) = (swapped, [n, b, a])
            } else if version == .v4 && t.name.hasSuffix(".att.time_decay") {
                values = values.map { -expf($0) }
            } else if [.v5_0, .v5_1, .v5_2].contains(version) && t.name.hasSuffix(".att.time_decay") {
                values = values.map { expf(-expf($0)) }
            } else if [.v5_0, .v5_1, .v5_2].contains(version) && t.name.hasSuffix(".att.time_first") {
                values = values.map { expf($0) }
            }
            if last.hasPrefix("time_") && last != "time_maa_w2" { shape = shape.filter { $0 != 1 } }
            if version != .v4 && ["time_decay", "time_first", "time_faaaa"].contains(last) {
                // v5/v6 keep these per head: [H, 1, 1] or [H, N, 1].
                let h = model.config.headCount
                shape = [h, values.count / h, 1]
            }
            if shape.isEmpty { shape = [1] }
            let target = storageType(name: name, shape: shape, version: version, requested: type)
            var data = [UInt8](repeating: 0, count: target.byteCount(elements: values.count))
            data.withUnsafeMutableBytes { target.encode(values, into: $0.baseAddress!) }
            let key = Array(name.utf8)
            out.appendLE(UInt32(shape.count))
            out.appendLE(UInt32(key.count))
            out.appendLE(UInt32(bitPattern: typeCode[target]!))
            for d in shape.reversed() { out.appendLE(UInt32(d)) }
            out += key
            out += data
        }
        try Data(out).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The type a tensor is stored in, given the requested type for the file.
    static func storageType(
        name: String, shape: [Int], version: ArchitectureVersion, requested: WeightType
    ) -> WeightType {
        let isMatrix = shape.count == 2 && shape.allSatisfy { $0 > 1 }
        guard isMatrix else { return .f32 }
        if requested == .f32 || requested == .f16 { return requested }
        let big = [".key.weight", ".value.weight", ".receptance.weight", ".gate.weight", ".output.weight"]
        let v6Lora = [".time_maa_w1", ".time_decay_w1", ".time_decay_w2"]
        let quantizable =
            big.contains { name.hasSuffix($0) } || (version == .v6 && v6Lora.contains { name.hasSuffix($0) })
        return quantizable && shape[1] % 32 == 0 ? requested : .f32
    }

    /// A row-major `[rows, cols]` float32 matrix as its `[cols, rows]` transpose.
    static func transpose(_ v: [Float], _ rows: Int, _ cols: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: v.count) { out, n in
            v.withUnsafeBytes { Transpose.copy($0.baseAddress!, rows: rows, cols: cols, into: out.baseAddress!) }
            n = v.count
        }
    }
}
