import Foundation
import XCTest

@testable import RWKV

/// Damaged, truncated and wrong files: each must give a `ModelFileError` naming the file, never a crash.
final class CorruptInputTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-corrupt-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Loads `path`; a failure must be a ModelFileError that names the file. Returns true if it loaded.
    @discardableResult
    func loadOrTypedError(_ path: String, _ label: String, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        do {
            let m = try Model.load(path: path)
            // A model that loads must also run.
            var s = m.initialState()
            _ = try m.step(1, state: &s)
            return true
        } catch let e as ModelFileError {
            XCTAssertEqual(e.path, path, label, file: file, line: line)
            XCTAssertFalse(e.detail.isEmpty, label, file: file, line: line)
            return false
        } catch {
            XCTFail("\(label): untyped error \(error)", file: file, line: line)
            return false
        }
    }

    func testTruncationAtManyOffsetsIsAlwaysAnError() throws {
        for name in OwnFixtureTests.files {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.own(name))))
            // Every offset in the first 600 bytes (headers, pickle), then a stride through the data.
            var offsets = Array(0..<min(600, bytes.count))
            offsets += stride(from: 600, to: bytes.count, by: max(1, bytes.count / 150)).map { $0 }
            offsets.append(bytes.count - 1)
            for cut in offsets {
                let path = try write(Array(bytes[..<cut]), "trunc-\(name)")
                XCTAssertFalse(
                    loadOrTypedError(path, "\(name) cut at \(cut)"), "\(name) truncated at \(cut) must not load")
            }
        }
    }

    func testRandomBitFlipsInHeadersAndPicklesNeverCrash() throws {
        var rng = SplitMix(seed: 42)
        for name in OwnFixtureTests.files {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.own(name))))
            // Where the structure is: file start, and for zip archives the pickle and the directory at the end.
            let regions: [Range<Int>] = [0..<min(4096, original.count), max(0, original.count - 4096)..<original.count]
            var loaded = 0
            for trial in 0..<300 {
                var bytes = original
                let region = regions[trial % regions.count]
                for _ in 0..<(1 + trial % 3) {
                    let at = region.lowerBound + Int(rng.next() % UInt64(region.count))
                    bytes[at] ^= UInt8(1) << UInt8(rng.next() % 8)
                }
                let path = try write(bytes, "flip-\(name)")
                if loadOrTypedError(path, "\(name) flip trial \(trial)") { loaded += 1 }
            }
            print(
                "[corrupt] \(name): 300 bit-flip trials, \(loaded) still loaded (flips in weight data), \(300 - loaded) typed errors"
            )
        }
    }

    func testBitFlipsInEveryRWKVCppRecordHeaderNeverCrash() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.own("tiny7-FP16.bin"))))
        // Walk the records to find each header (dim count, key length, type, dims, key).
        var headers: [Range<Int>] = [0..<24]
        var pos = 24
        func i32(_ at: Int) -> Int {
            Int(Int32(littleEndian: original.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int32.self) }))
        }
        while pos < original.count {
            let dims = i32(pos), keyLength = i32(pos + 4), type = i32(pos + 8)
            var count = 1
            for d in 0..<dims { count *= i32(pos + 12 + 4 * d) }
            let headerEnd = pos + 12 + 4 * dims + keyLength
            headers.append(pos..<headerEnd)
            pos = headerEnd + count * (type == 0 ? 4 : 2)
        }
        var rng = SplitMix(seed: 9)
        var errors = 0
        for (n, header) in headers.enumerated() {
            for _ in 0..<4 {
                var bytes = original
                let at = header.lowerBound + Int(rng.next() % UInt64(header.count))
                bytes[at] ^= UInt8(1) << UInt8(rng.next() % 8)
                if !loadOrTypedError(try write(bytes, "hdr.bin"), "record \(n) flip at \(at)") { errors += 1 }
            }
        }
        print("[corrupt] tiny7-FP16.bin: \(headers.count * 4) record-header flips, \(errors) typed errors")
    }

    func testWrongFileTypesGiveClearErrors() throws {
        let cases: [(String, [UInt8], ModelFileError.Kind)] = [
            ("empty.pth", [], .unknownFormat),
            ("text.pth", Array("hello, this is not a model\n".utf8), .unknownFormat),
            (
                "png.bin", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 64),
                .unknownFormat
            ),
            ("empty.gguf", Array("GGUF".utf8) + [3, 0, 0, 0] + [UInt8](repeating: 0, count: 32), .corrupt),
            ("legacy.pth", [0x80, 0x02, 0x8A, 0x0A] + [UInt8](repeating: 0, count: 40), .unsupported),
            ("zip-no-pickle.pth", try zipWithOneEntry(), .unknownFormat),
            ("header.safetensors", [8, 0, 0, 0, 0, 0, 0, 0] + Array("{\"a\":1}".utf8) + [0x20], .corrupt),
            ("huge.safetensors", [255, 255, 255, 255, 0, 0, 0, 0] + Array("{}".utf8), .truncated),
            ("ggmf-v5.bin", [0x66, 0x6D, 0x67, 0x67, 5, 0, 0, 0] + [UInt8](repeating: 0, count: 16), .unsupported),
        ]
        for (name, bytes, kind) in cases {
            let path = try write(bytes, name)
            XCTAssertThrowsError(try Model.load(path: path), name) { error in
                let e = error as? ModelFileError
                XCTAssertEqual(e?.kind, kind, "\(name): \(error)")
                XCTAssertTrue(e?.description.hasPrefix(path) ?? false, "\(name): message names the file")
            }
        }
        // A vocabulary, a state file and a directory given as the model.
        XCTAssertThrowsError(try Model.load(path: Fixtures.own("mini_vocab.txt")))
        XCTAssertThrowsError(try Model.load(path: dir.path)) {
            XCTAssertEqual(($0 as? ModelFileError)?.kind, .unreadable)
        }
        XCTAssertThrowsError(try Model.load(path: dir.appendingPathComponent("missing.pth").path)) {
            XCTAssertEqual(($0 as? ModelFileError)?.kind, .unreadable)
        }
    }

    func testMissingTensorAndWrongShapeAreNamed() throws {
        // Drop one record from the rwkv.cpp file: the loader must name the missing tensor.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.own("tiny7-FP32.bin"))))
        // The last record is head.weight [256, 32] fp32: remove it whole.
        let headRecord = 12 + 8 + "head.weight".utf8.count + 256 * 32 * 4
        bytes.removeLast(headRecord)
        let path = try write(bytes, "no-head.bin")
        XCTAssertThrowsError(try Model.load(path: path)) { error in
            XCTAssertEqual((error as? ModelFileError)?.kind, .missingTensor)
            XCTAssertTrue("\(error)".contains("head.weight"), "\(error)")
        }
    }

    func testCorruptStateFilesAreDetected() throws {
        let m = try Model.load(path: Fixtures.own("tiny7.fp32.pth"))
        var s = m.initialState()
        _ = try m.sequence([1, 2, 3], state: &s)
        let good = s.serialized()
        XCTAssertEqual(try State(serialized: good, path: "ok"), s)
        for cut in [0, 4, 8, 20, good.count / 2, good.count - 1] {
            XCTAssertThrowsError(try State(serialized: Array(good[..<cut]), path: "cut"), "cut at \(cut)")
        }
        var rng = SplitMix(seed: 7)
        for _ in 0..<200 {
            var bad = good
            let at = Int(rng.next() % UInt64(bad.count))
            bad[at] ^= UInt8(1) << UInt8(rng.next() % 8)
            XCTAssertThrowsError(
                try State(serialized: bad, path: "flip"), "flip at \(at) must be caught by the checksum")
        }
    }

    /// A stored zip archive holding one file that is not data.pkl.
    func zipWithOneEntry() throws -> [UInt8] {
        let name = Array("readme.txt".utf8)
        let content = Array("hi".utf8)
        let crc = CRC32.checksum(content)
        var z: [UInt8] = []
        z.appendLE(UInt32(0x0403_4b50))
        z += [20, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        z.appendLE(crc)
        z.appendLE(UInt32(content.count))
        z.appendLE(UInt32(content.count))
        z.appendLE(UInt16(name.count))
        z.appendLE(UInt16(0))
        z += name + content
        let dirOffset = z.count
        z.appendLE(UInt32(0x0201_4b50))
        z += [20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        z.appendLE(crc)
        z.appendLE(UInt32(content.count))
        z.appendLE(UInt32(content.count))
        z.appendLE(UInt16(name.count))
        z += [UInt8](repeating: 0, count: 12)
        z.appendLE(UInt32(0))
        z += name
        let dirSize = z.count - dirOffset
        z.appendLE(UInt32(0x0605_4b50))
        z += [0, 0, 0, 0, 1, 0, 1, 0]
        z.appendLE(UInt32(dirSize))
        z.appendLE(UInt32(dirOffset))
        z += [0, 0]
        return z
    }
}

/// A small deterministic random generator for reproducible corruption.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
