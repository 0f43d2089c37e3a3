import ArgumentParser
import ChatUI
import Conversation
import Dispatch
import Foundation
import Kernels
import ModelStore
import RWKV

/// `rwkv-chat` (or `rwkv-chat chat`): the full-screen chat.
struct ChatScreenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "The full-screen chat (the default when no subcommand is given).",
        discussion: """
            Keys: Enter sends, Alt-Enter or Ctrl-J adds a line, Esc stops a reply, Ctrl-R regenerates, \
            Ctrl-E edits, Alt-←/→ switches branches, Alt-↑/↓ selects messages, Ctrl-Z rewinds, Ctrl-T \
            shows the tree, Ctrl-O the saved sessions, Ctrl-S saves as, Ctrl-N starts a new chat, Ctrl-Q \
            quits, F1 lists everything. The session is saved after every reply (new sessions go to the \
            per-user sessions directory) and when you quit.
            """)

    @Option(
        name: .long,
        help:
            "Model file (.pth, .safetensors, rwkv.cpp .bin or .gguf) or catalog name. Default: the last model used, else the installed catalog default, else the demo model."
    )
    var model: String?

    @Option(name: .long, help: "Vocabulary file, or 'bytes'. Default: chosen from the model.")
    var vocab: String?

    @Option(name: .long, help: "Threads for matrix products. Default: all cores.")
    var threads: Int?

    @Option(name: .long, help: "Convert the large matrices at load: fp32, fp16, bf16, q8_0, q5_1, q5_0, q4_1, q4_0.")
    var precision: String?

    @Option(name: .long, help: "Session file, or a bare name kept in the per-user sessions directory.")
    var session: String?

    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        let config = try UserConfig.load()
        guard var choice = try ModelChoice.resolve(flag: model, config: config) else {
            try NoModelScreen.show()
            return
        }
        if choice.firstRun {
            // No real model yet: offer to pull one (one key) or to try the demo model.
            switch try FirstRunScreen.ask() {
            case .quit: return
            case .demo: break
            case .pull:
                do {
                    let url = try Pull.fetch(nil)
                    choice = ModelChoice.Choice(path: url.path, source: "pulled", isDemo: false, firstRun: false)
                } catch {
                    FileHandle.standardError.write(
                        Data("rwkv-chat: \(error)\nStarting with the demo model instead (press Enter)…\n".utf8))
                    _ = readLine()
                }
            }
        }
        let loaded = try Model.load(
            path: choice.path, threads: threads ?? config.threads ?? ThreadPool.availableCores,
            precision: try parsePrecision(precision))
        if !choice.isDemo { LastModel.record(URL(fileURLWithPath: choice.path)) }
        let tokenizer = try TokenizerChoice.tokenizer(for: loaded, vocabPath: vocab)
        let library = TemplateLibrary(directories: bundledPromptDirectories())
        let url = session.map { SessionFile.resolve($0) }
        let promptName = sampling.prompt ?? config.prompt
        let chat: ChatSession
        if let url, FileManager.default.fileExists(atPath: url.path) {
            // A file that fails to load is reported before the screen starts and never overwritten.
            chat = try SessionFile.load(url, model: loaded, tokenizer: tokenizer)
            if let p = promptName { chat.setTemplate(try library.template(p)) }
            if let s = sampling.seed { chat.seed = s }
        } else {
            chat = try ChatSession(
                model: loaded, tokenizer: tokenizer, template: try library.template(promptName ?? "default"),
                seed: sampling.seed ?? 42, personaCache: .standard)
            chat.fileURL = url
            config.apply(to: &chat.sampling)
        }
        sampling.apply(to: &chat.sampling)
        if let n = sampling.maxTokens ?? config.maxTokens { chat.maxTokens = max(1, n) }
        let controller = ChatController(session: chat, templates: library, personaCache: .standard)

        let keys = try config.keyMap()
        let terminal = try CursesTerminal(palette: try config.palette())
        let precision = loaded.tensors["blocks.0.ffn.key.weight"]?.type.description ?? "?"
        let label = "\((choice.path as NSString).lastPathComponent) · \(precision)"
        let app = ChatApp(
            controller: controller, terminal: terminal, modelLabel: label,
            autosaveDirectory: SessionFile.defaultDirectory, keys: keys, isDemoModel: choice.isDemo)
        // Termination signals become an action: the loop stops the reply, saves and restores the terminal.
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGHUP, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { app.post(Action.terminate) }
            source.resume()
            sources.append(source)
        }
        app.run()
        _ = sources
    }
}

/// The first-run question: pull a real model, or try the demo model.
enum FirstRunScreen {
    enum Answer { case pull, demo, quit }

    static let text = """
        Welcome to rwkv-chat
        No RWKV model is installed yet. rwkv-chat runs RWKV language models on your CPU.

          p      download the default model, RWKV-7 G1a 0.1B (about 380 MB), and chat with it
          Enter  try the tiny built-in demo model (it knows the chat format, not much else)
          q      quit

        Later: `rwkv-chat pull NAME` fetches other models (`rwkv-chat models` lists them), and
        `rwkv-chat --model PATH` opens any .pth, .safetensors, rwkv.cpp .bin or GGUF file.
        """

    static func ask() throws -> Answer {
        guard isatty(STDIN_FILENO) != 0, isatty(STDOUT_FILENO) != 0 else { return .demo }
        return try MessageScreen.show(text) { input -> Answer? in
            switch input {
            case .key(.char("p")), .key(.char("P")), .text("p"), .text("P"): return .pull
            case .key(.enter): return .demo
            case .key(.char("q")), .key(.ctrl("q")), .key(.ctrl("c")), .key(.escape), .text("q"): return .quit
            default: return nil
            }
        }
    }
}

/// A full-screen message (the first-run and no-model screens): redrawn on resize until a key arrives.
enum MessageScreen {
    /// Shows `text` until `answer` maps an input (a key or typed text) to a result.
    static func show<Result>(_ text: String, answer: (TerminalInput) -> Result?) throws -> Result {
        let terminal = try CursesTerminal()
        defer { terminal.shutdown() }
        var state = AppState(width: terminal.size.width, height: terminal.size.height, modelLabel: "")
        state.mode = .noModel(text)
        terminal.draw(Renderer.render(state))
        while true {
            guard let input = terminal.read(timeoutMs: 1000) else { continue }
            if case .resize(let w, let h) = input {
                _ = state.reduce(.resize(width: w, height: h))
                terminal.draw(Renderer.render(state))
            } else if let result = answer(input) {
                return result
            }
        }
    }
}

/// What `rwkv-chat` shows when it has no model to chat with.
enum NoModelScreen {
    static let text = """
        No model to chat with yet
        rwkv-chat runs RWKV language models on your CPU. Download one with

            rwkv-chat pull

        or start it with a model file:

            rwkv-chat --model PATH

        It reads BlinkDL .pth files (with rwkv_vocab_v20230424.txt next to them), .safetensors,
        rwkv.cpp .bin and GGUF files. RWKV-7 chat models (G1) are at
        https://huggingface.co/BlinkDL/rwkv7-g1 — rwkv7-g1a-0.1b-20250728-ctx4096.pth is a good
        first download (about 380 MB).

        Press any key to quit.
        """

    static func show() throws {
        guard isatty(STDIN_FILENO) != 0, isatty(STDOUT_FILENO) != 0 else {
            throw ValidationError("no model: start the chat with --model PATH (see rwkv-chat --help)")
        }
        try MessageScreen.show(text) { _ in () }
    }
}
