import XCTest

@testable import Kernels
@testable import RWKV

/// Wide FFN value matrices are copied into column panels at load; the engine's
/// promises hold with them in play.
final class PanelledModelTests: XCTestCase {
    /// Two RWKV-7 blocks of the 0.4B width (1024, FFN 4096): the value matrices are
    /// 1024 × 4096, which the binder lays out in panels.
    func model(_ type: WeightType, threads: Int) throws -> Model {
        let shape = SyntheticModel.Shape(name: "wide-test", layers: 2, embedding: 1024, ranks: (64, 64, 32, 128))
        return try SyntheticModel.make(shape, type: type, threads: threads, vocabulary: 256)
    }

    let tokens: [Int] = (0..<70).map { ($0 * 37 + 11) % 256 }

    func testBinderLaysOutWideFloatMatricesInPanelsAndLeavesOthersInPlace() throws {
        let table = TensorTable(path: "memory", format: .synthetic, owner: self)
        let rows = 3, cols = 4100
        let values = (0..<(rows * cols)).map { Float($0 % 97) / 97 - 0.5 }
        let wideRaw = table.allocate(byteCount: rows * cols * 2)
        let tallRaw = table.allocate(byteCount: rows * cols * 2)
        for (i, v) in values.enumerated() {
            wideRaw.storeBytes(of: Float16(v).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
            tallRaw.storeBytes(of: Float16(v).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
        }
        let rowMajorBytes = [UInt8](UnsafeRawBufferPointer(start: wideRaw, count: rows * cols * 2))
        try table.add(Tensor(name: "wide", shape: [rows, cols], type: .f16, data: UnsafeRawPointer(wideRaw)))
        try table.add(Tensor(name: "tall", shape: [cols, rows], type: .f16, data: UnsafeRawPointer(tallRaw)))
        let bind = TensorBinder(table: table)
        let wide = try bind.matrix("wide", rows: rows, cols: cols)
        XCTAssertEqual(wide.panelColumns, WeightMatrix.panelWidth)
        XCTAssertEqual(wide.base, UnsafeRawPointer(wideRaw), "memory the table owns is rearranged where it is")
        XCTAssertNotEqual(
            [UInt8](UnsafeRawBufferPointer(start: wideRaw, count: rows * cols * 2)), rowMajorBytes, "now in panels")
        var row = [Float](repeating: 0, count: cols)
        let stored = values.map { Float(Float16($0)) }
        for r in 0..<rows {
            wide.copyRow(r, into: &row)
            XCTAssertEqual(row, Array(stored[(r * cols)..<((r + 1) * cols)]), "row \(r)")
        }
        // The table's tensor describes the panels and still reads back row-major,
        // byte for byte (what writers and the model fingerprint see).
        let t = try table.require("wide")
        XCTAssertEqual(t.panelColumns, WeightMatrix.panelWidth)
        XCTAssertEqual(t.floats(), stored)
        for (offset, count) in [(0, 24_600), (4094, 10), (2 * 4100 + 4095, 4097), (24_599, 1)] {
            t.withRowMajorBytes(at: offset, count: count) {
                XCTAssertEqual([UInt8]($0), Array(rowMajorBytes[offset..<(offset + count)]), "bytes at \(offset)")
            }
        }
        // Binding it again finds the panels; a matrix taller than wide stays in place.
        XCTAssertEqual(try bind.matrix("wide", rows: rows, cols: cols).base, wide.base)
        let tall = try bind.matrix("tall", rows: cols, cols: rows)
        XCTAssertEqual(tall.panelColumns, 0)
        XCTAssertEqual(tall.base, UnsafeRawPointer(tallRaw), "used in place")
    }

    /// A quantized wide tensor reads back in row-major order too, block by block (what
    /// the fingerprint of a Q8_0 or Q5_1 model samples).
    func testQuantizedPanelsReadBackTheFileBytes() throws {
        for type in [WeightType.q8_0, .q5_1] {
            let table = TensorTable(path: "memory", format: .synthetic, owner: self)
            let rows = 3, cols = 4128
            let count = type.byteCount(elements: rows * cols)
            let raw = table.allocate(byteCount: count)
            let values = (0..<(rows * cols)).map { Float(($0 * 7919) % 1000) / 500 - 1 }
            type.encode(values, into: raw)
            let original = [UInt8](UnsafeRawBufferPointer(start: raw, count: count))
            try table.add(Tensor(name: "wide", shape: [rows, cols], type: type, data: UnsafeRawPointer(raw)))
            let m = try TensorBinder(table: table).matrix("wide", rows: rows, cols: cols)
            XCTAssertEqual(m.panelColumns, WeightMatrix.panelWidth, "\(type)")
            let t = try table.require("wide")
            let rowBytes = type.byteCount(elements: cols)
            // Whole, across a panel boundary mid-block, and across a row boundary.
            for (offset, n) in [(0, count), (type.byteCount(elements: 2048) - 5, 40), (rowBytes - 3, 9)] {
                t.withRowMajorBytes(at: offset, count: n) {
                    XCTAssertEqual([UInt8]($0), Array(original[offset..<(offset + n)]), "\(type) at \(offset)")
                }
            }
            let back = t.floats()
            var rowMajor = [Float](repeating: 0, count: rows * cols)
            original.withUnsafeBytes { Convert.toFloat32(type, $0.baseAddress!, &rowMajor, count: rows * cols) }
            XCTAssertEqual(back, rowMajor, "\(type)")
        }
    }

    /// Written to a file (the writer reads the panels back in row-major order) and
    /// loaded from it (mapped, so copied into panels), the model computes the same.
    func testMappedFileRoundTripGivesTheSameLogits() throws {
        let m = try model(.f16, threads: 1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("panels-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("wide.gguf").path
        try GGUFWriter.write(m, to: path, type: .f16)
        let loaded = try Model.load(path: path)
        XCTAssertEqual(loaded.tensors["blocks.1.ffn.value.weight"]?.panelColumns, WeightMatrix.panelWidth)
        XCTAssertEqual(try Fixtures.stepAll(loaded, tokens).logits, try Fixtures.stepAll(m, tokens).logits)
    }

    func testStepSequenceChunksAndThreadsAgreeBitForBit() throws {
        for type in [WeightType.f16, .f32, .q8_0, .q5_1] {
            let m = try model(type, threads: 1)
            let (stepRows, stepState) = try Fixtures.stepAll(m, tokens)
            var whole = m.initialState()
            let seqRows = try m.sequence(tokens, state: &whole, allLogits: true)
            XCTAssertEqual(seqRows, stepRows, "\(type) sequence vs step")
            XCTAssertEqual(whole, stepState, "\(type) sequence vs step state")
            for chunk in [3, 64] {
                var state = m.initialState()
                var logits: [Float] = []
                for start in stride(from: 0, to: tokens.count, by: chunk) {
                    logits = try m.sequence(Array(tokens[start..<min(start + chunk, tokens.count)]), state: &state)
                }
                XCTAssertEqual(logits, Array(stepRows.suffix(m.config.vocabulary)), "\(type) chunk \(chunk)")
                XCTAssertEqual(state, whole, "\(type) chunk \(chunk) state")
            }
            let two = try model(type, threads: 2)
            var s2 = two.initialState()
            XCTAssertEqual(try two.sequence(tokens, state: &s2, allLogits: true), seqRows, "\(type) two threads")
            XCTAssertEqual(s2, whole, "\(type) two threads state")
        }
    }
}
