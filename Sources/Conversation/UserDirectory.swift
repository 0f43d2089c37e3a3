import Foundation

/// The per-user base directories of the XDG Base Directory specification, as rwkv-chat uses them.
///
/// An unset or empty `$XDG_…_HOME` falls back to the specification's default under
/// the home directory. (ModelStore, which sits beside the layers and does not import
/// this module, has its own copy for the models directory.)
public enum UserDirectory: Sendable {
    /// `$XDG_DATA_HOME`, default `~/.local/share`: sessions.
    case data
    /// `$XDG_CONFIG_HOME`, default `~/.config`: the config file and prompt templates.
    case config
    /// `$XDG_CACHE_HOME`, default `~/.cache`: persona state caches.
    case cache

    /// `<base>/rwkv-chat/<path>` for this kind of directory.
    public func appending(_ path: String) -> URL {
        let (variable, fallback): (String, String) =
            switch self {
            case .data: ("XDG_DATA_HOME", ".local/share")
            case .config: ("XDG_CONFIG_HOME", ".config")
            case .cache: ("XDG_CACHE_HOME", ".cache")
            }
        let base =
            ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(fallback)
        return base.appendingPathComponent("rwkv-chat").appendingPathComponent(path)
    }
}
