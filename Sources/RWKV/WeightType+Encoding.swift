import CKernels
import Kernels

extension WeightType {
    /// Writes float32 `values` in this type at `raw` (`byteCount(elements: values.count)` bytes).
    ///
    /// Quantized types use ggml's reference quantizers (rows must be whole blocks);
    /// bf16 rounds to nearest even, as PyTorch's float → bfloat16 does.
    func encode(_ values: [Float], into raw: UnsafeMutableRawPointer) {
        guard self == .bf16 else {
            _ = ck_quantize(Int32(rawValue), values, raw, values.count)
            return
        }
        let out = raw.bindMemory(to: UInt16.self, capacity: values.count)
        for (i, v) in values.enumerated() {
            let bits = v.bitPattern
            let rounded = v.isNaN ? bits | 0x40_0000 : bits &+ 0x7FFF &+ ((bits >> 16) & 1)
            out[i] = UInt16(rounded >> 16).littleEndian
        }
    }
}
