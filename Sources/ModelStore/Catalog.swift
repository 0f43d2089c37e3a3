import Foundation

/// The list of models `rwkv-chat pull` knows by name, read from `models/catalog.json`.
///
/// A data file so it can be updated without touching code. Sizes and checksums are
/// filled in where known; a `null` checksum means the download is checked by size
/// (from the server's Content-Length) only.
public struct Catalog: Codable, Equatable, Sendable {
    /// A file the catalog can fetch.
    public struct Entry: Codable, Equatable, Sendable {
        /// Short name for `pull` (`g1a-0.1b`).
        public var name: String
        /// File name in the models directory.
        public var file: String
        /// Where it is downloaded from.
        public var url: String
        /// Exact size in bytes, if known.
        public var bytes: Int64?
        /// SHA-256 (64 hex digits), if known.
        public var sha256: String?
        /// Parameter count, for display ("0.1B").
        public var parameters: String?
        /// The precision rwkv-chat suggests for this model on a CPU.
        public var precision: String?
        /// One line for `rwkv-chat models`.
        public var description: String?
        /// Whether it needs the World vocabulary file next to it.
        public var needsVocabulary: Bool?
        /// Whether this is the model `pull` with no name fetches.
        public var isDefault: Bool?

        /// An entry for a file outside the catalog (a URL given to `pull`).
        public init(name: String, file: String, url: String) {
            (self.name, self.file, self.url) = (name, file, url)
        }

        enum CodingKeys: String, CodingKey {
            case name, file, url, bytes, sha256, parameters, precision, description
            case needsVocabulary = "needs_vocabulary"
            case isDefault = "default"
        }
    }

    /// Format version of the file.
    public var version: Int
    /// The World vocabulary (`rwkv_vocab_v20230424.txt`), fetched once next to `.pth` models.
    public var vocabulary: Entry
    /// The models.
    public var models: [Entry]

    /// Reads a catalog file.
    public static func load(_ url: URL) throws -> Catalog {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw StoreError.io(url.path, "cannot read the catalog")
        }
        do {
            return try JSONDecoder().decode(Catalog.self, from: data)
        } catch {
            throw StoreError.io(url.path, "not a valid catalog: \(error)")
        }
    }

    /// The default model.
    public var defaultModel: Entry? { models.first { $0.isDefault == true } ?? models.first }

    /// The entry called `name` (or with that file name).
    public func entry(_ name: String) -> Entry? {
        models.first { $0.name == name || $0.file == name }
    }

    /// Everything wrong with the catalog, one sentence each (empty when well-formed).
    public func problems() -> [String] {
        var out: [String] = []
        var names = Set<String>(), files = Set<String>()
        for e in models + [vocabulary] {
            if e.name.isEmpty || e.name.contains(" ") { out.append("'\(e.name)': a name must be one word") }
            if !names.insert(e.name).inserted { out.append("'\(e.name)' appears twice") }
            if !files.insert(e.file).inserted { out.append("file \(e.file) appears twice") }
            if e.file.contains("/") || e.file.hasPrefix(".") { out.append("'\(e.name)': file must be a plain name") }
            guard let u = URL(string: e.url), u.scheme == "https", u.host != nil else {
                out.append("'\(e.name)': url must be https")
                continue
            }
            if u.lastPathComponent != e.file { out.append("'\(e.name)': the url's file name is not \(e.file)") }
            if let b = e.bytes, b <= 0 { out.append("'\(e.name)': bytes must be positive") }
            if let h = e.sha256, h.count != 64 || !h.allSatisfy(\.isHexDigit) {
                out.append("'\(e.name)': sha256 must be 64 hex digits")
            }
        }
        for e in models {
            let known = [".pth", ".safetensors", ".bin", ".gguf"]
            if !known.contains(where: e.file.hasSuffix) { out.append("'\(e.name)': not a model file type") }
            if let p = e.precision, !["fp32", "fp16", "bf16", "q8_0"].contains(p) {
                out.append("'\(e.name)': unknown precision \(p)")
            }
        }
        if models.filter({ $0.isDefault == true }).count != 1 { out.append("exactly one model must be the default") }
        return out
    }
}

/// The per-user models directory: `$XDG_DATA_HOME/rwkv-chat/models` (default `~/.local/share/rwkv-chat/models`).
public enum ModelDirectory {
    /// The directory (not created until something is downloaded).
    public static var url: URL {
        let env = ProcessInfo.processInfo.environment
        let base =
            env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".local/share")
        return base.appendingPathComponent("rwkv-chat/models")
    }

    /// Installed model files (complete ones only), newest first.
    public static func installed() -> [(url: URL, bytes: Int64, modified: Date)] {
        let files = (try? FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)) ?? []
        return files.filter {
            [".pth", ".safetensors", ".bin", ".gguf"].contains(where: $0.lastPathComponent.hasSuffix)
        }
        .map { f in
            let a = try? FileManager.default.attributesOfItem(atPath: f.path)
            return (f, Int64((a?[.size] as? Int) ?? 0), (a?[.modificationDate] as? Date) ?? .distantPast)
        }
        .sorted { $0.modified > $1.modified }
    }
}

/// A download or catalog problem, with the URL or file and the reason.
public enum StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The server could not be reached or the connection failed for good.
    case network(String, String)
    /// The server answered with an HTTP error status.
    case http(String, Int)
    /// The disk is full or not writable.
    case disk(String, String)
    /// The downloaded file's size is not the expected one.
    case size(String, expected: Int64, got: Int64)
    /// The downloaded file's SHA-256 is not the expected one.
    case checksum(String, expected: String, got: String)
    /// A local file could not be read or written.
    case io(String, String)
    /// A model name the catalog does not have.
    case unknownModel(String, known: [String])

    /// One sentence for the user.
    public var description: String {
        switch self {
        case .network(let url, let why): return "\(url): cannot download (\(why)); check the network connection"
        case .http(let url, let status):
            return "\(url): the server answered \(status)\(status == 404 ? " (not found)" : "")"
        case .disk(let path, let why): return "\(path): cannot write (\(why))"
        case .size(let path, let e, let g): return "\(path): expected \(e) bytes, got \(g); the download was discarded"
        case .checksum(let path, let e, let g):
            return "\(path): SHA-256 is \(g), expected \(e); the download was discarded"
        case .io(let path, let why): return "\(path): \(why)"
        case .unknownModel(let name, let known):
            return "no model called '\(name)' in the catalog (known: \(known.joined(separator: ", ")))"
        }
    }
}
