import Conversation
import Dispatch
import Foundation

/// A thread-safe queue of actions from the worker, signals and background jobs to the UI loop.
final class ActionInbox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Action] = []

    func post(_ a: Action) {
        lock.lock()
        items.append(a)
        lock.unlock()
    }

    func drain() -> [Action] {
        lock.lock()
        defer { lock.unlock() }
        let out = items
        items = []
        return out
    }
}

/// The full-screen chat: the loop that reads keys, runs the reducer, carries out its
/// effects and draws `Renderer.render(state)` on a `Terminal`.
///
/// The model runs on a `ChatWorker` thread. The loop waits for keys at most a few
/// milliseconds at a time, so worker events (streamed text, finished commands) are
/// drawn as they come, at most `maxFramesPerSecond` times a second. After every
/// command the worker saves the session (autosave) and hands the UI a `SessionView`.
public final class ChatApp {
    /// The UI state.
    public private(set) var state: AppState
    let terminal: Terminal
    let worker: ChatWorker
    let inbox = ActionInbox()
    /// Directory new sessions autosave into (nil: no autosave for unnamed sessions).
    let autosaveDirectory: URL?
    /// Frames drawn per second at most while text streams.
    public static let maxFramesPerSecond = 30.0
    private var lastDraw = 0.0
    private var needsDraw = true
    /// Seconds the last `render` + `draw` took, for the responsiveness figures.
    public private(set) var lastFrameSeconds = 0.0

    /// An app on `terminal` driving `controller`.
    public init(
        controller: ChatController, terminal: Terminal, modelLabel: String, autosaveDirectory: URL?,
        keys: KeyMap = .standard, isDemoModel: Bool = false
    ) {
        let size = terminal.size
        state = AppState(width: size.width, height: size.height, modelLabel: modelLabel)
        state.keys = keys
        state.isDemoModel = isDemoModel
        state.sessionsDirectory = SessionFile.defaultDirectory.path
        state.view = SessionView(controller.session)
        self.terminal = terminal
        self.autosaveDirectory = autosaveDirectory
        let inbox = self.inbox
        worker = ChatWorker(controller: controller) { event in inbox.post(.engine(event)) }
        state.now = Date().timeIntervalSince1970
    }

    /// Applies an action and carries out the effects it returns.
    public func dispatch(_ action: Action) {
        let effects = state.reduce(action)
        needsDraw = true
        for e in effects { perform(e) }
    }

    /// Posts an action from any thread (signals, background jobs).
    public func post(_ action: Action) { inbox.post(action) }

    /// Handles one terminal input.
    func handle(_ input: TerminalInput) {
        switch input {
        case .key(let k): dispatch(.key(k))
        case .text(let t): dispatch(.text(t))
        case .resize(let w, let h): dispatch(.resize(width: w, height: h))
        }
    }

    /// One pass of the loop: wait for input up to `timeoutMs`, apply worker reports, draw if due.
    /// Returns false once the app has finished.
    @discardableResult
    public func step(timeoutMs: Int = 10) -> Bool {
        if let input = terminal.read(timeoutMs: timeoutMs) {
            handle(input)
            // Take everything already typed before drawing, so fast typing or a paste
            // costs one frame, not one frame per key.
            while let more = terminal.read(timeoutMs: 0) { handle(more) }
        }
        for a in inbox.drain() { dispatch(a) }
        let now = Date().timeIntervalSince1970
        if now - state.now > 0.25 { dispatch(.tick(now)) }
        if needsDraw && (now - lastDraw >= 1 / Self.maxFramesPerSecond || !state.busy) {
            draw()
            lastDraw = now
        }
        return !(state.quitRequested && !worker.isBusy)
    }

    /// Renders and draws the current state now.
    public func draw() {
        let started = DispatchTime.now().uptimeNanoseconds
        terminal.draw(Renderer.render(state))
        lastFrameSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        needsDraw = false
    }

    /// Runs until the user quits; then saves the session and restores the terminal.
    public func run() {
        draw()
        while step(timeoutMs: 15) {}
        finish()
    }

    /// Saves the session (waiting for the worker to stop) and restores the terminal.
    public func finish() {
        worker.cancel()
        let problem: String? = worker.sync { controller in
            do {
                try autosave(controller)
                return nil
            } catch {
                return "\(error)"
            }
        }
        terminal.shutdown()
        if let problem {
            FileHandle.standardError.write(Data("rwkv-chat: the session was not saved: \(problem)\n".utf8))
        }
    }

    /// Saves the session if it changed, naming new sessions in the autosave directory.
    func autosave(_ controller: ChatController) throws {
        let s = controller.session
        guard s.isDirty, s.tree.nodes.count > 1 || s.fileURL != nil else { return }
        if s.fileURL == nil {
            guard let dir = autosaveDirectory else { return }
            s.fileURL = Self.freshSessionURL(in: dir)
        }
        try SessionFile.save(s, to: s.fileURL!)
    }

    /// `chat-YYYYMMDD-HHMMSS.rwkvsession` in `dir`, numbered if taken.
    static func freshSessionURL(in dir: URL) -> URL {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        let stem = "chat-\(f.string(from: Date()))"
        var url = dir.appendingPathComponent("\(stem).rwkvsession")
        var n = 2
        while FileManager.default.fileExists(atPath: url.path) {
            url = dir.appendingPathComponent("\(stem)-\(n).rwkvsession")
            n += 1
        }
        return url
    }

    // MARK: - Effects

    func perform(_ effect: Effect) {
        switch effect {
        case .submit(let line):
            let inbox = self.inbox
            worker.submit(line) { [self] controller in
                do {
                    try autosave(controller)
                } catch {
                    inbox.post(.notice("autosave failed: \(error)", isError: true))
                }
                inbox.post(.session(SessionView(controller.session)))
                inbox.post(.commandFinished)
            }
        case .cancelGeneration:
            worker.cancel()
        case .listSessions:
            let inbox = self.inbox
            DispatchQueue.global().async { inbox.post(.sessionList(Self.listSessions())) }
        case .renameSession(let url, let name):
            rename(url, to: name)
        case .deleteSession(let url):
            do {
                try FileManager.default.removeItem(at: url)
                dispatch(.notice("deleted \(url.deletingPathExtension().lastPathComponent)", isError: false))
            } catch {
                dispatch(.notice("cannot delete \(url.path): \(error.localizedDescription)", isError: true))
            }
            perform(.listSessions)
        case .completePath(let prefix):
            dispatch(.completions(Self.pathCompletions(prefix)))
        case .quit:
            worker.cancel()
        }
    }

    func rename(_ url: URL, to name: String) {
        let target = url.deletingLastPathComponent().appendingPathComponent("\(name).\(url.pathExtension)")
        guard !FileManager.default.fileExists(atPath: target.path) else {
            dispatch(.notice("a session called \(name) already exists", isError: true))
            return
        }
        do {
            try FileManager.default.moveItem(at: url, to: target)
        } catch {
            dispatch(.notice("cannot rename: \(error.localizedDescription)", isError: true))
            return
        }
        // The open session follows its file.
        let inbox = self.inbox
        worker.enqueue { controller in
            if controller.session.fileURL?.standardizedFileURL == url.standardizedFileURL {
                controller.session.fileURL = target
            }
            inbox.post(.session(SessionView(controller.session)))
            inbox.post(.commandFinished)
        }
        state.busy = true
        perform(.listSessions)
    }

    /// The saved sessions, most recent first.
    static func listSessions() -> [SessionEntry] {
        let dir = SessionFile.defaultDirectory
        let files = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? []
        var out: [SessionEntry] = []
        for url in files where url.pathExtension == "rwkvsession" {
            let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
            let modified = (attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let bytes = (attrs?[.size] as? Int) ?? 0
            do {
                let s = try SessionFile.inspect(url)
                let turns = s.tree.nodes.values.filter { $0.role == .user }.count
                out.append(SessionEntry(url: url, model: s.model.file, modified: modified, turns: turns, bytes: bytes))
            } catch {
                out.append(
                    SessionEntry(url: url, model: "", modified: modified, turns: 0, bytes: bytes, problem: "\(error)"))
            }
        }
        return out.sorted { $0.modified > $1.modified }
    }

    /// Files and directories starting with `prefix` (directories end in "/").
    static func pathCompletions(_ prefix: String) -> [String] {
        let expanded = (prefix as NSString).expandingTildeInPath
        let dir = prefix.hasSuffix("/") ? expanded : (expanded as NSString).deletingLastPathComponent
        let stem = prefix.hasSuffix("/") ? "" : (expanded as NSString).lastPathComponent
        let shownDir = prefix.hasSuffix("/") ? prefix : String(prefix.dropLast(stem.count))
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir)) ?? []
        return names.filter { $0.hasPrefix(stem) && !($0.hasPrefix(".") && !stem.hasPrefix(".")) }.sorted().map {
            var isDir: ObjCBool = false
            FileManager.default.fileExists(
                atPath: ((dir.isEmpty ? "." : dir) as NSString).appendingPathComponent($0), isDirectory: &isDir)
            return shownDir + $0 + (isDir.boolValue ? "/" : "")
        }
    }
}
