import Foundation
import RWKV

/// How a conversation is framed as text for the model: roles, separator, persona and stops.
///
/// Templates are data (JSON files in `prompts/`); `ChatTemplate.default` is the RWKV-7
/// World/G1 chat framing: `User: …\n\nAssistant: …\n\n`, with the generation prompt
/// ending in `Assistant:` and no trailing space.
public struct ChatTemplate: Equatable, Sendable {
    /// One warm-up exchange or system line that precedes the conversation.
    public struct Line: Codable, Equatable, Sendable {
        /// "user", "assistant" or "system".
        public var role: String
        /// The line's text (already free of blank lines).
        public var text: String

        /// Creates a line.
        public init(role: String, text: String) {
            self.role = role
            self.text = text
        }
    }

    /// Short identifier (`default`, `g1-think`, …).
    public var name: String
    /// One sentence shown in listings.
    public var description: String
    /// The user's role prefix, e.g. "User".
    public var userRole: String
    /// The model's role prefix, e.g. "Assistant".
    public var assistantRole: String
    /// The system role prefix, e.g. "System".
    public var systemRole: String
    /// What separates turns; RWKV World models are trained with "\n\n".
    public var separator: String
    /// Optional system text, written first.
    public var system: String?
    /// Warm-up lines written after the system text.
    public var warmup: [Line]
    /// Extra text after the assistant prefix of every generation prompt (e.g. " <think" for G1 thinking).
    public var generationSuffix: String
    /// Strings that end a reply (the separator always does, when framing is on).
    public var stopStrings: [String]
    /// Recommended sampling.
    public var sampling: SamplingSettings
    /// False for plain completion: user text is fed as is, with no roles.
    public var framed: Bool

    /// RWKV-7 World/G1 chat with the standard warm-up of the official demos.
    public static let `default` = ChatTemplate(
        name: "default", description: "RWKV-7 World/G1 chat with the standard warm-up of the official demos",
        userRole: "User",
        assistantRole: "Assistant", systemRole: "System", separator: "\n\n", system: nil,
        warmup: [
            Line(role: "user", text: "hi"),
            Line(
                role: "assistant",
                text:
                    "Hi. I am your assistant and I will provide expert full response in full details. Please feel free to ask any question and I will always answer it."
            ),
        ], generationSuffix: "", stopStrings: [], sampling: .chatDefault, framed: true)

    /// Memberwise initialiser.
    public init(
        name: String, description: String, userRole: String, assistantRole: String, systemRole: String,
        separator: String, system: String?, warmup: [Line], generationSuffix: String, stopStrings: [String],
        sampling: SamplingSettings, framed: Bool
    ) {
        self.name = name
        self.description = description
        self.userRole = userRole
        self.assistantRole = assistantRole
        self.systemRole = systemRole
        self.separator = separator
        self.system = system
        self.warmup = warmup
        self.generationSuffix = generationSuffix
        self.stopStrings = stopStrings
        self.sampling = sampling
        self.framed = framed
    }

    /// Makes user text safe to feed: `\r\n` → `\n`, runs of blank lines collapsed to one
    /// `\n`, ends trimmed. No text can then contain `\n\n` and forge a turn boundary.
    public static func normalize(_ text: String) -> String {
        var s = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        // Collapse any run of newlines (with only spaces or tabs between them) to one newline.
        var out = ""
        var pendingNewline = false
        var pendingSpace = ""
        for ch in s {
            if ch == "\n" {
                pendingNewline = true
                pendingSpace = ""
            } else if pendingNewline && (ch == " " || ch == "\t") {
                pendingSpace.append(ch)
            } else {
                if pendingNewline {
                    out.append("\n")
                    out += pendingSpace
                    pendingNewline = false
                    pendingSpace = ""
                }
                out.append(ch)
            }
        }
        s = out
        return s.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func prefix(for role: String) -> String {
        switch role {
        case "user": return userRole
        case "assistant": return assistantRole
        default: return systemRole
        }
    }

    /// The persona text fed once at the start: system text and warm-up, each ending in the separator.
    public func preamble() -> String {
        guard framed else { return "" }
        var out = ""
        if let system, !system.isEmpty {
            out += "\(systemRole): \(Self.normalize(system))\(separator)"
        }
        for line in warmup {
            out += "\(prefix(for: line.role)): \(Self.normalize(line.text))\(separator)"
        }
        return out
    }

    /// What is fed for one user message: `User: text\n\nAssistant:` (plus the generation suffix).
    public func userTurn(_ text: String) -> String {
        guard framed else { return text }
        return "\(userRole): \(Self.normalize(text))\(separator)\(assistantRole):\(generationSuffix)"
    }

    /// The reply text as shown: the leading space after `Assistant:` removed.
    public func displayReply(_ raw: String) -> String {
        guard framed, raw.hasPrefix(" ") else { return raw }
        return String(raw.dropFirst())
    }

    /// A reply split into its reasoning (G1 think mode) and its answer.
    ///
    /// With a generation suffix ending in `<think`, the model's reply continues that
    /// tag (`>…</think>answer`); the reasoning stays in the state but is shown
    /// collapsed, and earlier turns show only the answer. An unfinished think block
    /// (cut by the length limit) is all reasoning and no answer yet.
    public func thinkParts(_ reply: String) -> (think: String?, answer: String) {
        let suffix = generationSuffix.trimmingCharacters(in: .whitespaces)
        let full = suffix.hasSuffix("<think") ? suffix + reply : reply
        guard full.hasPrefix("<think>") else { return (nil, reply) }
        let body = full.dropFirst("<think>".count)
        guard let close = body.range(of: "</think>") else {
            return (body.trimmingCharacters(in: .whitespacesAndNewlines), "")
        }
        return (
            String(body[..<close.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines),
            String(body[close.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        )
    }

    /// Where a reply stops in `text`, if it does: the earliest stop string (the separator included when framed).
    public func stopRange(in text: String) -> Range<String.Index>? {
        var stops = stopStrings
        if framed { stops.append(separator) }
        return stops.filter { !$0.isEmpty }.compactMap { text.range(of: $0) }.min { $0.lowerBound < $1.lowerBound }
    }
}

extension ChatTemplate: Codable {
    enum CodingKeys: String, CodingKey {
        case name, description, userRole = "user_role", assistantRole = "assistant_role", systemRole = "system_role"
        case separator, system, warmup, generationSuffix = "generation_suffix", stopStrings = "stop_strings"
        case sampling, framed
    }

    /// Decodes a template file; every key but `name` is optional and defaults to the `default` template's value.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ChatTemplate.default
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        userRole = try c.decodeIfPresent(String.self, forKey: .userRole) ?? d.userRole
        assistantRole = try c.decodeIfPresent(String.self, forKey: .assistantRole) ?? d.assistantRole
        systemRole = try c.decodeIfPresent(String.self, forKey: .systemRole) ?? d.systemRole
        separator = try c.decodeIfPresent(String.self, forKey: .separator) ?? d.separator
        system = try c.decodeIfPresent(String.self, forKey: .system)
        warmup = try c.decodeIfPresent([Line].self, forKey: .warmup) ?? []
        generationSuffix = try c.decodeIfPresent(String.self, forKey: .generationSuffix) ?? ""
        stopStrings = try c.decodeIfPresent([String].self, forKey: .stopStrings) ?? []
        sampling = try c.decodeIfPresent(SamplingSettings.self, forKey: .sampling) ?? d.sampling
        framed = try c.decodeIfPresent(Bool.self, forKey: .framed) ?? true
        guard !separator.isEmpty || !framed else {
            throw DecodingError.dataCorruptedError(
                forKey: .separator, in: c, debugDescription: "a framed template needs a separator")
        }
    }
}
