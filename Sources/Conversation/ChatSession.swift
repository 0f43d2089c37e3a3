import Foundation
import RWKV

/// A conversation with a model: the tree of turns, their snapshots, and every operation on them.
///
/// Each operation starts from a snapshot and never replays history that has one:
/// `send` prefills only the new message, `regenerate` and `edit` start from the
/// parent's snapshot, `rewind` and `select` only move the cursor. Snapshots beyond
/// the memory budget are dropped from interior nodes and recomputed exactly, when
/// needed, from the nearest ancestor that has one (see `ChatSession+Snapshots`).
public final class ChatSession {
    /// The model that computes the states.
    public let model: Model
    /// The tokenizer that made every token id in the tree.
    public let tokenizer: Tokenizer
    /// The framing.
    public private(set) var template: ChatTemplate
    /// The turns.
    public internal(set) var tree: ConversationTree
    /// Sampling for new replies (starts as the template's recommendation).
    public var sampling: SamplingSettings
    /// The session seed; each reply's seed is derived from it and the reply's id.
    public var seed: UInt64
    /// The most tokens one reply may have before it stops with `.length`.
    public var maxTokens: Int
    /// Memory allowed for snapshots, in bytes.
    public var snapshotBudget: Int {
        didSet { enforceBudget() }
    }
    /// Where the session is saved (autosave target), if anywhere.
    public var fileURL: URL?
    /// True when the tree changed since the last save or load.
    public internal(set) var isDirty = false
    /// Prefill speed of the last message, tokens per second.
    public internal(set) var lastPrefillTokensPerSecond: Double = 0
    /// Generation speed of the last reply, tokens per second.
    public internal(set) var lastGenerationTokensPerSecond: Double = 0

    /// Snapshots held in memory, by node.
    public internal(set) var snapshots: [NodeID: Snapshot] = [:]
    // Token ids exempt from penalty counting (whitespace and digits), computed once.
    lazy var uncountedTokens: Set<Int> = {
        var set = Set<Int>()
        for t in 0..<tokenizer.vocabularySize {
            if let b = tokenizer.bytes(of: t), let s = String(validating: b, as: UTF8.self),
                " \t0123456789".contains(s)
            {
                set.insert(t)
            }
        }
        return set
    }()

    /// Starts a new conversation: feeds the template's preamble (or takes its state from
    /// `personaCache`) and keeps its snapshot at the root. `initialState` replaces the
    /// model's zero state, e.g. with a state-tuned one.
    public init(
        model: Model, tokenizer: Tokenizer, template: ChatTemplate = .default, seed: UInt64 = 42,
        maxTokens: Int = 500, snapshotBudget: Int = 512 << 20, initialState: State? = nil,
        personaCache: PersonaCache? = nil
    ) throws {
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.sampling = template.sampling
        self.seed = seed
        self.maxTokens = maxTokens
        self.snapshotBudget = snapshotBudget
        let preamble = template.preamble()
        let tokens = tokenizer.encode(preamble)
        tree = ConversationTree(
            root: Turn(
                id: 0, parent: nil, role: .persona, text: preamble, tokens: tokens,
                created: Date().timeIntervalSince1970))
        var state = initialState ?? model.initialState()
        guard state.layout == model.stateLayout else {
            throw ConversationError("the initial state does not fit this model")
        }
        // The persona is read once per model and template: later chats take its state
        // from the cache. A custom initial state (state tuning) is not cached.
        let cache = initialState == nil && !tokens.isEmpty ? personaCache : nil
        if let cached = cache?.load(model: model, tokenizer: tokenizer, tokens: tokens) {
            snapshots[tree.root] = cached
        } else {
            let logits = tokens.isEmpty ? [] : try model.sequence(tokens, state: &state)
            let snap = Snapshot(state: state, logits: logits, tokenCount: tokens.count)
            snapshots[tree.root] = snap
            cache?.store(snap, model: model, tokenizer: tokenizer, tokens: tokens)
        }
        isDirty = true
    }

    /// Rebuilds a session from loaded parts (used by `SessionFile`); performs no evaluation.
    init(
        model: Model, tokenizer: Tokenizer, template: ChatTemplate, tree: ConversationTree, sampling: SamplingSettings,
        seed: UInt64, maxTokens: Int, snapshotBudget: Int, snapshots: [NodeID: Snapshot]
    ) {
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.tree = tree
        self.sampling = sampling
        self.seed = seed
        self.maxTokens = maxTokens
        self.snapshotBudget = snapshotBudget
        self.snapshots = snapshots
    }

    /// The active node.
    public var cursor: NodeID { tree.cursor }

    // MARK: - Operations

    /// Sends a user message from the active node and generates the reply; returns the reply's id.
    ///
    /// `onText` receives the reply's text as it grows (never a broken character) and
    /// returns false to cancel; a cancelled reply is kept, marked `.cancelled`.
    @discardableResult
    public func send(_ text: String, onText: (String) -> Bool = { _ in true }) throws -> NodeID {
        let from = try tree.node(cursor)
        guard from.role != .user else {
            throw ConversationError("the active node is a user message: regenerate its reply or edit it")
        }
        return try addUserMessage(text, under: from.id, onText: onText)
    }

    /// A new reply to the same message as `reply`, from the message's snapshot (any reply, not only the last).
    @discardableResult
    public func regenerate(_ reply: NodeID, onText: (String) -> Bool = { _ in true }) throws -> NodeID {
        let node = try tree.node(reply)
        guard node.role == .assistant, let parent = node.parent else {
            throw ConversationError("node \(reply) is not a reply")
        }
        return try generateReply(under: parent, onText: onText)
    }

    /// A new sibling of user message `message` with `text`, and its reply; the original branch stays.
    @discardableResult
    public func edit(_ message: NodeID, text: String, onText: (String) -> Bool = { _ in true }) throws -> NodeID {
        let node = try tree.node(message)
        guard node.role == .user, let parent = node.parent else {
            throw ConversationError("node \(message) is not a user message")
        }
        return try addUserMessage(text, under: parent, onText: onText)
    }

    /// Extends a reply that stopped at the length limit (or was cancelled).
    ///
    /// A reply with no children grows in place; one that the conversation already
    /// continued from gets an extended copy as a new sibling, so nothing is lost.
    @discardableResult
    public func continueReply(_ reply: NodeID, onText: (String) -> Bool = { _ in true }) throws -> NodeID {
        let node = try tree.node(reply)
        guard node.role == .assistant else { throw ConversationError("node \(reply) is not a reply") }
        guard node.finish == .length || node.finish == .cancelled else {
            throw ConversationError(
                "reply \(reply) is complete; only a reply cut by the length limit or cancelled can be continued")
        }
        let start = try snapshot(for: reply)
        let target: NodeID
        if node.children.isEmpty {
            target = reply
        } else {
            // Copy the reply as a sibling that ends where it did, then extend the copy.
            target = tree.add(.assistant, text: node.text, tokens: node.tokens, under: node.parent!, time: now())
            tree.update(target) {
                $0.sampling = node.sampling
                $0.seed = node.seed
                $0.finish = node.finish
            }
        }
        let seedHere = SeededGenerator.mix(seed, UInt64(target) | UInt64(node.tokens.count) << 32)
        let rawSoFar = (template.framed && !node.text.isEmpty ? " " : "") + node.text
        let result = generate(from: start, seed: seedHere, priorText: rawSoFar, onText: onText)
        tree.update(target) {
            $0.tokens += result.tokens
            $0.text = result.text
            $0.finish = result.finish
            $0.generationSeconds += result.seconds
        }
        snapshots[target] = result.snapshot
        tree.moveCursor(to: target)
        changed()
        return target
    }

    /// Moves the cursor back to `node` (an ancestor of the active node); the next message branches from there.
    /// A user message cannot be a branch point for a new message, so rewinding to one goes to its parent.
    public func rewind(to node: NodeID) throws {
        let n = try tree.node(node)
        guard tree.isAncestor(node, of: cursor) else {
            throw ConversationError("node \(node) is not on the active path; use select to switch branches")
        }
        tree.moveCursor(to: n.role == .user ? n.parent! : node)
        changed()
    }

    /// Makes the branch through `node` active, with the cursor at that branch's last-visited tip.
    public func select(_ node: NodeID) throws {
        _ = try tree.node(node)
        tree.moveCursor(to: tree.tip(from: node))
        changed()
    }

    /// Deletes `node` and its subtree (not the root). The cursor moves to the parent if it was inside.
    public func delete(_ node: NodeID) throws {
        for id in try tree.removeSubtree(node) { snapshots[id] = nil }
        tree.moveCursor(to: tree.cursor)
        changed()
    }

    /// Marks or unmarks `node`.
    public func bookmark(_ node: NodeID, _ on: Bool = true) throws {
        _ = try tree.node(node)
        tree.update(node) { $0.bookmarked = on }
        changed()
    }

    /// Switches the template used for later messages (the root's persona stays as it was fed).
    public func setTemplate(_ t: ChatTemplate) {
        template = t
        changed()
    }

    /// Everything fed to the model from the start to the end of `node`, decoded: what that node's state has seen.
    public func provenance(_ node: NodeID) throws -> String {
        _ = try tree.node(node)
        let tokens = tree.path(to: node).flatMap { tree[$0]?.tokens ?? [] }
        return String(decoding: tokenizer.decodeBytes(tokens), as: UTF8.self)
    }

    // MARK: - Internals

    func now() -> Double { Date().timeIntervalSince1970 }

    func changed() {
        isDirty = true
        enforceBudget()
    }

    private func addUserMessage(_ text: String, under parent: NodeID, onText: (String) -> Bool) throws -> NodeID {
        let normalized = template.framed ? ChatTemplate.normalize(text) : text
        guard !normalized.isEmpty else { throw ConversationError("the message is empty") }
        var snap = try snapshot(for: parent)
        let tokens = tokenizer.encode(template.userTurn(text))
        let started = Date()
        snap.logits = try model.sequence(tokens, state: &snap.state)
        snap.tokenCount += tokens.count
        let seconds = Date().timeIntervalSince(started)
        lastPrefillTokensPerSecond = Double(tokens.count) / max(seconds, 1e-9)
        let user = tree.add(.user, text: normalized, tokens: tokens, under: parent, time: now())
        tree.update(user) { $0.prefillSeconds = seconds }
        snapshots[user] = snap
        tree.moveCursor(to: user)
        return try generateReply(under: user, onText: onText)
    }

    private func generateReply(under user: NodeID, onText: (String) -> Bool) throws -> NodeID {
        let start = try snapshot(for: user)
        let reply = tree.add(.assistant, text: "", tokens: [], under: user, time: now())
        let replySeed = SeededGenerator.mix(seed, UInt64(reply))
        let result = generate(from: start, seed: replySeed, priorText: "", onText: onText)
        tree.update(reply) {
            $0.tokens = result.tokens
            $0.text = result.text
            $0.finish = result.finish
            $0.sampling = sampling
            $0.seed = replySeed
            $0.generationSeconds = result.seconds
        }
        snapshots[reply] = result.snapshot
        tree.moveCursor(to: reply)
        changed()
        return reply
    }
}
