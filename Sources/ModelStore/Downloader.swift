import Dispatch
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// How far a download has come.
public struct DownloadProgress: Equatable, Sendable {
    /// Bytes on disk so far (including those of an earlier, interrupted attempt).
    public var received: Int64
    /// The file's full size, when the server or the catalog says.
    public var total: Int64?
    /// Recent speed.
    public var bytesPerSecond: Double

    /// Seconds left at the recent speed, if the size is known.
    public var secondsLeft: Double? {
        guard let total, bytesPerSecond > 0 else { return nil }
        return Double(max(total - received, 0)) / bytesPerSecond
    }
}

/// Downloads one file over HTTP(S) into place, safely.
///
/// The data goes to `NAME.partial` next to the destination and is renamed to the
/// final name only after its size (and SHA-256, when known) check out, so the
/// models directory never holds a partial file under a model's name. An
/// interrupted download resumes from the partial file with an HTTP `Range`
/// request, both within one call (a dropped connection is retried) and across
/// calls; a server that ignores `Range` gets a fresh download.
public final class Downloader: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let url: URL
    private let partial: URL
    private var handle: FileHandle?
    private var received: Int64 = 0
    private var total: Int64?
    private var status = 0
    private var failure: Error?
    private var writeError: String?
    private let done = DispatchSemaphore(value: 0)
    private let onProgress: (DownloadProgress) -> Void
    private var lastReport = Date.distantPast
    private var window: [(Date, Int64)] = []

    /// How many times a dropped connection is resumed within one `download` call.
    public static let retries = 5

    private init(url: URL, partial: URL, expected: Int64?, onProgress: @escaping (DownloadProgress) -> Void) {
        self.url = url
        self.partial = partial
        self.total = expected
        self.onProgress = onProgress
    }

    /// Downloads `url` to `destination`, checking `expectedBytes` and `sha256` when given.
    /// `onProgress` is called about ten times a second and once at the end.
    public static func download(
        _ url: URL, to destination: URL, expectedBytes: Int64? = nil, sha256: String? = nil,
        timeout: TimeInterval = 60, onProgress: @escaping (DownloadProgress) -> Void = { _ in }
    ) throws {
        let dir = destination.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw StoreError.disk(dir.path, error.localizedDescription)
        }
        let partial = destination.appendingPathExtension("partial")
        var attempt = 0
        while true {
            let d = Downloader(url: url, partial: partial, expected: expectedBytes, onProgress: onProgress)
            do {
                try d.run(timeout: timeout)
                break
            } catch StoreError.network(let u, let why) {
                // A dropped connection: try again from where the partial file ends.
                attempt += 1
                if attempt > retries { throw StoreError.network(u, why) }
                Thread.sleep(forTimeInterval: min(0.2 * Double(attempt), 2))
            }
        }
        try verify(partial, url: url, expectedBytes: expectedBytes, sha256: sha256)
        // Atomic on one file system: the final name appears only with the whole file.
        if rename(partial.path, destination.path) != 0 {
            throw StoreError.disk(destination.path, String(cString: strerror(errno)))
        }
    }

    private static func verify(_ file: URL, url: URL, expectedBytes: Int64?, sha256: String?) throws {
        let size = Int64((try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0)
        if let expectedBytes, size != expectedBytes {
            try? FileManager.default.removeItem(at: file)
            throw StoreError.size(url.absoluteString, expected: expectedBytes, got: size)
        }
        guard let sha256 else { return }
        guard let h = FileHandle(forReadingAtPath: file.path) else { throw StoreError.io(file.path, "cannot read") }
        defer { try? h.close() }
        var hash = SHA256()
        while let chunk = try? h.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(chunk) }
        let got = hash.hexDigest()
        if got != sha256.lowercased() {
            try? FileManager.default.removeItem(at: file)
            throw StoreError.checksum(url.absoluteString, expected: sha256.lowercased(), got: got)
        }
    }

    private func run(timeout: TimeInterval) throws {
        let existing = Int64((try? FileManager.default.attributesOfItem(atPath: partial.path)[.size] as? Int) ?? 0)
        if let total, existing == total { return }  // finished earlier, not yet verified
        var request = URLRequest(url: url, timeoutInterval: timeout)
        if existing > 0 { request.setValue("bytes=\(existing)-", forHTTPHeaderField: "Range") }
        received = existing
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: config, delegate: self, delegateQueue: nil)
        session.dataTask(with: request).resume()
        done.wait()
        session.finishTasksAndInvalidate()
        try? handle?.close()
        report(force: true)
        if let writeError { throw StoreError.disk(partial.path, writeError) }
        if let failure { throw failure }
        if let total, received < total {
            throw StoreError.network(url.absoluteString, "the connection closed after \(received) of \(total) bytes")
        }
    }

    /// Decides from the status whether to append (206), start over (200) or stop.
    public func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        let http = response as? HTTPURLResponse
        status = http?.statusCode ?? 200
        switch status {
        case 206:
            break
        case 200:
            received = 0
            try? FileManager.default.removeItem(at: partial)
        case 416 where total != nil:
            // Nothing left to fetch: the partial file is already complete.
            completionHandler(.cancel)
            return
        default:
            failure = StoreError.http(url.absoluteString, status)
            completionHandler(.cancel)
            return
        }
        if response.expectedContentLength > 0 { total = total ?? received + response.expectedContentLength }
        if !FileManager.default.fileExists(atPath: partial.path) {
            FileManager.default.createFile(atPath: partial.path, contents: nil)
        }
        handle = FileHandle(forWritingAtPath: partial.path)
        guard let handle else {
            writeError = "cannot open the file for writing"
            completionHandler(.cancel)
            return
        }
        handle.seekToEndOfFile()
        completionHandler(.allow)
    }

    /// Appends data to the partial file.
    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard writeError == nil, let handle else { return }
        do {
            try handle.write(contentsOf: data)
        } catch {
            let code = (error as NSError).code
            writeError = code == Int(ENOSPC) ? "the disk is full" : error.localizedDescription
            dataTask.cancel()
            return
        }
        received += Int64(data.count)
        report(force: false)
    }

    /// Records how the transfer ended.
    public func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let error, failure == nil, writeError == nil, status != 416 {
            failure = StoreError.network(url.absoluteString, error.localizedDescription)
        }
        done.signal()
    }

    private func report(force: Bool) {
        let now = Date()
        guard force || now.timeIntervalSince(lastReport) >= 0.1 else { return }
        lastReport = now
        window.append((now, received))
        window.removeAll { now.timeIntervalSince($0.0) > 3 }
        var speed = 0.0
        if let first = window.first, now.timeIntervalSince(first.0) > 0.05 {
            speed = Double(received - first.1) / now.timeIntervalSince(first.0)
        }
        onProgress(DownloadProgress(received: received, total: total, bytesPerSecond: speed))
    }
}
