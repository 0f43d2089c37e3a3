import Foundation
import XCTest

@testable import Conversation
@testable import RWKV

/// Reads a session file using only what docs/SESSION_FORMAT.md and docs/STATE_FORMAT.md
/// say, with its own CRC and parsing, to keep the documents true to the code.
final class SessionFormatDocTests: XCTestCase {
    func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    func u32(_ b: [UInt8], _ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * $1) } }
    func u64(_ b: [UInt8], _ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * $1) } }

    func testDocumentedLayoutReadsAFileWrittenByTheCode() throws {
        let s = try ConversationFixtures.session()
        let r1 = try s.send("one")
        _ = try s.send("two")
        try s.rewind(to: r1)
        _ = try s.send("three")
        let dir = try ConversationFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("doc.rwkvsession")
        try SessionFile.save(s, to: url)
        let b = [UInt8](try Data(contentsOf: url))

        XCTAssertEqual(Array(b[0..<8]), Array("RWKVSESS".utf8))
        XCTAssertEqual(u32(b, 8), 1)
        let count = Int(u32(b, 12))
        var o = 16
        var tags: [String] = []
        var snapNodes: [Int] = []
        var json: [String: [String: Any]] = [:]
        for _ in 0..<count {
            let tag = String(decoding: b[o..<o + 4], as: UTF8.self)
            XCTAssertEqual(u32(b, o + 4), 0, "reserved")
            let len = Int(u64(b, o + 8))
            let payload = Array(b[(o + 16)..<(o + 16 + len)])
            XCTAssertEqual(u32(b, o + 16 + len), crc32(b[o..<(o + 16 + len)]), "\(tag) checksum")
            tags.append(tag)
            if tag == "SNAP" {
                let node = Int(u32(payload, 0))
                let tokens = Int(u64(payload, 4))
                let v = Int(u32(payload, 12))
                XCTAssertEqual(v, 256)
                let stateLen = Int(u64(payload, 16 + 4 * v))
                let state = Array(payload[(24 + 4 * v)...])
                XCTAssertEqual(state.count, stateLen)
                // RWKVSTAT: magic, version, entries, floats, per-layer table, floats, CRC.
                XCTAssertEqual(Array(state[0..<8]), Array("RWKVSTAT".utf8))
                XCTAssertEqual(u32(state, 8), 1)
                let floats = Int(u64(state, 16))
                XCTAssertEqual(u32(state, state.count - 4), crc32(state[0..<(state.count - 4)]))
                let snap = try s.snapshot(for: node)
                XCTAssertEqual(floats, snap.state.values.count)
                XCTAssertEqual(tokens, snap.tokenCount)
                let valuesStart = state.count - 4 - 4 * floats
                let first = Float(bitPattern: u32(state, valuesStart))
                XCTAssertEqual(first, snap.state.values[0])
                let logit0 = Float(bitPattern: u32(payload, 16))
                XCTAssertEqual(logit0, snap.logits[0])
                snapNodes.append(node)
            } else {
                json[tag] = try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
            }
            o += 16 + len + 4
        }
        XCTAssertEqual(o, b.count, "the file ends right after the last section")
        XCTAssertEqual(Array(tags.prefix(3)), ["MODL", "TOKZ", "TREE"])
        XCTAssertEqual(json["MODL"]?["fingerprint"] as? String, s.model.fingerprint)
        XCTAssertEqual(json["TOKZ"]?["vocabulary"] as? Int, 256)
        let tree = json["TREE"]?["tree"] as? [String: Any]
        XCTAssertEqual(tree?["cursor"] as? Int, s.cursor)
        let nodes = tree?["nodes"] as? [[String: Any]] ?? []
        XCTAssertEqual(nodes.map { $0["id"] as? Int }, s.tree.orderedNodes.map(\.id))
        XCTAssertEqual(nodes.last?["tokens"] as? [Int], s.tree.orderedNodes.last?.tokens)
        // The documented policy: root, cursor, branch points and leaves are always stored.
        let required = Set([s.tree.root, s.cursor] + s.tree.branchPoints + s.tree.leaves)
        XCTAssertTrue(required.isSubset(of: Set(snapNodes)))
    }
}
