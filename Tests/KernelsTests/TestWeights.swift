@testable import Kernels

/// Deterministic test weights and inputs shared by the float kernel tests.
enum TestWeights {
    /// Deterministic pseudo-random bytes (the high bits of the same generator).
    static func randomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var s = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (0..<n).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: s >> 56)
        }
    }

    /// Deterministic pseudo-random floats in [-1, 1).
    static func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (0..<n).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: s >> 11) % 1_000_000) / 1_000_000
        }
    }

    /// Stores `values` as `type`, returning the bytes and the values as actually stored.
    static func store(_ values: [Float], as type: WeightType) -> (bytes: [UInt8], stored: [Float]) {
        var bytes: [UInt8] = []
        var stored: [Float] = []
        for v in values {
            switch type {
            case .f32:
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
                stored.append(v)
            case .f16:
                let h = Float16(v)
                withUnsafeBytes(of: h.bitPattern.littleEndian) { bytes += $0 }
                stored.append(Float(h))
            case .bf16:
                let b = UInt16(truncatingIfNeeded: v.bitPattern >> 16)
                withUnsafeBytes(of: b.littleEndian) { bytes += $0 }
                stored.append(Float(bitPattern: UInt32(b) << 16))
            default:
                preconditionFailure("quantized types are tested in QuantizedTests")
            }
        }
        return (bytes, stored)
    }
}
