import Conversation
import Foundation

/// Prints command-layer events for the headless mode: plain text or one JSON object per line.
final class EventPrinter: @unchecked Sendable {
    let json: Bool
    private let lock = NSLock()

    init(json: Bool) { self.json = json }

    func print(_ event: ChatEvent) {
        lock.lock()
        defer { lock.unlock() }
        if json {
            write(Self.jsonLine(event) + "\n", to: .standardOutput)
            return
        }
        switch event {
        case .text(let t): write(t, to: .standardOutput)
        case .reply(let r):
            let note =
                r.finish == .length
                ? "\n[cut at the length limit: /continue extends it]" : r.finish == .cancelled ? "\n[cancelled]" : ""
            write(note + "\n\n", to: .standardOutput)
        case .info(let t): write(t + "\n", to: .standardOutput)
        case .error(let e): write("error: \(e)\n", to: .standardError)
        case .saved(let p): write("saved \(p)\n", to: .standardError)
        case .quit: break
        }
    }

    private enum Stream { case standardOutput, standardError }

    private func write(_ s: String, to stream: Stream) {
        let handle = stream == .standardOutput ? FileHandle.standardOutput : FileHandle.standardError
        handle.write(Data(s.utf8))
    }

    static func jsonLine(_ event: ChatEvent) -> String {
        var object: [String: Any]
        switch event {
        case .text(let t): object = ["event": "token", "text": t]
        case .reply(let r):
            object = [
                "event": "reply", "node": r.node, "finish": r.finish.rawValue, "tokens": r.tokens, "text": r.text,
                "prefill_tokens_per_s": round(r.prefillTokensPerSecond * 10) / 10,
                "generation_tokens_per_s": round(r.generationTokensPerSecond * 10) / 10,
            ]
        case .info(let t): object = ["event": "info", "text": t]
        case .error(let e): object = ["event": "error", "message": e]
        case .saved(let p): object = ["event": "saved", "path": p]
        case .quit: object = ["event": "quit"]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
