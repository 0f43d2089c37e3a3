import Foundation
import RWKV
import XCTest

@testable import Conversation

/// The built-in demo model: the engine computes what its training script computes, and it chats in the framing.
final class DemoModelTests: XCTestCase {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/demo")

    func testLogitsMatchTheTrainingScriptsForwardPass() throws {
        let m = try Model.load(path: Self.dir.appendingPathComponent("rwkv7-demo-byte.pth").path)
        XCTAssertEqual(m.config.version, .v7)
        let data = try Data(contentsOf: Self.dir.appendingPathComponent("rwkv7-demo-byte.reference-logits.bin"))
        let want: [Float] = data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
            }
        }
        var s = m.initialState()
        let got = try m.sequence(Array("User: Hello\n\nAssistant:".utf8).map(Int.init), state: &s)
        let maxDiff = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        print("[demo] engine vs PyTorch training forward: max |diff| \(maxDiff)")
        XCTAssertEqual(got.count, want.count)
        XCTAssertLessThan(maxDiff, 1e-3)
    }

    func testGreedyRepliesEndAtTheTurnSeparator() throws {
        let m = try Model.load(path: Self.dir.appendingPathComponent("rwkv7-demo-byte.pth").path)
        let session = try ChatSession(model: m, tokenizer: ByteTokenizer(), maxTokens: 200)
        session.sampling.temperature = 0
        var ended = 0
        for message in ["Hello", "How are you?", "What is your name?"] {
            let reply = try session.send(message)
            let turn = try XCTUnwrap(session.tree[reply])
            print("[demo] User: \(message) → Assistant:\(turn.text.trimmingCharacters(in: .newlines)) (\(turn.finish))")
            if turn.finish == .stop { ended += 1 }
        }
        XCTAssertEqual(ended, 3, "every reply ends at the turn separator, not at the length limit")
    }
}
