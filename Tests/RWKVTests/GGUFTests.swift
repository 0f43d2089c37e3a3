import Foundation
import XCTest

@testable import Kernels
@testable import RWKV

/// GGUF files written by `GGUFWriter` from the fixtures and read back by `GGUFFile`:
/// the same weights must give the same logits as the `.pth` they came from.
final class GGUFTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-gguf-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func nll(_ m: Model) throws -> Double {
        let v = try m.negativeLogLikelihoods(Fixtures.tokens)
        return v.reduce(0, +) / Double(v.count)
    }

    func testFloatGGUFEqualsThePthAndQuantizedOnesStayClose() throws {
        let bounds: [(WeightType, Double)] = [
            (.bf16, 0.01), (.q8_0, 0.01), (.q5_1, 0.05), (.q5_0, 0.05), (.q4_1, 0.1), (.q4_0, 0.1),
        ]
        for tag in ["tiny7", "tiny6"] {
            let source = try Model.load(path: Fixtures.own("\(tag).fp32.pth"))
            let (want, wantState) = try Fixtures.stepAll(source, Fixtures.tokens)
            let f32 = dir.appendingPathComponent("\(tag)-f32.gguf").path
            try GGUFWriter.write(source, to: f32, type: .f32)
            let m = try Model.load(path: f32, threads: 2)
            XCTAssertEqual(m.format, .gguf)
            XCTAssertEqual(m.config, source.config, tag)
            let (got, gotState) = try Fixtures.stepAll(m, Fixtures.tokens)
            // Same float32 weights, only renamed, reshaped and transposed: bit-identical.
            XCTAssertEqual(got, want, "\(tag) GGUF f32 step logits")
            XCTAssertEqual(gotState.values, wantState.values, "\(tag) GGUF f32 state")
            var s = m.initialState()
            XCTAssertEqual(try m.sequence(Fixtures.tokens, state: &s, allLogits: true), want, "\(tag) sequence")

            let f16 = dir.appendingPathComponent("\(tag)-f16.gguf").path
            try GGUFWriter.write(source, to: f16, type: .f16)
            let reference = try Fixtures.floats(Fixtures.own("\(tag).logits_step.bin"))
            assertClose(
                try Fixtures.stepAll(Model.load(path: f16), Fixtures.tokens).logits, reference, "\(tag) GGUF f16")

            let base = try nll(source)
            var line = "[gguf] \(tag): fp32 NLL \(String(format: "%.5f", base))"
            for (type, bound) in bounds {
                let out = dir.appendingPathComponent("\(tag)-\(type).gguf").path
                try GGUFWriter.write(source, to: out, type: type)
                let q = try Model.load(path: out)
                XCTAssertTrue(
                    q.tensors["emb.weight"]?.type == type, "\(tag) \(type): the embedding is stored as \(type)")
                XCTAssertTrue(q.tensors["blocks.1.ffn.key.weight"]?.type == type, "\(tag) \(type)")
                let value = try nll(q)
                let maxDiff = zip(try Fixtures.stepAll(q, Fixtures.tokens).logits, want).map { abs($0 - $1) }.max()!
                line += ", \(type) \(String(format: "%.5f", value)) (max |Δlogit| \(maxDiff))"
                XCTAssertLessThanOrEqual(abs(value - base), bound, "\(tag) \(type)")
            }
            print(line)
        }
    }

    func testRWKV6ResidualRescalingIsUndone() throws {
        let source = try Model.load(path: Fixtures.own("tiny6.fp32.pth"))
        let out = dir.appendingPathComponent("tiny6-rescaled.gguf").path
        try GGUFWriter.write(source, to: out, type: .f32, tokenizer: nil, rescaleEvery: 1)
        let m = try Model.load(path: out)
        XCTAssertEqual(m.tensors.residualRescaleEvery, 1)
        XCTAssertNotEqual(
            m.tensors["blocks.1.att.output.weight"]?.floats(), source.tensors["blocks.1.att.output.weight"]?.floats())
        // Halving x and the output weights commutes with the layer norms except for their epsilon.
        let reference = try Fixtures.floats(Fixtures.own("tiny6.logits_step.bin"))
        assertClose(try Fixtures.stepAll(m, Fixtures.tokens).logits, reference, "tiny6 GGUF rescale_every_n_layers=1")
    }

    func testRefusesVersionsGGUFCannotHold() throws {
        let v4 = try Model.load(path: Fixtures.own("tiny4.fp32.pth"))
        XCTAssertThrowsError(try GGUFWriter.write(v4, to: dir.appendingPathComponent("x.gguf").path, type: .f32))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.gguf").path))
    }

    func testRWKVCppModelConvertedToGGUFGivesTheSameLogits() throws {
        let bin = try Fixtures.shared("rwkvcpp/tiny-rwkv-7v0-834K-FP32.bin")
        let source = try Model.load(path: bin)
        let out = dir.appendingPathComponent("7v0.gguf").path
        try GGUFWriter.write(source, to: out, type: .f32)
        let prompt = Array("\"in the beginning".utf8).map(Int.init)
        XCTAssertEqual(
            try Fixtures.stepAll(Model.load(path: out), prompt).logits, try Fixtures.stepAll(source, prompt).logits)
        let expected = try Fixtures.floats(Fixtures.shared("rwkvcpp/expected-logits-7v0-834K.bin"))
        let m = try Model.load(path: out)
        var s = m.initialState()
        var logits: [Float] = []
        for t in [34, 105, 110] { logits = try m.step(t, state: &s) }
        let sum = zip(logits, expected).reduce(Float(0)) { $0 + ($1.0 - $1.1) }
        print("[gguf] 7v0-834K FP32 → GGUF: rwkv.cpp rule signed sum \(sum) (threshold 0.001)")
        XCTAssertLessThanOrEqual(abs(sum), 0.001 * 1.05)
    }

    /// Layer 0 of an RWKV-7 GGUF holds copies of a0/a1/a2 as v0/v1/v2, llama.cpp's layout, even
    /// when the checkpoint has its own (unused) layer-0 v tensors of another rank.
    func testLayerZeroValueLoRAIsWrittenAsCopiesOfTheALoRA() throws {
        // A small model whose v LoRA rank (8) differs from its a LoRA rank (16), with v0/v1/v2 on
        // layer 0 as BlinkDL's checkpoints have them.
        let shape = SyntheticModel.Shape(name: "ranks-test", layers: 2, embedding: 128, ranks: (16, 16, 8, 32))
        let source = try SyntheticModel.make(shape, type: .f32, threads: 1, vocabulary: 256)
        XCTAssertEqual(source.tensors["blocks.0.att.v1"]?.shape, [128, 8])
        let out = dir.appendingPathComponent("ranks.gguf").path
        try GGUFWriter.write(source, to: out, type: .f32)
        let table = try GGUFFile.read(MappedFile(path: out))
        for (v, a) in [("v0", "a0"), ("v1", "a1"), ("v2", "a2")] {
            let written = try XCTUnwrap(table["blocks.0.att.\(v)"], v)
            let copy = try XCTUnwrap(table["blocks.0.att.\(a)"], a)
            XCTAssertEqual(written.count, copy.count, "layer 0 \(v) has a's size")
            // A Bool, so that a failure prints one line rather than both arrays.
            XCTAssertTrue(written.floats() == copy.floats(), "layer 0 \(v) holds a copy of \(a)")
        }
        XCTAssertTrue(
            table["blocks.1.att.v1"]?.floats() == source.tensors["blocks.1.att.v1"]?.floats(), "layer 1 v1 unchanged")
        // Layer 0 never reads them, so the file still gives the source's logits bit for bit.
        let prompt = [1, 200, 37, 5, 99]
        XCTAssertEqual(
            try Fixtures.stepAll(Model.load(path: out), prompt).logits, try Fixtures.stepAll(source, prompt).logits)
    }

    /// A tensor stored transposed (as GGUF's float32 LoRA factors are) that something
    /// binds as a plain `y = W·x` matrix gets a row-major copy first, so the layout
    /// flag cannot reach a product.
    func testStoredTransposedTensorBoundAsAMatrixIsCopiedRowMajor() throws {
        let table = TensorTable(path: "memory", format: .synthetic, owner: self)
        let (rows, cols) = (3, 37)
        let canonical = (0..<(rows * cols)).map { Float($0 % 11) * 0.25 - 1 }
        // In memory as [cols][rows], the way the GGUF layout keeps such a factor.
        let raw = table.allocate(byteCount: rows * cols * 4)
        for r in 0..<rows {
            for c in 0..<cols {
                raw.storeBytes(of: canonical[r * cols + c], toByteOffset: 4 * (c * rows + r), as: Float.self)
            }
        }
        var t = Tensor(name: "m", shape: [rows, cols], type: .f32, data: UnsafeRawPointer(raw))
        t.storedTransposed = true
        try table.add(t)
        let m = try TensorBinder(table: table).matrix("m", rows: rows, cols: cols)
        var row = [Float](repeating: 0, count: cols)
        for r in 0..<rows {
            m.copyRow(r, into: &row)
            XCTAssertEqual(row, Array(canonical[(r * cols)..<((r + 1) * cols)]), "row \(r)")
        }
        let bound = try XCTUnwrap(table["m"])
        XCTAssertFalse(bound.storedTransposed)
        XCTAssertEqual(bound.floats(), canonical)
    }

    /// GGUF's float32 LoRA factors are used where the file has them (stored transposed),
    /// and read back in the checkpoint's order by `floats()`, `withRowMajorBytes` (the
    /// fingerprint) and the writers.
    func testFloat32LoRAFactorsAreUsedInPlaceAndReadBackInCheckpointOrder() throws {
        let source = try Model.load(path: Fixtures.own("tiny7.fp32.pth"))
        let out = dir.appendingPathComponent("lora.gguf").path
        try GGUFWriter.write(source, to: out, type: .f16)
        let m = try Model.load(path: out)
        var checked = 0
        for name in ["w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"].map({ "blocks.1.att.\($0)" }) {
            let got = try XCTUnwrap(m.tensors[name], name), want = try XCTUnwrap(source.tensors[name], name)
            XCTAssertTrue(got.storedTransposed, "\(name) is used in place")
            XCTAssertEqual(got.shape, want.shape, name)
            XCTAssertTrue(got.floats() == want.floats(), "\(name) reads back in checkpoint order")
            let bytes = want.floats().withUnsafeBytes { Array($0) }
            // A range that starts and ends inside elements, as the fingerprint's samples may.
            let (from, count) = (6, bytes.count - 13)
            got.withRowMajorBytes(at: from, count: count) {
                XCTAssertTrue(Array($0) == Array(bytes[from..<(from + count)]), "\(name) row-major bytes")
            }
            checked += 1
        }
        XCTAssertEqual(checked, 8)
        // Written again from the loaded file, the factors go back to the file's layout.
        let again = dir.appendingPathComponent("lora2.gguf").path
        try GGUFWriter.write(m, to: again, type: .f16)
        XCTAssertEqual(
            try Fixtures.stepAll(Model.load(path: again), Fixtures.tokens).logits,
            try Fixtures.stepAll(m, Fixtures.tokens).logits)
        XCTAssertEqual(try Model.load(path: again).fingerprint, m.fingerprint, "same file contents, same fingerprint")
    }

    // MARK: - The vocabulary inside the file

    func testEscapingMatchesPythonRepr() {
        let cases: [([UInt8], String)] = [
            (Array("hello".utf8), "hello"), ([0x27], "'"), ([0x27, 0x22], "\\'\""), ([0x22], "\""),
            ([0x5C], "\\\\"), ([0x09, 0x0A, 0x0D], "\\t\\n\\r"), ([0x00, 0x7F, 0xFF], "\\x00\\x7f\\xff"),
            (Array("é".utf8), "\\xc3\\xa9"),
        ]
        for (bytes, text) in cases {
            XCTAssertEqual(String(decoding: GGUFVocabulary.escape(bytes), as: UTF8.self), text)
            XCTAssertEqual(GGUFVocabulary.unescape(Array(text.utf8)), bytes, text)
        }
        XCTAssertNil(GGUFVocabulary.unescape(Array("\\x4".utf8)))
        XCTAssertNil(GGUFVocabulary.unescape(Array("ab\\".utf8)))
    }

    func testEmbeddedVocabularyRoundTripsThroughAFile() throws {
        // The mini vocabulary cut to the 256 ids of the tiny model.
        let mini = try WorldTokenizer(path: Fixtures.own("mini_vocab.txt"))
        let entries = (1..<256).compactMap { id in mini.bytes(of: id).map { (id, $0) } }
        let vocab = try WorldTokenizer(entries: entries, name: "mini", path: "mini")
        let source = try Model.load(path: Fixtures.own("tiny7.fp32.pth"))
        let out = dir.appendingPathComponent("tiny7-vocab.gguf").path
        try GGUFWriter.write(source, to: out, type: .q8_0, tokenizer: vocab)
        let m = try Model.load(path: out)
        let embedded = try XCTUnwrap(m.tensors.embeddedTokenizer)
        for id in 0..<300 { XCTAssertEqual(embedded.bytes(of: id), vocab.bytes(of: id), "id \(id)") }
        for text in ["User: hi\n\nAssistant:", "héllo wörld 你好 🎉", "a\\b'c\"d"] {
            XCTAssertEqual(embedded.encode(text), vocab.encode(text), text)
        }
        // It is the tokenizer chosen for the model when no --vocab is given.
        let chosen = try TokenizerChoice.tokenizer(
            vocabPath: nil, vocabularySize: 256, modelPath: out, embedded: m.tensors.embeddedTokenizer)
        XCTAssertEqual(chosen.name, embedded.name)
    }

    func testWholeWorldVocabularyRoundTripsThroughGGUFMetadata() throws {
        let world = try WorldTokenizer(path: Fixtures.shared("tokenizer/rwkv_vocab_v20230424.txt"))
        let meta = Dictionary(uniqueKeysWithValues: GGUFVocabulary.metadata(world, count: 65536))
        let back = try XCTUnwrap(try GGUFVocabulary.tokenizer(meta, path: "meta"))
        var same = 0
        for id in 0..<65536 where back.bytes(of: id) == world.bytes(of: id) { same += 1 }
        XCTAssertEqual(same, 65536)
        let text = "The quick brown fox 你好世界 👨‍👩‍👧 \t\r\n \\x00 'quote' \"dq\""
        XCTAssertEqual(back.encode(text), world.encode(text))
    }

    // MARK: - Bad files

    /// Loads `bytes` written to a file; the failure must be a ModelFileError naming the file, of `kind` if given.
    func expectError(
        _ bytes: [UInt8], _ label: String, kind: ModelFileError.Kind? = nil, mentioning: String? = nil,
        line: UInt = #line
    ) throws {
        let path = dir.appendingPathComponent("bad.gguf").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            let m = try Model.load(path: path)
            XCTFail("\(label): loaded a \(m.config.version) model", line: line)
        } catch let e as ModelFileError {
            XCTAssertEqual(e.path, path, label, line: line)
            if let kind { XCTAssertEqual(e.kind, kind, "\(label): \(e.detail)", line: line) }
            if let mentioning { XCTAssertTrue(e.detail.contains(mentioning), "\(label): \(e.detail)", line: line) }
        } catch {
            XCTFail("\(label): untyped error \(error)", line: line)
        }
    }

    /// The byte offset just after tensor `name`'s name in the tensor-info section.
    func infoOffset(_ bytes: [UInt8], _ name: String) -> Int {
        let key = Array(name.utf8)
        var prefix: [UInt8] = []
        prefix.appendLE(UInt64(key.count))
        let needle = prefix + key
        for i in 0...(bytes.count - needle.count) where Array(bytes[i..<i + needle.count]) == needle {
            return i + needle.count
        }
        fatalError("\(name) not in the file")
    }

    func put32(_ bytes: inout [UInt8], _ at: Int, _ v: UInt32) {
        for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
    }

    func put64(_ bytes: inout [UInt8], _ at: Int, _ v: UInt64) {
        for k in 0..<8 { bytes[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
    }

    func testBadFilesGiveClearTypedErrors() throws {
        let source = try Model.load(path: Fixtures.own("tiny7.fp32.pth"))
        let good = dir.appendingPathComponent("good.gguf").path
        try GGUFWriter.write(source, to: good, type: .q8_0)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))

        // Truncated anywhere: header, metadata, tensor infos, data.
        var cuts = Array(0..<min(400, bytes.count)) + stride(from: 400, to: bytes.count, by: 97).map { $0 }
        cuts.append(bytes.count - 1)
        for cut in cuts { try expectError(Array(bytes[..<cut]), "cut at \(cut)") }

        var b = bytes
        put32(&b, 4, 1)
        try expectError(b, "GGUF v1", kind: .unsupported, mentioning: "version 1")
        put32(&b, 4, 0x0300_0000)
        try expectError(b, "big-endian", kind: .unsupported, mentioning: "big-endian")

        b = bytes
        put64(&b, 8, 1 << 40)
        try expectError(b, "huge tensor count", kind: .corrupt)

        // Another architecture.
        let arch = infoOffset(bytes, "general.architecture") + 4 + 8
        b = bytes
        b.replaceSubrange(arch..<arch + 5, with: Array("llama".utf8))
        try expectError(b, "llama", kind: .unsupported, mentioning: "llama")

        let emb = infoOffset(bytes, "token_embd.weight")
        // rank u32, two u64 dims, type u32, offset u64
        b = bytes
        put32(&b, emb + 4 + 16, 12)
        try expectError(b, "Q4_K", kind: .unsupported, mentioning: "Q4_K")
        put32(&b, emb + 4 + 16, 99)
        try expectError(b, "type 99", kind: .corrupt, mentioning: "99")

        b = bytes
        put64(&b, emb + 4 + 16 + 4, 3)
        try expectError(b, "misaligned offset", kind: .corrupt, mentioning: "offset")

        b = bytes
        put64(&b, emb + 4 + 8, 255)  // 256 rows → 255: the head and embedding no longer agree
        try expectError(b, "shape mismatch", kind: .badShape)

        b = bytes
        put64(&b, emb + 4, 33)  // a Q8_0 row of 33 elements
        try expectError(b, "ragged quantized row", kind: .corrupt, mentioning: "multiple of 32")

        b = bytes
        put32(&b, emb, 7)
        try expectError(b, "rank 7", kind: .corrupt, mentioning: "7 dimensions")

        // A missing tensor (renamed away).
        let ln = infoOffset(bytes, "output_norm.weight") - "output_norm.weight".utf8.count
        b = bytes
        b[ln] = UInt8(ascii: "X")
        try expectError(b, "missing ln_out", kind: .missingTensor, mentioning: "ln_out.weight")
    }
}
