import ArgumentParser
import ChatUI
import Conversation
import Dispatch
import Foundation
import Kernels
import RWKV

/// `rwkv-chat` (or `rwkv-chat chat`): the full-screen chat.
struct ChatScreenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "The full-screen chat (the default when no subcommand is given).",
        discussion: """
            Keys: Enter sends, Alt-Enter or Ctrl-J adds a line, Esc stops a reply, Ctrl-R regenerates,
            Ctrl-E edits, Alt-←/→ switches branches, Alt-↑/↓ selects messages, Ctrl-Z rewinds, Ctrl-T
            shows the tree, Ctrl-O the saved sessions, Ctrl-S saves as, Ctrl-N starts a new chat, Ctrl-Q
            quits, F1 lists everything. The session is saved after every reply (new sessions go to the
            per-user sessions directory) and when you quit.
            """)

    @Option(name: .long, help: "Model file (.pth, .safetensors, rwkv.cpp .bin or .gguf).")
    var model: String?

    @Option(name: .long, help: "Vocabulary file, or 'bytes'. Default: chosen from the model.")
    var vocab: String?

    @Option(name: .long, help: "Threads for matrix products. Default: all cores.")
    var threads: Int?

    @Option(name: .long, help: "Session file, or a bare name kept in the per-user sessions directory.")
    var session: String?

    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        guard let model else {
            try NoModelScreen.show()
            return
        }
        let loaded = try Model.load(path: model, threads: threads ?? ThreadPool.availableCores)
        let tokenizer = try TokenizerChoice.tokenizer(
            vocabPath: vocab, vocabularySize: loaded.config.vocabulary, modelPath: loaded.path,
            embedded: loaded.tensors.embeddedTokenizer)
        let library = TemplateLibrary(directories: bundledPromptDirectories())
        let url = session.map { SessionFile.resolve($0) }
        let chat: ChatSession
        if let url, FileManager.default.fileExists(atPath: url.path) {
            // A file that fails to load is reported before the screen starts and never overwritten.
            chat = try SessionFile.load(url, model: loaded, tokenizer: tokenizer)
            if let p = sampling.prompt { chat.setTemplate(try library.template(p)) }
            if let s = sampling.seed { chat.seed = s }
        } else {
            chat = try ChatSession(
                model: loaded, tokenizer: tokenizer, template: try library.template(sampling.prompt ?? "default"),
                seed: sampling.seed ?? 42, personaCache: .standard)
            chat.fileURL = url
        }
        sampling.apply(to: &chat.sampling)
        if let n = sampling.maxTokens { chat.maxTokens = max(1, n) }
        let controller = ChatController(session: chat, templates: library, personaCache: .standard)

        let terminal = try CursesTerminal()
        let precision = loaded.tensors["blocks.0.ffn.key.weight"]?.type.description ?? "?"
        let label = "\((model as NSString).lastPathComponent) · \(precision)"
        let app = ChatApp(
            controller: controller, terminal: terminal, modelLabel: label,
            autosaveDirectory: SessionFile.defaultDirectory, keys: try UserConfig.keyMap())
        // Termination signals become an action: the loop stops the reply, saves and restores the terminal.
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGHUP, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { app.post(.terminate) }
            source.resume()
            sources.append(source)
        }
        app.run()
        _ = sources
    }
}

/// What `rwkv-chat` shows when it has no model to chat with.
enum NoModelScreen {
    static let text = """
        No model to chat with yet
        rwkv-chat runs RWKV language models on your CPU. Start it with a model file:

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
        let terminal = try CursesTerminal()
        var state = AppState(width: terminal.size.width, height: terminal.size.height, modelLabel: "")
        state.mode = .noModel(text)
        terminal.draw(Renderer.render(state))
        while true {
            guard let input = terminal.read(timeoutMs: 1000) else { continue }
            if case .resize(let w, let h) = input {
                _ = state.reduce(.resize(width: w, height: h))
                terminal.draw(Renderer.render(state))
                continue
            }
            break
        }
        terminal.shutdown()
    }
}

/// The per-user config file: `$XDG_CONFIG_HOME/rwkv-chat/config.json`.
enum UserConfig {
    static var url: URL {
        let env = ProcessInfo.processInfo.environment
        let base =
            env["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".config")
        return base.appendingPathComponent("rwkv-chat/config.json")
    }

    /// The key map with the config file's `"keys"` overrides (`{"keys": {"regenerate": "ctrl-g"}}`).
    static func keyMap() throws -> KeyMap {
        var map = KeyMap.standard
        guard let data = FileManager.default.contents(atPath: url.path) else { return map }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("\(url.path): not a JSON object")
        }
        guard let keys = json["keys"] else { return map }
        guard let table = keys as? [String: Any] else {
            throw ValidationError("\(url.path): \"keys\" must be an object")
        }
        var overrides: [String: [String]] = [:]
        for (name, value) in table {
            if let s = value as? String {
                overrides[name] = [s]
            } else if let list = value as? [String] {
                overrides[name] = list
            } else {
                throw ValidationError("\(url.path): keys.\(name) must be a key name or a list of them")
            }
        }
        let problems = map.apply(overrides)
        guard problems.isEmpty else { throw ValidationError("\(url.path): " + problems.joined(separator: "; ")) }
        return map
    }
}
