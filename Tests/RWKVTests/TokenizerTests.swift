import Foundation
import XCTest

@testable import RWKV

final class TokenizerTests: XCTestCase {
    // MARK: World tokenizer against the official vectors (../shared)

    func testWorldVectorsMatchOfficialIdsAndRoundTrip() throws {
        let vocab = try Fixtures.shared("tokenizer/rwkv_vocab_v20230424.txt")
        let tok = try WorldTokenizer(path: vocab)
        let json =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: try Fixtures.shared("tokenizer/tokenizer_vectors.json"))))
            as! [String: Any]
        let cases = json["cases"] as! [[String: Any]]
        XCTAssertGreaterThan(cases.count, 30)
        for c in cases {
            let name = c["name"] as! String
            let bytes = hexBytes(c["utf8_hex"] as! String)
            let world = c["world"] as! [String: Any]
            let ids = tok.encode(bytes: bytes)
            XCTAssertEqual(ids, world["ids"] as! [Int], name)
            XCTAssertEqual(tok.decodeBytes(ids), bytes, "\(name) round trip")
            let tokenHex = world["token_bytes_hex"] as! [String]
            XCTAssertEqual(ids.map { tok.bytes(of: $0).map(hex) ?? "" }, tokenHex, "\(name) token bytes")
        }
        let checks = json["world_vocab_checks"] as! [String: Any]
        for e in checks["sample_entries"] as! [[String: Any]] {
            XCTAssertEqual(
                tok.bytes(of: e["id"] as! Int).map(hex), e["bytes_hex"] as? String, "vocab entry \(e["id"]!)")
        }
        // Every id 1...65529 exists, and the longest is 128 bytes.
        XCTAssertEqual((1...65529).filter { tok.bytes(of: $0) == nil }, [])
        XCTAssertEqual((1...65529).map { tok.bytes(of: $0)!.count }.max(), 128)
        // Partial characters: the package decodes the whole call to U+FFFD; the stream decoder holds them back.
        for d in json["world_decode_cases"] as! [[String: Any]] {
            let ids = d["ids"] as! [Int]
            XCTAssertEqual(hex(tok.decodeBytes(ids)), d["bytes_hex"] as? String)
            var stream = UTF8StreamDecoder()
            let shown = stream.feed(tok.decodeBytes(ids))
            XCTAssertFalse(shown.contains("\u{FFFD}"), "stream decoder must hold an incomplete character back")
            XCTAssertTrue(stream.hasPending)
        }
    }

    // MARK: 20B (GPT-NeoX) tokenizer against the official vectors

    func testNeoX20BVectorsMatchExactly() throws {
        let tok = try NeoXTokenizer(path: try Fixtures.shared("tokenizer/20B_tokenizer.json"))
        let json =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: try Fixtures.shared("tokenizer/tokenizer_vectors.json"))))
            as! [String: Any]
        let cases = json["cases"] as! [[String: Any]]
        XCTAssertGreaterThan(cases.count, 30)
        for c in cases {
            let name = c["name"] as! String
            let neox = c["neox20b"] as! [String: Any]
            let ids = tok.encode(bytes: hexBytes(c["utf8_hex"] as! String))
            XCTAssertEqual(ids, neox["ids"] as! [Int], name)
            XCTAssertEqual(tok.decode(ids), neox["decode"] as? String, "\(name) decode")
        }
        // Special tokens are skipped when decoding, as the library does by default.
        XCTAssertEqual(tok.decode([0]), "")
        XCTAssertEqual(tok.encode("<|endoftext|>"), [0])
    }

    // MARK: World-format parsing and greedy matching on our own vocabulary

    func testOwnVocabularyParsesEveryLiteralKindAndMatchesGreedily() throws {
        let tok = try WorldTokenizer(path: Fixtures.own("mini_vocab.txt"))
        XCTAssertEqual(tok.bytes(of: 1), [0])
        XCTAssertEqual(tok.bytes(of: 11), [0x0A])
        XCTAssertEqual(tok.bytes(of: 129), [0x80])  // b'\x80'
        XCTAssertEqual(tok.encode("User"), [tok.encode(bytes: Array("User".utf8)).first!])
        // "\n\n" is one token; a longest match beats the single bytes.
        let nn = tok.encode("\n\n")
        XCTAssertEqual(nn.count, 1)
        XCTAssertEqual(tok.encode("你好世界").count, 2)
        XCTAssertEqual(tok.decode(tok.encode("'quote' back\\slash tab\there é 👍")), "'quote' back\\slash tab\there é 👍")
        // " the" (with space) wins over " " + "the".
        XCTAssertEqual(tok.encode(" the").count, 1)
        // Bytes that are not UTF-8 still encode, byte by byte.
        XCTAssertEqual(tok.encode(bytes: [0xFF, 0xFE]), [256, 255])
    }

    func testVocabularyErrorsNameTheFileAndLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-vocab-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String)] = [
            ("1 'a' 1\n2 'bc' 3\n", "line 2"),
            ("1 'a' 1\nnonsense\n", "line 2"),
            ("1 'a 1\n", "line 1"),
            ("1 'a' 1\n1 'b' 1\n", "appears twice"),
            ("", "no tokens"),
        ]
        for (i, (text, expect)) in cases.enumerated() {
            let path = dir.appendingPathComponent("v\(i).txt").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try WorldTokenizer(path: path)) { error in
                let e = error as? ModelFileError
                XCTAssertNotNil(e)
                XCTAssertTrue(e?.description.contains(path) ?? false)
                XCTAssertTrue(
                    e?.description.contains(expect) ?? false, "\(e?.description ?? "") should mention \(expect)")
            }
        }
        XCTAssertThrowsError(try WorldTokenizer(path: dir.appendingPathComponent("missing.txt").path))
    }

    // MARK: Byte tokenizer and stream decoding

    func testByteTokenizer() {
        let t = ByteTokenizer()
        XCTAssertEqual(t.encode("\"in"), [34, 105, 110])
        XCTAssertEqual(t.decode([72, 105]), "Hi")
        XCTAssertNil(t.bytes(of: 256))
    }

    func testStreamDecoderNeverEmitsBrokenCharacters() {
        let text = "a你👨‍👩‍👧é"
        let bytes = Array(text.utf8)
        // Feed one byte at a time: the output must be exactly the text, with no U+FFFD.
        var d = UTF8StreamDecoder()
        var out = ""
        for b in bytes { out += d.feed([b]) }
        out += d.flush()
        XCTAssertEqual(out, text)
        // Every split point gives the same text.
        for cut in 0...bytes.count {
            var d2 = UTF8StreamDecoder()
            XCTAssertEqual(d2.feed(Array(bytes[..<cut])) + d2.feed(Array(bytes[cut...])) + d2.flush(), text)
        }
        // Invalid bytes are replaced, not held forever.
        var d3 = UTF8StreamDecoder()
        XCTAssertEqual(d3.feed([0x61, 0xFF, 0x62]), "a\u{FFFD}b")
        XCTAssertFalse(d3.hasPending)
        var d4 = UTF8StreamDecoder()
        XCTAssertEqual(d4.feed([0xE4, 0xBD]), "")
        XCTAssertEqual(d4.flush(), "\u{FFFD}")
        var d5 = UTF8StreamDecoder()
        XCTAssertEqual(d5.feed([0xED, 0xA0]), "\u{FFFD}\u{FFFD}", "a surrogate lead can never complete")
    }

    // MARK: helpers

    func hexBytes(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = s.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
        return out
    }

    func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
}
