import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1 for the download tests, serving one body.
///
/// Paths: `/file.bin` (the body, with `Range: bytes=N-` support), `/drop.bin` (the
/// first response stops halfway and closes the connection), `/slow.bin` (the body
/// in small pieces with pauses), anything else 404. Each request's Range header is
/// recorded.
final class TestHTTPServer: @unchecked Sendable {
    let body: [UInt8]
    private(set) var port: UInt16 = 0
    private var listener: Int32 = -1
    private let lock = NSLock()
    private var ranges: [String?] = []
    private var drops = 0
    /// Bytes per piece and pause between pieces for /slow.bin.
    var slowPiece = 4096, slowPause: useconds_t = 20_000

    init(body: [UInt8]) throws {
        self.body = body
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw NSError(domain: "server", code: Int(errno)) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) }
        }
        port = UInt16(bigEndian: addr.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    func url(_ path: String) -> URL { URL(string: "http://127.0.0.1:\(port)\(path)")! }

    /// The Range headers received so far (nil for none).
    var rangeHeaders: [String?] {
        lock.lock()
        defer { lock.unlock() }
        return ranges
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { return }
            Thread { [self] in
                handle(fd)
                close(fd)
            }.start()
        }
    }

    private func send(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    private func handle(_ fd: Int32) {
        var request: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while !request.ends(with: Array("\r\n\r\n".utf8)) {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return }
            request += buf[0..<n]
        }
        let text = String(decoding: request, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let path = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        let range = lines.first { $0.lowercased().hasPrefix("range:") }
            .map { $0.dropFirst(6).trimmingCharacters(in: .whitespaces) }
        lock.lock()
        ranges.append(range)
        let firstDrop = path == "/drop.bin" && drops == 0
        if firstDrop { drops += 1 }
        lock.unlock()
        guard ["/file.bin", "/drop.bin", "/slow.bin"].contains(path) else {
            _ = send(
                fd, Array("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found".utf8)[...]
            )
            return
        }
        var start = 0
        if let r = range, r.hasPrefix("bytes="), let s = Int(r.dropFirst(6).split(separator: "-").first ?? "") {
            start = s
        }
        guard start <= body.count else {
            _ = send(
                fd,
                Array("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)[...])
            return
        }
        let part = body[start...]
        var head = start > 0 ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n"
        head += "Content-Length: \(part.count)\r\nAccept-Ranges: bytes\r\nConnection: close\r\n"
        if start > 0 { head += "Content-Range: bytes \(start)-\(body.count - 1)/\(body.count)\r\n" }
        head += "\r\n"
        guard send(fd, Array(head.utf8)[...]) else { return }
        if firstDrop {
            // Half the body, then the connection goes away.
            _ = send(fd, part.prefix(part.count / 2))
            return
        }
        if path == "/slow.bin" {
            var i = part.startIndex
            while i < part.endIndex {
                let j = min(i + slowPiece, part.endIndex)
                guard send(fd, part[i..<j]) else { return }
                i = j
                usleep(slowPause)
            }
            return
        }
        _ = send(fd, part)
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
