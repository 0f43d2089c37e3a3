import Foundation
import XCTest

@testable import Conversation
@testable import RWKV

final class RunModeTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try CLI.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    let script =
        "Hello there\nHow are you?\n/regen\n/set temperature 0.5\nTell me more\\nplease\n/rewind\nAnother path\n/tree\n"

    func testRunIsReproducible() throws {
        let args = ["run", "--model", CLI.model, "--seed", "5", "--max-tokens", "20"]
        let (c1, a) = try CLI.run(args, input: script)
        let (c2, b) = try CLI.run(args, input: script)
        XCTAssertEqual(c1, 0)
        XCTAssertEqual(c2, 0)
        XCTAssertEqual(a, b)
        XCTAssertTrue(a.contains(">"), "the /tree output marks the cursor")
        let (_, other) = try CLI.run(["run", "--model", CLI.model, "--seed", "6", "--max-tokens", "20"], input: script)
        XCTAssertNotEqual(a, other)
    }

    func testSaveQuitReloadContinueEqualsOneUninterruptedRun() throws {
        let lines = script.split(separator: "\n").map(String.init)
        let whole = dir.appendingPathComponent("whole.rwkvsession").path
        let split = dir.appendingPathComponent("split.rwkvsession").path
        let base = ["run", "--model", CLI.model, "--seed", "5", "--max-tokens", "20", "--json"]
        let (_, full) = try CLI.run(base + ["--session", whole], input: lines.joined(separator: "\n") + "\n")
        let (_, first) = try CLI.run(
            base + ["--session", split], input: lines[..<3].joined(separator: "\n") + "\n/quit\n")
        let (_, second) = try CLI.run(base + ["--session", split], input: lines[3...].joined(separator: "\n") + "\n")
        // The transcripts (every event but the timing figures) are the same.
        XCTAssertEqual(transcript(full), transcript(first) + transcript(second))
        XCTAssertFalse(transcript(full).isEmpty)
        let a = try SessionFile.inspect(URL(fileURLWithPath: whole))
        let b = try SessionFile.inspect(URL(fileURLWithPath: split))
        XCTAssertEqual(a.tree.orderedNodes.map(\.tokens), b.tree.orderedNodes.map(\.tokens))
        XCTAssertEqual(a.tree.cursor, b.tree.cursor)
    }

    func testAFileThatFailsToLoadIsNeverOverwritten() throws {
        let path = dir.appendingPathComponent("broken.rwkvsession")
        let junk = Data("not a session at all".utf8)
        try junk.write(to: path)
        let (code, _) = try CLI.run(["run", "--model", CLI.model, "--session", path.path], input: "hello\n")
        XCTAssertNotEqual(code, 0)
        XCTAssertEqual(try Data(contentsOf: path), junk)
    }

    func testSigintCancelsTheReplyAndTheNextMessageWorks() throws {
        let session = dir.appendingPathComponent("int.rwkvsession").path
        // A long reply, then Ctrl-C, then (with a short limit) another message.
        // The limit is far beyond what the test waits for, but finite, so a signal that
        // never arrives fails the test instead of hanging it.
        let (proc, stdin, stdout) = try CLI.spawn(
            ["run", "--model", CLI.model, "--max-tokens", "6000", "--json", "--session", session])
        stdin.write(Data("write forever\n".utf8))
        // Wait until tokens are streaming, then interrupt.
        var seen = CLI.read(stdout, until: "\"token\"")
        kill(proc.processIdentifier, SIGINT)
        stdin.write(Data("/set max_tokens 5\nand then this\n".utf8))
        try stdin.close()
        seen.append(stdout.readDataToEndOfFile())
        proc.waitUntilExit()
        XCTAssertEqual(proc.terminationStatus, 0)
        let replies = String(decoding: seen, as: UTF8.self).split(separator: "\n").filter {
            $0.contains("\"event\":\"reply\"")
        }
        XCTAssertEqual(replies.count, 2, "both messages got a reply")
        XCTAssertTrue(replies.first?.contains("\"finish\":\"cancelled\"") ?? false, "\(replies)")
        // The saved tree is consistent: its states equal a fresh run over each path.
        let model = try Model.load(path: CLI.model)
        let s = try SessionFile.load(URL(fileURLWithPath: session), model: model, tokenizer: ByteTokenizer())
        for (id, snap) in s.snapshots {
            let tokens = s.tree.path(to: id).flatMap { s.tree[$0]!.tokens }
            var state = model.initialState()
            let logits = try model.sequence(tokens, state: &state)
            XCTAssertEqual(snap, Snapshot(state: state, logits: logits, tokenCount: tokens.count), "node \(id)")
        }
    }

    func testSigtermWhileIdleSavesAndExits() throws {
        let session = dir.appendingPathComponent("term.rwkvsession")
        let (proc, stdin, stdout) = try CLI.spawn(
            ["run", "--model", CLI.model, "--max-tokens", "8", "--json", "--session", session.path])
        stdin.write(Data("one message\n".utf8))
        _ = CLI.read(stdout, until: "\"event\":\"reply\"")
        // Remove the autosaved file, so only the termination handler can write it again.
        usleep(200_000)
        try? FileManager.default.removeItem(at: session)
        stdin.write(Data("/set temperature 0.25\n".utf8))
        usleep(300_000)
        kill(proc.processIdentifier, SIGTERM)
        proc.waitUntilExit()
        XCTAssertEqual(proc.terminationStatus, 143)
        let s = try SessionFile.inspect(session)
        XCTAssertEqual(s.tree.nodes.count, 3, "persona, message and reply were saved on SIGTERM")
    }

    /// Kill the process at random moments while it rewrites its session file; the file must
    /// always be the old one or the new one, whole.
    func testKilledDuringSaveLeavesALoadableFile() throws {
        let session = dir.appendingPathComponent("kill.rwkvsession")
        let base = ["run", "--model", CLI.model, "--max-tokens", "8", "--session", session.path]
        // Build a session with many snapshots so each save takes a while.
        let (code, _) = try CLI.run(base, input: (0..<60).map { "message \($0)" }.joined(separator: "\n") + "\n")
        XCTAssertEqual(code, 0)
        let model = try Model.load(path: CLI.model)
        var rng = SeededGenerator(seed: 99)
        let iterations = 25
        var killedMidway = 0
        for i in 0..<iterations {
            let saves = (0..<400).map { _ in "/save" }.joined(separator: "\n") + "\n"
            let (p, _) = try CLI.start(base + ["--seed", "\(i)"], input: "turn \(i)\n" + saves)
            usleep(UInt32(20_000 + rng.next() % 250_000))
            if p.isRunning {
                killedMidway += 1
                kill(p.processIdentifier, SIGKILL)
            }
            p.waitUntilExit()
            let s = try SessionFile.load(session, model: model, tokenizer: ByteTokenizer())
            XCTAssertGreaterThan(s.tree.nodes.count, 100, "iteration \(i)")
        }
        print(
            "[crash] \(iterations) runs, \(killedMidway) killed with SIGKILL while saving; the file loaded every time")
        XCTAssertGreaterThan(killedMidway, iterations / 2)
        // The next successful save removes the temporaries the killed writers left.
        let (last, _) = try CLI.run(base, input: "/save\n")
        XCTAssertEqual(last, 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "stale temporary files")
    }

    func testSessionInfoAndExport() throws {
        let session = dir.appendingPathComponent("e.rwkvsession").path
        _ = try CLI.run(["run", "--model", CLI.model, "--max-tokens", "8", "--session", session], input: "one\ntwo\n")
        let (c1, info) = try CLI.run(["session", "info", session])
        XCTAssertEqual(c1, 0)
        XCTAssertTrue(info.contains("tiny7.fp32.pth") && info.contains("5 nodes"), info)
        let md = dir.appendingPathComponent("e.md").path
        let (c2, _) = try CLI.run(["session", "export", session, "--format", "md", "--out", md])
        XCTAssertEqual(c2, 0)
        let text = try String(contentsOfFile: md, encoding: .utf8)
        XCTAssertTrue(text.contains("**User:**\n\none") && text.contains("**User:**\n\ntwo"), text)
        let (c3, json) = try CLI.run(["session", "export", session, "--format", "json"])
        XCTAssertEqual(c3, 0)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(json.utf8)))
    }

    /// JSON events with timing fields removed, so two runs can be compared.
    func transcript(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line -> String? in
            guard var o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            o["prefill_tokens_per_s"] = nil
            o["generation_tokens_per_s"] = nil
            if o["event"] as? String == "saved" || o["event"] as? String == "quit" { return nil }
            if o["event"] as? String == "info", (o["text"] as? String)?.hasPrefix("model:") == true { return nil }
            return String(
                decoding: try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
        }
    }
}
