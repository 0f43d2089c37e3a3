import Foundation
import XCTest

/// The full-screen chat in a real terminal: tmux runs `rwkv-chat` on a fixture model,
/// `send-keys` types, `capture-pane` reads the screen.
///
/// `.ci/run` installs tmux; without it these tests skip with a message.
final class TerminalUITests: XCTestCase {
    var socket = ""
    var home: URL!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
            throw XCTSkip("tmux is not installed (apt-get install tmux); the terminal tests need it")
        }
        socket = "rwkv-e2e-\(getpid())-\(UUID().uuidString.prefix(8))"
        home = try CLI.tempDir()
    }

    override func tearDownWithError() throws {
        _ = try? tmux("kill-server")
        if let home { try? FileManager.default.removeItem(at: home) }
    }

    /// Runs tmux with `args` on this test's server socket; returns its output.
    ///
    /// Spawned directly with every inherited descriptor closed: the first command starts
    /// the tmux server, a daemon that would otherwise keep Foundation's process-exit
    /// pipe (and the test's pipes) open forever.
    @discardableResult
    func tmux(_ args: String...) throws -> String {
        let output = home.appendingPathComponent("tmux-out-\(UUID().uuidString)").path
        defer { unlink(output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // Nothing but stdin/stdout/stderr may reach tmux: mark every other descriptor
        // close-on-exec (it only matters at exec, so this process is unaffected).
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        let argv = (["/usr/bin/tmux", "-L", socket] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/usr/bin/tmux", &actions, nil, argv, environ) == 0 else {
            throw CLIError(message: "cannot start tmux")
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }

    func screen() throws -> String { try tmux("capture-pane", "-p", "-t", "chat") }

    /// Polls the screen until `predicate` holds; fails with the screen after `timeout` seconds.
    @discardableResult
    func waitFor(
        _ what: String, timeout: Double = 20, file: StaticString = #filePath, line: UInt = #line,
        _ predicate: (String) -> Bool
    ) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try screen()
            if predicate(last) { return last }
            usleep(50_000)
        }
        XCTFail("timed out waiting for \(what); screen:\n\(last)", file: file, line: line)
        throw CLIError(message: "timeout waiting for \(what)")
    }

    /// Waits until the reply is done (the idle hint is back in the status line).
    func waitIdle(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try waitFor("the chat to be idle", file: file, line: line) { !$0.contains("stops") && $0.contains("Ctrl-R") }
    }

    /// Per-user directories inside this test's scratch folder.
    var environment: String {
        "XDG_DATA_HOME=\(home.path)/data XDG_CONFIG_HOME=\(home.path)/config XDG_CACHE_HOME=\(home.path)/cache"
    }

    func start(width: Int = 100, height: Int = 30, extra: String = "") throws {
        let env = environment
        let command =
            "env \(env) TERM=xterm-256color \(CLI.binary.path) --model \(CLI.model) --session e2e --max-tokens 12 --seed 3 \(extra); echo EXIT=$?; sleep 60"
        try tmux("new-session", "-d", "-s", "chat", "-x", "\(width)", "-y", "\(height)", command)
        try waitFor("the chat screen") { $0.contains(" rwkv-chat · ") }
    }

    // swiftlint:disable:next function_body_length
    func testChatBranchTreeResizeCancelQuitAndReopen() throws {
        try start()
        try tmux("send-keys", "-t", "chat", "Hello there", "Enter")
        var s = try waitIdle()
        XCTAssertTrue(s.contains("You") && s.contains("Hello there") && s.contains("Assistant"), s)

        // Regenerate: a second reply, the indicator shows it.
        try tmux("send-keys", "-t", "chat", "C-r")
        s = try waitFor("a second reply") { $0.contains("Assistant ‹ 2/2 ›") }

        // Edit the message: a sibling of the first message, with its own reply.
        try tmux("send-keys", "-t", "chat", "C-e")
        try waitFor("the message in the input box") { $0.contains("editing message") }
        try tmux("send-keys", "-t", "chat", "C-u", "Edited message", "Enter")
        s = try waitFor("the edited branch") { $0.contains("Edited message") && $0.contains("You ‹ 2/2 ›") }
        _ = try waitIdle()

        // Switch back to the first branch: select the message (Alt-Up twice), then Alt-Left.
        try tmux("send-keys", "-t", "chat", "M-Up", "M-Up", "M-Left")
        // The waits include everything the assertions check: tmux can capture the screen
        // between two writes of one frame, and a partial frame is not a failure.
        s = try waitFor("the first branch again, with its two replies") {
            $0.contains("You ‹ 1/2 ›") && $0.contains("Hello there") && $0.contains("Assistant ‹ 2/2 ›")
        }
        XCTAssertTrue(s.contains("Assistant ‹ 2/2 ›"), "the first branch keeps its two replies:\n\(s)")
        try tmux("send-keys", "-t", "chat", "Escape")

        // The tree view, then back.
        try tmux("send-keys", "-t", "chat", "C-t")
        s = try waitFor("the tree view with both branches") {
            $0.contains("Conversation tree") && $0.contains("#1 you: Hello there") && $0.contains("you: Edited message")
        }
        XCTAssertTrue(s.contains("#1 you: Hello there") && s.contains("you: Edited message"), s)
        try tmux("send-keys", "-t", "chat", "Escape")
        try waitFor("the tree to close") { !$0.contains("Conversation tree") }

        // Resize: everything is redrawn for the new width.
        try tmux("resize-window", "-t", "chat", "-x", "60", "-y", "20")
        s = try waitFor("a 60-column screen") { screen in
            var lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.last == "" { lines.removeLast() }
            return lines.count == 20 && lines.contains { $0.hasPrefix("─") && $0.count == 60 }
        }
        XCTAssertTrue(s.contains("Hello there"), s)

        // Cancel a long reply with Esc.
        try tmux("send-keys", "-t", "chat", "/set max_tokens 1000000", "Enter")
        try waitFor("the setting") { $0.contains("max_tokens = 1000000") }
        // The setting shows before its command has finished (the autosave comes after),
        // and Enter while busy is refused; so wait for idle before sending.
        _ = try waitIdle()
        try tmux("send-keys", "-t", "chat", "Long one", "Enter")
        try waitFor("the reply to stream") { screen in
            screen.contains("stops") && !screen.contains("› Long one")
                && screen.split(separator: "\n").contains { $0.hasPrefix("   ") && $0.contains("Long one") }
        }
        try tmux("send-keys", "-t", "chat", "Escape")
        s = try waitFor("the cancelled reply") { $0.contains("(cancelled)") }
        let before = try waitIdle()

        // Quit: the process ends cleanly, the terminal is given back.
        try tmux("send-keys", "-t", "chat", "C-q")
        try waitFor("the process to exit") { $0.contains("EXIT=0") }

        // Reopen the session: the same transcript and branch indicators are back.
        try tmux("kill-session", "-t", "chat")
        try start(width: 60, height: 20)
        let after = try waitFor("the reopened session") { $0.contains("Ctrl-R") && !$0.contains("Type a message") }
        func transcript(_ screen: String) -> [String] {
            // The message lines (the title, input and status lines differ in their figures).
            screen.split(separator: "\n").map(String.init).filter {
                $0.hasPrefix(" You") || $0.hasPrefix(" Assistant") || $0.hasPrefix("   ")
            }
        }
        XCTAssertEqual(transcript(after), transcript(before), "after:\n\(after)\nbefore:\n\(before)")
        let file = home.appendingPathComponent("data/rwkv-chat/sessions/e2e.rwkvsession")
        let (_, info) = try CLI.run(["session", "info", file.path])
        XCTAssertTrue(info.contains("\"Long one\"") && info.contains("(cancelled)"), info)
        try tmux("send-keys", "-t", "chat", "C-q")
        try waitFor("the second exit") { $0.contains("EXIT=0") }
    }

    func testHugePasteArrivesAsTextAndTinyTerminalShowsAMessage() throws {
        try start(width: 80, height: 24)
        try waitFor("the empty chat") { $0.contains("Type a message") }
        // 10,000 characters with newlines, pasted with bracketed-paste markers.
        let text = String(repeating: "pasted line with words 0123456789\n", count: 300).prefix(10_000)
        let file = home.appendingPathComponent("paste.txt")
        try String(text).write(to: file, atomically: true, encoding: .utf8)
        try tmux("load-buffer", file.path)
        try tmux("paste-buffer", "-p", "-t", "chat")
        let s = try waitFor("the pasted text in the input box") { $0.contains("pasted line with words") }
        XCTAssertFalse(s.contains("Assistant"), "a paste must never send:\n\(s)")
        try tmux("resize-window", "-t", "chat", "-x", "30", "-y", "8")
        try waitFor("the too-small message") { $0.contains("Terminal too small") }
        try tmux("resize-window", "-t", "chat", "-x", "80", "-y", "24")
        try waitFor("the chat again") { $0.contains("pasted line") }
        try tmux("send-keys", "-t", "chat", "C-q")
        try waitFor("the exit") { $0.contains("EXIT=0") }
    }

    /// The pid of `rwkv-chat` inside the pane (the pane's shell is its parent).
    func chatPID() throws -> Int32 {
        let shell = try tmux("display-message", "-p", "-t", "chat", "#{pane_pid}").trimmingCharacters(
            in: .whitespacesAndNewlines)
        let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
        guard let pid = children.split(separator: " ").compactMap({ Int32($0) }).first else {
            throw CLIError(message: "no rwkv-chat process under the pane's shell \(shell)")
        }
        return pid
    }

    func testSigtermSavesAndRestoresAndACrashStillRestoresTheTerminal() throws {
        try start()
        try tmux("send-keys", "-t", "chat", "Save me", "Enter")
        _ = try waitIdle()
        try tmux("send-keys", "-t", "chat", "unsent draft")
        kill(try chatPID(), SIGTERM)
        let s = try waitFor("the exit after SIGTERM") { $0.contains("EXIT=") }
        XCTAssertTrue(s.contains("EXIT=0"), s)
        XCTAssertFalse(s.contains("rwkv-chat ·"), "the alternate screen is gone:\n\(s)")
        let saved = home.appendingPathComponent("data/rwkv-chat/sessions/e2e.rwkvsession")
        XCTAssertTrue(FileManager.default.fileExists(atPath: saved.path))

        // A crash (SIGSEGV) still hands the terminal back: the shell's line is visible again.
        try tmux("kill-session", "-t", "chat")
        try start()
        kill(try chatPID(), SIGSEGV)
        let crashed = try waitFor("the exit after SIGSEGV") { $0.contains("EXIT=") }
        XCTAssertTrue(crashed.contains("EXIT=139"), crashed)
        XCTAssertFalse(crashed.contains("rwkv-chat ·"), "the alternate screen is gone:\n\(crashed)")
        // The session from before the crash is intact.
        let reopened = try SessionSummary.turns(saved)
        XCTAssertEqual(reopened, 1)
    }

    func testFirstRunOffersOneKeyPullAndFallsBackToTheDemoModelOffline() throws {
        // No --model and nothing installed: the first-run screen. The network is cut with
        // an unusable proxy, so `p` fails cleanly and the demo model takes over.
        let command =
            "env \(environment) https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 TERM=xterm-256color \(CLI.binary.path); echo EXIT=$?; sleep 60"
        try tmux("new-session", "-d", "-s", "chat", "-x", "100", "-y", "30", command)
        try waitFor("the first-run screen") { $0.contains("Welcome to rwkv-chat") }
        try tmux("send-keys", "-t", "chat", "p")
        let failed = try waitFor("the failed download") { $0.contains("Starting with the demo model instead") }
        XCTAssertTrue(failed.contains("check the network connection"), failed)
        try tmux("send-keys", "-t", "chat", "Enter")
        let s = try waitFor("the demo chat") { $0.contains("Type a message") && $0.contains("demo model") }
        XCTAssertTrue(s.contains("rwkv7-demo-byte.pth"), s)
        let models = home.appendingPathComponent("data/rwkv-chat/models")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: models.path)) ?? []
        XCTAssertTrue(left.allSatisfy { $0.hasSuffix(".partial") }, "no file under a model's name: \(left)")
        try tmux("send-keys", "-t", "chat", "C-q")
        try waitFor("the exit") { $0.contains("EXIT=0") }
    }
}

/// Reads a session file's number of user messages through the CLI (`session info`).
enum SessionSummary {
    static func turns(_ url: URL) throws -> Int {
        let (code, out) = try CLI.run(["session", "info", url.path])
        guard code == 0 else { throw CLIError(message: "session info failed: \(out)") }
        return out.components(separatedBy: "\n").filter { $0.contains(" user \"") }.count
    }
}
