import Foundation
import Kernels

/// Reads a `.safetensors` file: an 8-byte little-endian header length, a JSON
/// header mapping names to `{dtype, shape, data_offsets}`, then the data.
enum SafeTensorsFile {
    static func read(_ file: MappedFile, headerLength: UInt64) throws -> TensorTable {
        let path = file.path
        guard headerLength <= UInt64(file.size - 8), headerLength <= 100_000_000 else {
            throw ModelFileError(path, .truncated, "safetensors header length \(headerLength) exceeds the file")
        }
        let n = Int(headerLength)
        let json = Data(try file.array(at: 8, count: n, what: "the safetensors header"))
        guard let header = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw ModelFileError(path, .corrupt, "safetensors header is not a JSON object")
        }
        let dataStart = 8 + n
        let table = TensorTable(path: path, format: .safetensors, owner: file)
        // safetensors keeps its own (sorted) order; sorting by offset restores the writer's order.
        var records: [(String, Int, [Int], WeightType)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw ModelFileError(path, .corrupt, "safetensors entry '\(name)' is malformed") }
            guard let type = WeightType(safetensors: dtype) else {
                throw ModelFileError(path, .unsupported, "tensor '\(name)' has unsupported dtype \(dtype)")
            }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[1] >= offsets[0] else {
                throw ModelFileError(path, .corrupt, "safetensors entry '\(name)' has a negative size or offset")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let m = acc.0.multipliedReportingOverflow(by: d)
                return (m.partialValue, acc.1 || m.overflow)
            }
            guard !overflow, count * type.byteWidth == offsets[1] - offsets[0] else {
                throw ModelFileError(path, .corrupt, "tensor '\(name)': shape \(shape) does not match its byte range")
            }
            _ = try file.bytes(at: dataStart + offsets[0], count: offsets[1] - offsets[0], what: "tensor '\(name)'")
            records.append((name, offsets[0], shape, type))
        }
        for (name, offset, shape, type) in records.sorted(by: { $0.1 < $1.1 }) {
            let p = try file.bytes(at: dataStart + offset, count: 0, what: "tensor '\(name)'")
            try table.add(Tensor(name: name, shape: shape, type: type, data: p))
        }
        guard !table.tensors.isEmpty else {
            throw ModelFileError(path, .unsupported, "safetensors file holds no tensors")
        }
        return table
    }
}
