import Foundation
import XCTest

@testable import ModelStore

/// The shipped catalog is well-formed (no network needed), and the checks catch mistakes.
final class CatalogTests: XCTestCase {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/catalog.json")

    func testShippedCatalogIsWellFormed() throws {
        let catalog = try Catalog.load(Self.file)
        XCTAssertEqual(catalog.problems(), [])
        XCTAssertEqual(catalog.defaultModel?.name, "g1a-0.1b")
        XCTAssertEqual(catalog.entry("rwkv7-g1a-0.4b-20250905-ctx4096.pth")?.name, "g1a-0.4b")
        for m in catalog.models {
            XCTAssertTrue(m.url.hasPrefix("https://huggingface.co/BlinkDL/rwkv7-g1/resolve/main/"), m.url)
        }
    }

    func testProblemsAreFound() throws {
        var catalog = try Catalog.load(Self.file)
        catalog.models[1].url = "http://example.com/x.pth"
        catalog.models[2].sha256 = "xyz"
        catalog.models[0].isDefault = false
        catalog.models.append(catalog.models[1])
        let problems = catalog.problems()
        XCTAssertTrue(problems.contains { $0.contains("https") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("sha256") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("default") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("twice") }, "\(problems)")
    }

    func testABrokenCatalogFileIsATypedError() throws {
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID()).json")
        try Data("{\"version\": 1}".utf8).write(to: bad)
        defer { try? FileManager.default.removeItem(at: bad) }
        XCTAssertThrowsError(try Catalog.load(bad)) { XCTAssertTrue("\($0)".contains("not a valid catalog")) }
    }
}
