import Foundation

/// Finds prompt templates by name or path.
///
/// Search order for a name: the per-user directory (`$XDG_CONFIG_HOME/rwkv-chat/prompts`,
/// default `~/.config/rwkv-chat/prompts`), then the `prompts/` directories given at
/// creation (the repository's, found next to the executable). `default` is also
/// built in, so a chat can always start.
public struct TemplateLibrary: Sendable {
    /// Directories searched, in order.
    public let directories: [URL]

    /// A library over `directories` (searched after the user's own directory).
    public init(directories: [URL]) {
        self.directories = [Self.userDirectory] + directories
    }

    /// The per-user template directory.
    public static var userDirectory: URL {
        UserDirectory.config.appending("prompts")
    }

    /// The template called `nameOrPath`: a path to a `.json` file, or a name looked up in the directories.
    public func template(_ nameOrPath: String) throws -> ChatTemplate {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".json") {
            return try Self.read(URL(fileURLWithPath: nameOrPath))
        }
        for dir in directories {
            let url = dir.appendingPathComponent("\(nameOrPath).json")
            if FileManager.default.fileExists(atPath: url.path) { return try Self.read(url) }
        }
        if nameOrPath == "default" { return .default }
        let known = names()
        throw ConversationError(
            "no prompt template '\(nameOrPath)'"
                + (known.isEmpty ? "" : " (available: \(known.joined(separator: ", ")))"))
    }

    /// Every template name found, sorted.
    public func names() -> [String] {
        var set: Set<String> = ["default"]
        for dir in directories {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for f in files where f.hasSuffix(".json") { set.insert(String(f.dropLast(5))) }
        }
        return set.sorted()
    }

    /// Reads one template file, with errors that name it.
    public static func read(_ url: URL) throws -> ChatTemplate {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ConversationError("\(url.path): cannot read the template file")
        }
        do {
            return try JSONDecoder().decode(ChatTemplate.self, from: data)
        } catch {
            throw ConversationError("\(url.path): not a valid template (\(error))")
        }
    }
}
