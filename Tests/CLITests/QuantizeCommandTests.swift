import Foundation
import XCTest

/// `rwkv-chat quantize` to both output formats, checked through `info` and `eval`.
final class QuantizeCommandTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try CLI.tempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testQuantizeToGGUFAndBinThenRun() throws {
        for (name, type, format) in [("m.gguf", "q8_0", "GGUF"), ("m.bin", "q5_1", "rwkv.cpp .bin")] {
            let out = dir.appendingPathComponent(name).path
            let (code, text) = try CLI.run(["quantize", CLI.model, out, "--type", type])
            XCTAssertEqual(code, 0, text)
            let (infoCode, info) = try CLI.run(["info", "--model", out])
            XCTAssertEqual(infoCode, 0, info)
            XCTAssertTrue(info.contains("format:      \(format)"), info)
            XCTAssertTrue(info.contains(type), info)
            let (evalCode, eval) = try CLI.run(["eval", "--model", out, "--tokens", "72,105"])
            XCTAssertEqual(evalCode, 0, eval)
        }
        // A type the format lacks, and GGUF for a version llama.cpp has no architecture for.
        let (bad, message) = try CLI.run([
            "quantize", CLI.model, dir.appendingPathComponent("x.bin").path, "--type", "bf16",
        ])
        XCTAssertNotEqual(bad, 0, message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.bin").path))
    }

    func testPrecisionConvertsAtLoad() throws {
        for p in ["fp16", "bf16", "q8_0"] {
            let (code, out) = try CLI.run(["eval", "--model", CLI.model, "--precision", p, "--tokens", "72,105"])
            XCTAssertEqual(code, 0, "\(p): \(out)")
        }
        let (bad, _) = try CLI.run(["eval", "--model", CLI.model, "--precision", "fp8", "--tokens", "72"])
        XCTAssertNotEqual(bad, 0)
    }
}
