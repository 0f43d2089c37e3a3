import ArgumentParser
import Conversation
import Foundation
import RWKV

/// `rwkv-chat run`: the headless chat for scripts, pipes and tests.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Chat without a screen: each stdin line is a message or a /command.",
        discussion: """
            Each input line is a user message (the two characters \\n stand for a newline) or a
            command: /regen /edit TEXT /continue /rewind [N] /goto NODE /siblings /next /prev /tree
            /bookmark [NODE] /delete NODE /save [PATH] /load PATH /export PATH /set KNOB VALUE
            /prompt NAME /info /help /quit. Replies stream to stdout, each followed by a blank
            line; --json prints one JSON object per event instead. With --session the session is
            loaded if the file exists, saved after every reply and at the end (also on SIGTERM,
            SIGHUP and Ctrl-C). Ctrl-C during a reply cancels just that reply.
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    @Option(name: .long, help: "Session file, or a bare name kept in the per-user sessions directory.")
    var session: String?

    @Flag(name: .long, help: "If the session was made with another model, rebuild its states on this one.")
    var replay = false

    @Flag(name: .long, help: "Print one JSON object per event.")
    var json = false

    @Option(
        name: .customLong("state"),
        help: "State-tuning file (.pth or .safetensors with blocks.N.att.time_state) to start a new session from.")
    var stateFile: String?

    func run() throws {
        let model = try options.load()
        let tokenizer = try options.tokenizer(for: model)
        let library = TemplateLibrary(directories: bundledPromptDirectories())
        let url = session.map { SessionFile.resolve($0) }
        let chat: ChatSession
        if let url, FileManager.default.fileExists(atPath: url.path) {
            // A file that fails to load is reported and never overwritten.
            chat = try SessionFile.load(url, model: model, tokenizer: tokenizer, replay: replay)
            if let p = sampling.prompt { chat.setTemplate(try library.template(p)) }
            if let s = sampling.seed { chat.seed = s }
        } else {
            let template = try library.template(sampling.prompt ?? "default")
            chat = try ChatSession(
                model: model, tokenizer: tokenizer, template: template, seed: sampling.seed ?? 42,
                initialState: try stateFile.map { try model.initialState(fromStateTuning: $0) },
                personaCache: .standard)
            chat.fileURL = url
        }
        sampling.apply(to: &chat.sampling)
        if let n = sampling.maxTokens { chat.maxTokens = max(1, n) }

        let controller = ChatController(session: chat, templates: library, personaCache: .standard)
        let printer = EventPrinter(json: json)
        let guardian = SignalGuardian()
        let save: () -> Void = {
            let s = controller.session
            guard let target = s.fileURL else { return }
            do {
                try SessionFile.save(s, to: target)
            } catch {
                printer.print(.error("\(error)"))
            }
        }
        guardian.install(onTerminate: save)
        while let line = readLine(strippingNewline: true) {
            guardian.beginCommand()
            let keepGoing = controller.handle(line) { event in
                printer.print(event)
                if case .text = event { return !guardian.cancelRequested }
                return true
            }
            let finishedReply = controller.session.isDirty
            if finishedReply && url != nil { save() }
            guardian.endCommand()
            if !keepGoing { break }
        }
        guardian.beginCommand()
        if url != nil && controller.session.isDirty { save() }
    }
}
