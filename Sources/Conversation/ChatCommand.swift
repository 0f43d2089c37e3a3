import Foundation

/// One thing a user asks of a chat, typed as a line: a message or a `/command`.
///
/// The headless `run` mode and the full-screen UI parse input with this one parser,
/// so every command behaves the same in both and can be tested without a terminal.
public enum ChatCommand: Equatable, Sendable {
    /// A user message.
    case say(String)
    /// `/regen [NODE]`: a new reply to the message of reply NODE (default: the last reply).
    case regenerate(NodeID?)
    /// `/edit [#NODE] TEXT`: rewrite user message NODE (default: the last one) as a new branch and reply.
    case edit(NodeID?, String)
    /// `/continue`: extend the last reply.
    case continueReply
    /// `/rewind [N]`: go back N turns (default 1).
    case rewind(Int)
    /// `/goto NODE`: make a node active.
    case goto(NodeID)
    /// `/siblings`: list the alternatives of the active reply.
    case siblings
    /// `/next`: switch to the next sibling of the active reply.
    case next
    /// `/prev`: switch to the previous sibling of the active reply.
    case previous
    /// `/tree`: print the whole tree.
    case tree
    /// `/bookmark [NODE]`: toggle a bookmark (default: the active node).
    case bookmark(NodeID?)
    /// `/delete NODE`: delete a node and its subtree.
    case delete(NodeID)
    /// `/save [PATH]`: save the session.
    case save(String?)
    /// `/load PATH`: open a saved session.
    case load(String)
    /// `/export PATH`: write the conversation as Markdown (.md) or JSON (.json).
    case export(String)
    /// `/set KNOB VALUE`: change a sampling setting or the reply length.
    case set(String, String)
    /// `/prompt NAME`: switch the template for later messages.
    case prompt(String)
    /// `/provenance [NODE]`: exactly what the model has read up to a node (default: the active one).
    case provenance(NodeID?)
    /// `/info`: model, session and memory figures.
    case info
    /// `/help`: the command list.
    case help
    /// `/new`: start a new conversation with the same model and template.
    case new
    /// `/quit`: end the session (saving it if it has a file).
    case quit

    /// Name, argument synopsis and one-line help of every command, for `/help` and completion.
    public static let catalog: [(name: String, args: String, help: String)] = [
        ("regen", "[NODE]", "new reply to the last message, or to reply NODE's message (a sibling branch)"),
        ("edit", "[#NODE] TEXT", "rewrite the last message (or message NODE) as a new branch and reply"),
        ("continue", "", "extend a reply cut by the length limit"),
        ("rewind", "[N]", "go back N turns (default 1); the next message branches there"),
        ("goto", "NODE", "make a node active (see /tree)"),
        ("siblings", "", "list the alternatives of the active reply"),
        ("next", "", "switch to the next alternative reply"),
        ("prev", "", "switch to the previous alternative reply"),
        ("tree", "", "show the conversation tree"),
        ("bookmark", "[NODE]", "toggle a bookmark"),
        ("delete", "NODE", "delete a node and everything below it"),
        ("save", "[PATH]", "save the session"),
        ("load", "PATH", "open a saved session"),
        ("export", "PATH", "write the conversation as .md or .json"),
        (
            "set", "KNOB VALUE",
            "temperature, top_p, top_k, min_p, presence_penalty, frequency_penalty, penalty_decay, max_tokens, seed"
        ),
        ("prompt", "NAME", "switch the prompt template"),
        ("provenance", "[NODE]", "exactly the text the model has read up to a node"),
        ("info", "", "model, session and memory figures"),
        ("new", "", "start a new conversation (the current one stays saved)"),
        ("help", "", "this list"),
        ("quit", "", "end the session"),
    ]

    /// Parses one input line. Lines not starting with `/` are messages, in which the two
    /// characters `\n` stand for a newline; `//text` sends a message that starts with `/`.
    public static func parse(_ line: String) throws -> ChatCommand {
        if line.hasPrefix("//") { return .say(unescape(String(line.dropFirst()))) }
        guard line.hasPrefix("/") else { return .say(unescape(line)) }
        let body = line.dropFirst()
        let name = body.prefix { !$0.isWhitespace }.lowercased()
        let rest = body.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
        func node() throws -> NodeID {
            guard let n = Int(rest) else { throw ConversationError("/\(name) needs a node number") }
            return n
        }
        func noArgs(_ c: ChatCommand) throws -> ChatCommand {
            guard rest.isEmpty else { throw ConversationError("/\(name) takes no arguments") }
            return c
        }
        switch name {
        case "regen", "regenerate": return .regenerate(rest.isEmpty ? nil : try node())
        case "edit":
            var text = Substring(rest)
            var target: NodeID?
            // `/edit #12 text` names the message; a text that itself starts with # needs `/edit # #…`.
            if text.hasPrefix("#") {
                let number = text.dropFirst().prefix { $0.isNumber }
                guard let n = Int(number) else { throw ConversationError("/edit #NODE needs a node number") }
                target = n
                text = text.dropFirst(1 + number.count).drop { $0 == " " }
            }
            guard !text.isEmpty else { throw ConversationError("/edit needs the new text") }
            return .edit(target, unescape(String(text)))
        case "continue": return try noArgs(.continueReply)
        case "rewind":
            if rest.isEmpty { return .rewind(1) }
            guard let n = Int(rest), n > 0 else { throw ConversationError("/rewind takes a positive number of turns") }
            return .rewind(n)
        case "goto": return .goto(try node())
        case "siblings": return try noArgs(.siblings)
        case "next": return try noArgs(.next)
        case "prev", "previous": return try noArgs(.previous)
        case "tree": return try noArgs(.tree)
        case "bookmark": return .bookmark(rest.isEmpty ? nil : try node())
        case "delete": return .delete(try node())
        case "save": return .save(rest.isEmpty ? nil : rest)
        case "load":
            guard !rest.isEmpty else { throw ConversationError("/load needs a file path") }
            return .load(rest)
        case "export":
            guard !rest.isEmpty else { throw ConversationError("/export needs a file path (.md or .json)") }
            return .export(rest)
        case "set":
            let parts = rest.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw ConversationError("/set needs a knob and a value, e.g. /set temperature 0.8")
            }
            return .set(parts[0].lowercased(), parts[1].trimmingCharacters(in: .whitespaces))
        case "prompt":
            guard !rest.isEmpty else { throw ConversationError("/prompt needs a template name or path") }
            return .prompt(rest)
        case "provenance": return .provenance(rest.isEmpty ? nil : try node())
        case "info": return try noArgs(.info)
        case "help", "?": return .help
        case "new": return try noArgs(.new)
        case "quit", "exit", "q": return try noArgs(.quit)
        default:
            let known = catalog.map(\.name)
            let close = known.filter { $0.hasPrefix(String(name.prefix(2))) }
            let hint = close.isEmpty ? "" : " (did you mean /\(close.joined(separator: ", /"))?)"
            throw ConversationError("unknown command /\(name)\(hint); /help lists them")
        }
    }

    /// Command names that start with `prefix` (for completion).
    public static func completions(of prefix: String) -> [String] {
        catalog.map { "/" + $0.name }.filter { $0.hasPrefix(prefix) }
    }

    /// The two characters `\n` become a newline, and `\\` a backslash.
    static func unescape(_ s: String) -> String {
        var out = ""
        var it = s.makeIterator()
        while let c = it.next() {
            guard c == "\\" else {
                out.append(c)
                continue
            }
            switch it.next() {
            case "n": out.append("\n")
            case "\\": out.append("\\")
            case let other?: out += "\\" + String(other)
            case nil: out.append("\\")
            }
        }
        return out
    }
}
