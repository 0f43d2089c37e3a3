import Foundation
import XCTest

/// `pull`, `models` and `config` through the binary (downloads themselves are tested in ModelStoreTests).
final class ModelCommandsTests: XCTestCase {
    var dataHome: URL { URL(fileURLWithPath: CLI.isolatedEnvironment["XDG_DATA_HOME"]!) }
    var configFile: URL {
        URL(fileURLWithPath: CLI.isolatedEnvironment["XDG_CONFIG_HOME"]!).appendingPathComponent(
            "rwkv-chat/config.json")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: configFile) }

    func testPullFailuresAreClearAndLeaveNothingBehind() throws {
        let (code, out) = try CLI.run(["pull", "no-such-model"])
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(out.isEmpty, "errors go to stderr, not stdout: \(out)")
        let (code2, _) = try CLI.run(["pull", "http://127.0.0.1:9/unreachable-model.gguf"])
        XCTAssertNotEqual(code2, 0)
        let models = dataHome.appendingPathComponent("rwkv-chat/models")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: models.path)) ?? []
        XCTAssertFalse(left.contains("unreachable-model.gguf"), "\(left)")
    }

    func testModelsListsTheCatalog() throws {
        let (code, out) = try CLI.run(["models"])
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("g1a-0.1b (default)"), out)
        XCTAssertTrue(out.contains("tiny demo model"), out)
    }

    func testConfigShowsWhereEachSettingComesFrom() throws {
        try FileManager.default.createDirectory(
            at: configFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(
            #"{"prompt": "plain", "sampling": {"temperature": 0.25}, "keys": {"regenerate": "ctrl-g"}, "colors": {"user": "magenta on black"}}"#
                .utf8
        ).write(to: configFile)
        let (code, out) = try CLI.run(["config"])
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("prompt:      plain  [config file]"), out)
        XCTAssertTrue(out.contains("0.25  [config file]"), out)
        XCTAssertTrue(out.contains("Ctrl-G  [config file]"), out)
        XCTAssertTrue(out.contains("[template plain]"), out)
        XCTAssertTrue(out.contains("magenta on black  [config file]"), out)
        XCTAssertTrue(out.contains("cyan  [default]"), out)
        try Data(#"{"sampling": {"temprature": 1}}"#.utf8).write(to: configFile)
        let (bad, _) = try CLI.run(["config"])
        XCTAssertNotEqual(bad, 0, "a misspelt setting is an error naming it")
        try Data(#"{"colors": {"user": "greenish"}}"#.utf8).write(to: configFile)
        let (badColor, _) = try CLI.run(["config"])
        XCTAssertNotEqual(badColor, 0, "an unknown colour is an error")
    }
}
