import Kernels

/// Reads a `torch.save` zip archive of a dict of tensors (BlinkDL `.pth`).
///
/// The archive holds `<prefix>/data.pkl` (the pickled dict) and one uncompressed
/// entry `<prefix>/data/<key>` per storage. Tensors are used in place in the
/// mapped file; only a tensor whose strides are not contiguous is copied.
enum TorchCheckpoint {
    static func read(_ file: MappedFile) throws -> TensorTable {
        let path = file.path
        let archive = try ZipArchive(file: file)
        guard let pkl = archive.entries.first(where: { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }) else {
            throw ModelFileError(path, .unknownFormat, "zip archive without data.pkl: not a PyTorch checkpoint")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        var byName: [String: ZipArchive.Entry] = [:]
        for e in archive.entries { byName[e.name] = e }
        if let bo = byName[prefix + "byteorder"] {
            let text = String(
                decoding: try file.array(at: bo.dataOffset, count: bo.size, what: "byteorder"), as: UTF8.self)
            guard text == "little" else {
                throw ModelFileError(path, .unsupported, "checkpoint was saved on a \(text)-endian machine")
            }
        }
        var unpickler = Unpickler(
            bytes: try file.array(at: pkl.dataOffset, count: pkl.size, what: "data.pkl"), path: path)
        let root = try unpickler.load()
        guard case .dict(let dict) = root else {
            throw ModelFileError(
                path, .unsupported,
                "checkpoint is not a dict of tensors (a training checkpoint or a whole pickled model?)")
        }
        let table = TensorTable(path: path, format: .pytorch, owner: file)
        for (k, v) in dict.pairs {
            guard case .string(let name) = k else {
                throw ModelFileError(path, .corrupt, "checkpoint dict has a non-string key")
            }
            guard case .tensor(let rec) = v else { continue }  // Non-tensor entries carry no weights.
            guard let type = WeightType(torchStorage: rec.storage.typeName) else {
                throw ModelFileError(
                    path, .unsupported, "tensor '\(name)' has unsupported type \(rec.storage.typeName)")
            }
            guard let entry = byName[prefix + "data/" + rec.storage.key] else {
                throw ModelFileError(
                    path, .corrupt, "tensor '\(name)': storage '\(rec.storage.key)' is missing from the archive")
            }
            let width = type.byteWidth
            guard rec.storage.elementCount < 1 << 40, entry.size >= rec.storage.elementCount * width else {
                throw ModelFileError(
                    path, .truncated, "tensor '\(name)': storage '\(rec.storage.key)' is shorter than recorded")
            }
            // The furthest element the view touches must lie inside the storage. Sizes
            // come from the file, so every product is checked for overflow.
            let limit = 1 << 40
            guard let count = rec.shape.checkedProduct, rec.offset < limit,
                rec.shape.allSatisfy({ $0 < limit }), rec.stride.allSatisfy({ $0 < limit })
            else { throw ModelFileError(path, .corrupt, "tensor '\(name)' has an impossible size") }
            var last = rec.offset
            for (d, s) in Swift.zip(rec.shape, rec.stride) where d > 0 { last += (d - 1) * s }
            guard count == 0 || (last + 1) * width <= entry.size else {
                throw ModelFileError(path, .corrupt, "tensor '\(name)' reaches past the end of its storage")
            }
            let base = try file.bytes(at: entry.dataOffset, count: entry.size, what: "tensor '\(name)'")
            let start = base + rec.offset * width
            if isContiguous(shape: rec.shape, stride: rec.stride) {
                try table.add(Tensor(name: name, shape: rec.shape, type: type, data: start))
            } else {
                let copy = table.allocate(byteCount: count * width)
                gather(from: start, shape: rec.shape, stride: rec.stride, width: width, into: copy)
                try table.add(Tensor(name: name, shape: rec.shape, type: type, data: UnsafeRawPointer(copy)))
            }
        }
        guard !table.tensors.isEmpty else {
            throw ModelFileError(path, .unsupported, "checkpoint holds no tensors")
        }
        return table
    }

    static func isContiguous(shape: [Int], stride: [Int]) -> Bool {
        var expected = 1
        for (d, s) in zip(shape, stride).reversed() {
            if d != 1 && s != expected { return false }
            expected *= d
        }
        return true
    }

    // Copies a strided view into contiguous row-major order, one element at a time.
    // Only unusual checkpoints need this, so simplicity beats speed here.
    static func gather(
        from src: UnsafeRawPointer, shape: [Int], stride: [Int], width: Int, into dst: UnsafeMutableRawPointer
    ) {
        let count = shape.reduce(1, *)
        var idx = [Int](repeating: 0, count: shape.count)
        for n in 0..<count {
            var off = 0
            for d in 0..<shape.count { off += idx[d] * stride[d] }
            (dst + n * width).copyMemory(from: src + off * width, byteCount: width)
            var d = shape.count - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < shape[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
    }
}
