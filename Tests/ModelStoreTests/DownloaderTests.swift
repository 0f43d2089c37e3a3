import Foundation
import XCTest

@testable import ModelStore

/// Downloads from a local server: whole, resumed, corrupt, missing, slow.
final class DownloaderTests: XCTestCase {
    var server: TestHTTPServer!
    var dir: URL!
    let body: [UInt8] = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }

    override func setUpWithError() throws {
        server = try TestHTTPServer(body: body)
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-dl-\(UUID())")
    }

    override func tearDownWithError() throws {
        server.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    var files: [String] { (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] }

    func testFullDownloadWithChecksum() throws {
        let dest = dir.appendingPathComponent("model.pth")
        try Downloader.download(
            server.url("/file.bin"), to: dest, expectedBytes: Int64(body.count), sha256: SHA256.hex(body))
        XCTAssertEqual([UInt8](try Data(contentsOf: dest)), body)
        XCTAssertEqual(files, ["model.pth"], "no partial file is left")
    }

    func testADroppedConnectionResumesWithARangeRequest() throws {
        let dest = dir.appendingPathComponent("model.pth")
        try Downloader.download(server.url("/drop.bin"), to: dest, sha256: SHA256.hex(body))
        XCTAssertEqual([UInt8](try Data(contentsOf: dest)), body)
        let ranges = server.rangeHeaders
        XCTAssertEqual(ranges.count, 2)
        XCTAssertNil(ranges[0])
        XCTAssertEqual(ranges[1], "bytes=\(body.count / 2)-", "the second request continues from the partial file")
    }

    func testAPartialFileFromAnEarlierRunIsContinued() throws {
        let dest = dir.appendingPathComponent("model.pth")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(body[..<100_000]).write(to: dest.appendingPathExtension("partial"))
        try Downloader.download(server.url("/file.bin"), to: dest, expectedBytes: Int64(body.count))
        XCTAssertEqual([UInt8](try Data(contentsOf: dest)), body)
        XCTAssertEqual(server.rangeHeaders, ["bytes=100000-"])
    }

    func testChecksumMismatchDiscardsTheFile() throws {
        let dest = dir.appendingPathComponent("model.pth")
        XCTAssertThrowsError(
            try Downloader.download(server.url("/file.bin"), to: dest, sha256: String(repeating: "0", count: 64))
        ) { error in
            guard case StoreError.checksum = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("SHA-256"))
        }
        XCTAssertEqual(files, [], "neither the final name nor a partial file remains")
    }

    func testNotFoundAndUnreachableServerGiveClearErrors() throws {
        let dest = dir.appendingPathComponent("model.pth")
        XCTAssertThrowsError(try Downloader.download(server.url("/missing.pth"), to: dest)) { error in
            XCTAssertEqual(error as? StoreError, .http(self.server.url("/missing.pth").absoluteString, 404))
            XCTAssertTrue("\(error)".contains("404 (not found)"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest.path))
        server.stop()
        let closed = URL(string: "http://127.0.0.1:\(server.port)/file.bin")!
        XCTAssertThrowsError(try Downloader.download(closed, to: dest, timeout: 2)) { error in
            guard case StoreError.network = error else { return XCTFail("\(error)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest.path))
    }

    func testSlowServerReportsProgressAndNeverShowsAPartialFileUnderTheFinalName() throws {
        let dest = dir.appendingPathComponent("model.pth")
        let seen = LockedArray()
        let finalNameSeenEarly = LockedArray()
        try Downloader.download(server.url("/slow.bin"), to: dest, expectedBytes: Int64(body.count)) { p in
            seen.append(p)
            if FileManager.default.fileExists(atPath: dest.path) { finalNameSeenEarly.append(p) }
        }
        let reports = seen.items
        XCTAssertGreaterThan(reports.count, 3, "progress is reported while the file arrives")
        XCTAssertEqual(reports.last?.received, Int64(body.count))
        XCTAssertEqual(reports.last?.total, Int64(body.count))
        XCTAssertTrue(zip(reports, reports.dropFirst()).allSatisfy { $0.received <= $1.received })
        XCTAssertTrue(reports.contains { $0.bytesPerSecond > 0 && $0.secondsLeft != nil })
        XCTAssertEqual(finalNameSeenEarly.items.count, 0)
        XCTAssertEqual([UInt8](try Data(contentsOf: dest)), body)
    }

    func testSHA256Vectors() {
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(
            SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var s = SHA256()
        for _ in 0..<1000 { s.update([UInt8](repeating: 0x61, count: 1000)) }
        XCTAssertEqual(s.hexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

final class LockedArray: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [DownloadProgress] = []
    func append(_ p: DownloadProgress) {
        lock.lock()
        values.append(p)
        lock.unlock()
    }
    var items: [DownloadProgress] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}
