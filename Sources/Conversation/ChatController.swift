import Foundation
import RWKV

/// Something the command layer reports while it works.
public enum ChatEvent: Equatable, Sendable {
    /// More reply text (complete characters only).
    case text(String)
    /// A reply finished.
    case reply(ReplySummary)
    /// Output of an informational command (`/tree`, `/info`, `/help`, …).
    case info(String)
    /// A command failed; the session is unchanged and goes on.
    case error(String)
    /// The session was written to this path.
    case saved(String)
    /// The user asked to quit.
    case quit
}

/// What the UI shows after a reply.
public struct ReplySummary: Equatable, Sendable {
    /// The reply node.
    public var node: NodeID
    /// Why it ended.
    public var finish: Turn.Finish
    /// Tokens generated.
    public var tokens: Int
    /// Prefill speed of the message before it, tokens/s.
    public var prefillTokensPerSecond: Double
    /// Generation speed, tokens/s.
    public var generationTokensPerSecond: Double
    /// The reply's full text.
    public var text: String
}

/// The command layer shared by the headless mode and the full-screen UI.
///
/// It owns the session, turns a `ChatCommand` into session operations, and reports
/// everything as `ChatEvent`s. A failing command reports `.error` and leaves the
/// session as it was, so an interactive user never loses work to a typo.
public final class ChatController {
    /// The conversation being driven.
    public private(set) var session: ChatSession
    /// Where templates are found for `/prompt`.
    public let templates: TemplateLibrary
    /// The persona cache `/new` starts conversations with.
    public var personaCache: PersonaCache?

    /// A controller for `session`.
    public init(session: ChatSession, templates: TemplateLibrary, personaCache: PersonaCache? = nil) {
        self.session = session
        self.templates = templates
        self.personaCache = personaCache
    }

    /// Parses and performs one input line. Returns false when the user asked to quit.
    ///
    /// `emit` receives every event; returning false from it while `.text` streams
    /// cancels the reply between two tokens.
    @discardableResult
    public func handle(_ line: String, emit: (ChatEvent) -> Bool) -> Bool {
        do {
            return perform(try ChatCommand.parse(line), emit: emit)
        } catch {
            _ = emit(.error("\(error)"))
            return true
        }
    }

    /// Performs one command. Returns false for `/quit`.
    @discardableResult
    public func perform(_ command: ChatCommand, emit: (ChatEvent) -> Bool) -> Bool {
        do {
            return try run(command, emit: emit)
        } catch {
            _ = emit(.error("\(error)"))
            return true
        }
    }

    private func reply(_ node: NodeID, _ emit: (ChatEvent) -> Bool) {
        guard let n = session.tree[node] else { return }
        _ = emit(
            .reply(
                ReplySummary(
                    node: node, finish: n.finish, tokens: n.tokens.count,
                    prefillTokensPerSecond: session.lastPrefillTokensPerSecond,
                    generationTokensPerSecond: session.lastGenerationTokensPerSecond, text: n.text)))
    }

    /// The last reply on the active path (the cursor, or its reply child if the cursor is a message).
    private func activeReply() throws -> NodeID {
        let n = try session.tree.node(session.cursor)
        guard n.role == .assistant else { throw ConversationError("there is no reply yet") }
        return n.id
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private func run(_ command: ChatCommand, emit: (ChatEvent) -> Bool) throws -> Bool {
        let stream: (String) -> Bool = { emit(.text($0)) }
        switch command {
        case .say(let text):
            reply(try session.send(text, onText: stream), emit)
        case .regenerate(let node):
            reply(try session.regenerate(try node ?? activeReply(), onText: stream), emit)
        case .edit(let node, let text):
            let message = try node ?? session.tree[try activeReply()]!.parent!
            reply(try session.edit(message, text: text, onText: stream), emit)
        case .continueReply:
            reply(try session.continueReply(try activeReply(), onText: stream), emit)
        case .rewind(let turns):
            let path = session.tree.activePath
            let replies = path.filter { session.tree[$0]?.role == .assistant }
            guard turns <= replies.count else {
                throw ConversationError("only \(replies.count) turns to rewind")
            }
            let target = turns == replies.count ? session.tree.root : replies[replies.count - 1 - turns]
            try session.rewind(to: target)
            _ = emit(.info("rewound to node \(target); the next message branches from there"))
        case .goto(let node):
            try session.select(node)
            _ = emit(.info("node \(session.cursor) is active"))
        case .siblings:
            let r = try activeReply()
            let (ids, index) = session.tree.siblings(of: r)
            let lines = ids.enumerated().map { i, id in
                "\(i == index ? ">" : " ")\(i + 1)/\(ids.count) node \(id): \(session.tree[id]!.text.prefix(60).replacingOccurrences(of: "\n", with: "⏎"))"
            }
            _ = emit(.info(lines.joined(separator: "\n")))
        case .next, .previous:
            let r = try activeReply()
            let (ids, index) = session.tree.siblings(of: r)
            let step = command == .next ? 1 : -1
            let target = ids[(index + step + ids.count) % ids.count]
            try session.select(target)
            _ = emit(.info("reply \(ids.firstIndex(of: target)! + 1)/\(ids.count) (node \(target))"))
        case .tree:
            _ = emit(.info(session.tree.outline().joined(separator: "\n")))
        case .bookmark(let node):
            let id = node ?? session.cursor
            let on = !(try session.tree.node(id).bookmarked)
            try session.bookmark(id, on)
            _ = emit(.info(on ? "bookmarked node \(id)" : "removed the bookmark of node \(id)"))
        case .delete(let node):
            try session.delete(node)
            _ = emit(.info("deleted node \(node) and its subtree"))
        case .save(let path):
            guard let url = path.map({ URL(fileURLWithPath: $0) }) ?? session.fileURL else {
                throw ConversationError("no session file yet: /save PATH")
            }
            try SessionFile.save(session, to: url)
            _ = emit(.saved(url.path))
        case .load(let path):
            let loaded = try SessionFile.load(
                URL(fileURLWithPath: path), model: session.model, tokenizer: session.tokenizer,
                snapshotBudget: session.snapshotBudget)
            session = loaded
            _ = emit(.info("loaded \(path): \(loaded.tree.nodes.count) nodes, active node \(loaded.cursor)"))
        case .export(let path):
            try session.export(to: URL(fileURLWithPath: path))
            _ = emit(.info("exported to \(path)"))
        case .set(let knob, let value):
            try set(knob, value)
            session.isDirty = true
            _ = emit(.info("\(knob) = \(value)"))
        case .prompt(let name):
            session.setTemplate(try templates.template(name))
            session.sampling = session.template.sampling
            session.isDirty = true
            _ = emit(.info("template \(session.template.name) for the next messages"))
        case .provenance(let node):
            _ = emit(.info(try session.provenance(node ?? session.cursor)))
        case .info:
            _ = emit(.info(info()))
        case .help:
            let lines = ChatCommand.catalog.map { "/\($0.name)\($0.args.isEmpty ? "" : " " + $0.args) — \($0.help)" }
            _ = emit(.info((["Type a message to send it (\\n for a newline)."] + lines).joined(separator: "\n")))
        case .new:
            let s = session
            let fresh = try ChatSession(
                model: s.model, tokenizer: s.tokenizer, template: s.template, seed: s.seed,
                maxTokens: s.maxTokens, snapshotBudget: s.snapshotBudget, personaCache: personaCache)
            fresh.sampling = s.sampling
            session = fresh
            _ = emit(.info("new conversation"))
        case .quit:
            _ = emit(.quit)
            return false
        }
        return true
    }

    private func set(_ knob: String, _ value: String) throws {
        func float() throws -> Float {
            guard let v = Float(value), v.isFinite else { throw ConversationError("\(knob) needs a number") }
            return v
        }
        func int() throws -> Int {
            guard let v = Int(value) else { throw ConversationError("\(knob) needs a whole number") }
            return v
        }
        var s = session.sampling
        switch knob {
        case "temperature", "temp": s.temperature = max(0, try float())
        case "top_p", "top-p", "topp": s.topP = min(1, max(0, try float()))
        case "top_k", "top-k", "topk": s.topK = max(0, try int())
        case "min_p", "min-p", "minp": s.minP = min(1, max(0, try float()))
        case "presence_penalty", "presence-penalty": s.presencePenalty = try float()
        case "frequency_penalty", "frequency-penalty": s.frequencyPenalty = try float()
        case "penalty_decay", "penalty-decay": s.penaltyDecay = try float()
        case "max_tokens", "max-tokens":
            let n = try int()
            guard n > 0 else { throw ConversationError("max_tokens must be positive") }
            session.maxTokens = n
        case "seed":
            guard let v = UInt64(value) else { throw ConversationError("seed needs a whole number ≥ 0") }
            session.seed = v
        default:
            throw ConversationError(
                "unknown setting '\(knob)' (temperature, top_p, top_k, min_p, presence_penalty, frequency_penalty, penalty_decay, max_tokens, seed)"
            )
        }
        session.sampling = s
    }

    /// Model, template, position and memory figures.
    public func info() -> String {
        let s = session
        let c = s.model.config
        let path = s.tree.activePath
        let tokens = (try? s.snapshot(for: s.cursor).tokenCount) ?? 0
        return """
            model: \((s.model.path as NSString).lastPathComponent) (RWKV v\(c.version.rawValue), \(c.layerCount) layers × \(c.embedding), fingerprint \(s.model.fingerprint))
            template: \(s.template.name) · seed \(s.seed) · max_tokens \(s.maxTokens)
            sampling: temperature \(s.sampling.temperature), top_p \(s.sampling.topP), top_k \(s.sampling.topK), min_p \(s.sampling.minP), presence \(s.sampling.presencePenalty), frequency \(s.sampling.frequencyPenalty), decay \(s.sampling.penaltyDecay)
            position: node \(s.cursor), depth \(path.count - 1), \(tokens) tokens in context, \(s.tree.nodes.count) nodes, \(s.tree.leaves.count) branch tips
            snapshots: \(s.snapshots.count) in memory, \(s.snapshotBytes / 1024) KiB of \(s.snapshotBudget / 1024) KiB
            file: \(s.fileURL?.path ?? "(not saved)")\(s.isDirty ? " (unsaved changes)" : "")
            """
    }
}
