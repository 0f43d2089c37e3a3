import Foundation
import XCTest

/// Runs the `rwkv-chat` binary built next to the test bundle.
enum CLI {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: URL {
        // The executable is built into the same products directory as the test bundle.
        let bundle = Bundle(for: Marker.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("rwkv-chat") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    final class Marker {}

    static let model = repoRoot.appendingPathComponent("Tests/RWKVTests/Fixtures/tiny7.fp32.pth").path

    /// Starts the binary with `args`, feeding `input` on stdin.
    static func start(_ args: [String], input: String) throws -> (Process, Pipe) {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw CLIError(message: "rwkv-chat binary not found at \(binary.path)")
        }
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let stdin = Pipe()
        let stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        p.standardError = FileHandle.nullDevice
        p.environment = isolatedEnvironment
        try p.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        return (p, stdout)
    }

    /// Starts the binary with stdin left open, for tests that talk to it and send signals.
    static func spawn(_ args: [String]) throws -> (process: Process, stdin: FileHandle, stdout: FileHandle) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let stdin = Pipe()
        let stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        p.standardError = FileHandle.nullDevice
        p.environment = isolatedEnvironment
        try p.run()
        return (p, stdin.fileHandleForWriting, stdout.fileHandleForReading)
    }

    /// Reads `out` until its text contains `marker` (or the stream ends); returns what was read.
    static func read(_ out: FileHandle, until marker: String) -> Data {
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains(marker) {
            let chunk = out.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        return seen
    }

    /// Runs to completion and returns (exit code, stdout).
    static func run(_ args: [String], input: String = "") throws -> (Int32, String) {
        let (p, out) = try start(args, input: input)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The environment with per-user directories redirected to a scratch folder, so tests
    /// neither read nor write the real user's templates, caches or sessions.
    static let isolatedEnvironment: [String: String] = {
        var env = ProcessInfo.processInfo.environment
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-cli-home-\(getpid())").path
        env["XDG_CACHE_HOME"] = home + "/cache"
        env["XDG_CONFIG_HOME"] = home + "/config"
        env["XDG_DATA_HOME"] = home + "/data"
        return env
    }()

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-cli-\(UUID())")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
}

struct CLIError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
