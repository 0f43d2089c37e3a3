import Foundation
import XCTest

@testable import RWKV

/// Where test fixtures live, and helpers to read and compare them.
enum Fixtures {
    /// The repository root, found from this file's path (Tests/RWKVTests/Fixtures.swift).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The project's own fixtures (always present; made by Scripts/make_fixtures.py).
    static func own(_ name: String) -> String {
        repoRoot.appendingPathComponent("Tests/RWKVTests/Fixtures").appendingPathComponent(name).path
    }

    /// `../shared/fixtures` relative to the repository root, or a skip saying it is absent.
    static func shared(_ name: String) throws -> String {
        let dir = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
        let path = dir.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip(
                "../shared/fixtures is absent (\(name) not found next to the repository); this reference test needs it")
        }
        return path
    }

    /// A little-endian float32 file.
    static func floats(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }

    /// The 24 tokens every tiny-model fixture runs: 0, "User: hi\n\nAssistant:", 255, 128, 32.
    static let tokens = [
        0, 85, 115, 101, 114, 58, 32, 104, 105, 10, 10, 65, 115, 115, 105, 115, 116, 97, 110, 116, 58, 255, 128, 32,
    ]

    /// The largest |got − want| and whether every element is within `atol + rtol·|want|`.
    static func compare(
        _ got: [Float], _ want: [Float], atol: Float = 1e-4, rtol: Float = 1e-4
    ) -> (maxDiff: Float, ok: Bool) {
        precondition(got.count == want.count, "compare: \(got.count) vs \(want.count) values")
        var maxDiff: Float = 0
        var ok = true
        for (g, w) in zip(got, want) {
            let d = abs(g - w)
            maxDiff = max(maxDiff, d)
            if !(d <= atol + rtol * abs(w)) { ok = false }
        }
        return (maxDiff, ok)
    }

    /// Runs `tokens` one at a time and returns every logit row concatenated, and the final state.
    static func stepAll(_ model: Model, _ tokens: [Int]) throws -> (logits: [Float], state: State) {
        var state = model.initialState()
        var rows: [Float] = []
        for t in tokens { rows += try model.step(t, state: &state) }
        return (rows, state)
    }
}

/// Asserts `got` matches `want` within the fixtures' tolerance, and prints the largest difference.
func assertClose(
    _ got: [Float], _ want: [Float], _ label: String, atol: Float = 1e-4, rtol: Float = 1e-4,
    file: StaticString = #filePath, line: UInt = #line
) {
    let (maxDiff, ok) = Fixtures.compare(got, want, atol: atol, rtol: rtol)
    print("[fixture] \(label): max |diff| = \(maxDiff)")
    XCTAssertTrue(
        ok, "\(label): max |diff| \(maxDiff) exceeds atol \(atol) + rtol \(rtol)·|ref|", file: file, line: line)
}
