import Dispatch
import Foundation

/// Runs the command layer on a worker thread, so a UI never blocks while the model works.
///
/// Commands run one at a time, in order, on a private serial queue. Events are
/// delivered to `onEvent` on that queue; a UI forwards them to its own loop.
/// `cancel()` stops the reply being generated between two tokens; the reply is
/// kept, marked cancelled, and the session stays consistent. A cancel applies to every
/// command submitted before it, including one still waiting in the queue, so an Esc
/// pressed right after Enter is never lost.
public final class ChatWorker: @unchecked Sendable {
    private let controller: ChatController
    private let queue = DispatchQueue(label: "rwkv-chat.worker")
    private let lock = NSLock()
    /// How many lines have been submitted; each line's ticket is its number.
    private var submitted = 0
    /// Lines with a ticket up to this one are cancelled.
    private var cancelledThrough = 0
    private var pending = 0
    private let onEvent: @Sendable (ChatEvent) -> Void

    /// A worker driving `controller`, reporting to `onEvent` (called on the worker's thread).
    public init(controller: ChatController, onEvent: @escaping @Sendable (ChatEvent) -> Void) {
        self.controller = controller
        self.onEvent = onEvent
    }

    /// True while a command is queued or running.
    public var isBusy: Bool {
        lock.lock()
        defer { lock.unlock() }
        return pending > 0
    }

    /// Queues one input line (message or command); returns at once.
    public func submit(_ line: String) { submit(line, then: nil) }

    /// Queues one input line, then runs `then` on the worker's thread with the controller
    /// (to save the session or copy what a screen shows without racing the next command).
    public func submit(_ line: String, then: ((ChatController) -> Void)?) {
        lock.lock()
        pending += 1
        submitted += 1
        let ticket = submitted
        lock.unlock()
        queue.async { [self] in
            // The ticket, not a flag reset when the line starts, decides: a flag reset
            // here would forget a cancel that arrived while the line was still queued.
            controller.handle(line) { event in
                onEvent(event)
                if case .text = event { return !isCancelled(ticket) }
                return true
            }
            then?(controller)
            lock.lock()
            pending -= 1
            lock.unlock()
        }
    }

    /// Queues `body` to run on the worker's thread after the commands before it
    /// (for changes that are not commands, such as following a renamed session file).
    public func enqueue(_ body: @escaping (ChatController) -> Void) {
        lock.lock()
        pending += 1
        lock.unlock()
        queue.async { [self] in
            body(controller)
            lock.lock()
            pending -= 1
            lock.unlock()
        }
    }

    /// Asks the running reply to stop after the current token, and every line submitted
    /// so far but not yet started to stop at its first token.
    public func cancel() {
        lock.lock()
        cancelledThrough = submitted
        lock.unlock()
    }

    private func isCancelled(_ ticket: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return ticket <= cancelledThrough
    }

    /// Runs `body` on the worker's queue after every queued command, and waits for it.
    /// Use it to read the session safely from another thread.
    public func sync<T>(_ body: (ChatController) throws -> T) rethrows -> T {
        try queue.sync { try body(controller) }
    }

    /// The events of one line as an asynchronous stream that ends when the command does.
    public static func stream(_ controller: ChatController, line: String) -> AsyncStream<ChatEvent> {
        AsyncStream { continuation in
            let box = UncheckedBox(controller)
            DispatchQueue.global().async {
                box.value.handle(line) { event in
                    continuation.yield(event)
                    return true
                }
                continuation.finish()
            }
        }
    }
}

/// Moves a non-Sendable reference to another thread where the caller guarantees exclusive use.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
