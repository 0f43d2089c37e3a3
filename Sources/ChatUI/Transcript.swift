import Conversation
import Foundation

/// The transcript laid out in screen lines: role labels, wrapped text, thoughts, the streaming reply.
///
/// A pure function of the state and the width, shared by the renderer and by the
/// reducer (which needs line positions to scroll a selected message into view).
public enum Transcript {
    /// One screen line of the transcript.
    public struct Line: Equatable, Sendable {
        /// The text (already wrapped to the width).
        public var text: String
        /// How it is drawn.
        public var style: Style
        /// The message it belongs to (nil for the pending reply and spacing).
        public var node: NodeID?
        /// Text drawn after `text` in the accent style (sibling indicator, marks).
        public var accent = ""
    }

    /// Indentation of message text under its label.
    static let indent = 2

    /// The messages shown: the active path (without the persona), or the pending reply's base path.
    public static func messages(_ state: AppState) -> [NodeID] {
        guard let view = state.view else { return [] }
        let path = state.pending?.basePath ?? view.tree.activePath
        return path.filter { view.tree[$0]?.role != .persona }
    }

    /// The last lines of the transcript: whole messages from the bottom up until there are
    /// at least `atLeast` lines and `through` (if given) is included. `complete` is true
    /// when the top was reached. Laying out only what is on screen keeps a frame of a
    /// 500-turn conversation as cheap as one of a short chat.
    public static func lines(
        _ state: AppState, width: Int, atLeast: Int, through: NodeID?
    ) -> (lines: [Line], complete: Bool) {
        guard let view = state.view else { return ([], true) }
        let textWidth = max(width - indent - 1, 8)
        func body(_ text: String, style: Style, node: NodeID?) -> [Line] {
            DisplayWidth.wrap(DisplayWidth.sanitize(text), width: textWidth).map {
                Line(text: String(repeating: " ", count: indent) + $0, style: style, node: node)
            }
        }
        var blocks: [[Line]] = []  // bottom first
        var count = 0
        var found = through == nil
        if let p = state.pending {
            var block: [Line] = []
            if let user = p.userText {
                block.append(Line(text: "You", style: .userLabel, node: nil))
                block += body(user, style: .normal, node: nil)
                block.append(Line(text: "", style: .normal, node: nil))
            }
            block.append(Line(text: "Assistant", style: .assistantLabel, node: nil, accent: " ⋯"))
            for (chunk, isThought) in thoughts(p.prefix + p.text + "▍", expanded: state.showThinking) {
                block += body(chunk, style: isThought ? .dim : .normal, node: nil)
            }
            blocks.append(block)
            count += block.count
        }
        for id in messages(state).reversed() {
            if count >= atLeast && found { return (blocks.reversed().flatMap { $0 }, false) }
            guard let turn = view.tree[id] else { continue }
            let (sibs, index) = view.tree.siblings(of: id)
            let key = BlockKey(
                node: id, width: width, expanded: state.showThinking, text: turn.text.hashValue, role: turn.role,
                finish: turn.finish, bookmarked: turn.bookmarked, sibling: index, siblings: sibs.count)
            let block: [Line]
            if let cached = BlockCache.shared.get(key) {
                block = cached
            } else {
                var accent = sibs.count > 1 ? " ‹ \(index + 1)/\(sibs.count) ›" : ""
                if turn.bookmarked { accent += " ★" }
                switch turn.finish {
                case .cancelled: accent += " (cancelled)"
                case .length: accent += " (cut at the length limit)"
                default: break
                }
                let label = turn.role == .user ? "You" : "Assistant"
                var fresh = [
                    Line(
                        text: label, style: turn.role == .user ? .userLabel : .assistantLabel, node: id, accent: accent)
                ]
                let parts =
                    turn.role == .assistant ? thoughts(turn.text, expanded: state.showThinking) : [(turn.text, false)]
                for (chunk, isThought) in parts { fresh += body(chunk, style: isThought ? .dim : .normal, node: id) }
                fresh.append(Line(text: "", style: .normal, node: nil))
                BlockCache.shared.set(key, fresh)
                block = fresh
            }
            blocks.append(block)
            count += block.count
            if id == through { found = true }
        }
        if let root = view.tree[view.tree.root], !root.text.isEmpty {
            let first = root.text.split(separator: "\n").first.map(String.init) ?? ""
            blocks.append([
                Line(
                    text: DisplayWidth.truncate(
                        "persona · \(view.templateName) · \(DisplayWidth.sanitize(first))", width: width - 1),
                    style: .dim, node: nil),
                Line(text: "", style: .normal, node: nil),
            ])
        }
        return (blocks.reversed().flatMap { $0 }, true)
    }

    /// A reply split into its `<think>…</think>` part and the rest; the thought is
    /// replaced by a one-line summary unless `expanded`. An unclosed think (a reply
    /// still thinking) counts as a thought up to the end.
    static func thoughts(_ text: String, expanded: Bool) -> [(String, Bool)] {
        guard let open = text.range(of: "<think>") else { return [(text, false)] }
        let before = String(text[..<open.lowerBound])
        let afterOpen = text[open.upperBound...]
        let close = afterOpen.range(of: "</think>")
        let thought = String(close.map { afterOpen[..<$0.lowerBound] } ?? afterOpen)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let rest = close.map { String(afterOpen[$0.upperBound...]).trimmingCharacters(in: .newlines) } ?? ""
        var out: [(String, Bool)] = []
        if !before.trimmingCharacters(in: .whitespaces).isEmpty { out.append((before, false)) }
        if thought.isEmpty {
            // An empty think block (the "no thinking" framing) is not worth a line.
        } else if expanded {
            out.append(("thinking:\n" + thought, true))
        } else {
            let lines = thought.split(separator: "\n", omittingEmptySubsequences: false).count
            out.append(("▸ thought for \(lines) line\(lines == 1 ? "" : "s") (F2 shows it)", true))
        }
        if !rest.isEmpty || out.isEmpty { out.append((rest, false)) }
        return out
    }

    /// The first line index of `node`'s label in `lines`.
    static func firstLine(of node: NodeID, in lines: [Line]) -> Int? {
        lines.firstIndex { $0.node == node }
    }
}

/// What a message's laid-out lines depend on (its text by hash).
struct BlockKey: Hashable {
    var node: NodeID, width: Int, expanded: Bool, text: Int, role: Turn.Role
    var finish: Turn.Finish, bookmarked: Bool, sibling: Int, siblings: Int
}

/// Laid-out message blocks, so scrolling through a long conversation wraps each
/// message once rather than on every frame. Invisible to callers: a key stands for
/// everything the lines depend on, so a hit returns exactly what laying out again
/// would. Bounded: it starts over past 20,000 blocks.
final class BlockCache: @unchecked Sendable {
    static let shared = BlockCache()
    private let lock = NSLock()
    private var blocks: [BlockKey: [Transcript.Line]] = [:]

    func get(_ key: BlockKey) -> [Transcript.Line]? {
        lock.lock()
        defer { lock.unlock() }
        return blocks[key]
    }

    func set(_ key: BlockKey, _ lines: [Transcript.Line]) {
        lock.lock()
        defer { lock.unlock() }
        if blocks.count > 20_000 { blocks.removeAll(keepingCapacity: true) }
        blocks[key] = lines
    }
}
