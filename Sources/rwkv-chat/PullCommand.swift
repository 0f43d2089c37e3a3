import ArgumentParser
import Foundation
import ModelStore

/// `rwkv-chat pull`: downloads a model into the per-user models directory.
struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Download a model (from the catalog, a URL or hf:OWNER/REPO/FILE) into the models directory.",
        discussion: """
            With no argument, pulls the catalog's default model. The file keeps its name, goes to \
            $XDG_DATA_HOME/rwkv-chat/models (default ~/.local/share/rwkv-chat/models), is downloaded \
            under NAME.partial and renamed only when complete and verified; an interrupted download \
            resumes. .pth models also get the World vocabulary file, stored once. `rwkv-chat models` \
            lists what is installed and what the catalog offers.
            """)

    @Argument(help: "Catalog name (see `rwkv-chat models`), an https URL, or hf:OWNER/REPO/FILE.")
    var model: String?

    @Flag(name: .long, help: "Download again even if the file is installed.")
    var force = false

    func run() throws {
        let url = try Pull.fetch(model, force: force)
        print(url.path)
    }
}

/// The download logic shared by `pull` and the first-run screen.
enum Pull {
    static func catalog() throws -> Catalog {
        guard let file = BundledFiles.catalog else {
            throw ValidationError("the model catalog (models/catalog.json) is missing from this installation")
        }
        return try Catalog.load(file)
    }

    /// Resolves `spec` and downloads it (and the vocabulary it needs); returns the model file.
    static func fetch(_ spec: String?, force: Bool = false) throws -> URL {
        let catalog = try catalog()
        var entry: Catalog.Entry
        if let spec, spec.hasPrefix("https://") || spec.hasPrefix("http://") {
            guard let u = URL(string: spec), !u.lastPathComponent.isEmpty else {
                throw ValidationError("not a file URL: \(spec)")
            }
            entry = Catalog.Entry(name: u.lastPathComponent, file: u.lastPathComponent, url: spec)
            entry.needsVocabulary = u.lastPathComponent.hasSuffix(".pth")
        } else if let spec, spec.hasPrefix("hf:") {
            let parts = spec.dropFirst(3).split(separator: "/", maxSplits: 2).map(String.init)
            guard parts.count == 3 else { throw ValidationError("write Hugging Face files as hf:OWNER/REPO/FILE") }
            let file = (parts[2] as NSString).lastPathComponent
            entry = Catalog.Entry(
                name: file, file: file, url: "https://huggingface.co/\(parts[0])/\(parts[1])/resolve/main/\(parts[2])")
            entry.needsVocabulary = file.hasSuffix(".pth")
        } else if let found = spec.map({ catalog.entry($0) }) ?? catalog.defaultModel {
            entry = found
        } else {
            throw StoreError.unknownModel(spec ?? "", known: catalog.models.map(\.name))
        }
        let dir = ModelDirectory.url
        let dest = dir.appendingPathComponent(entry.file)
        if entry.needsVocabulary == true {
            let vocab = dir.appendingPathComponent(catalog.vocabulary.file)
            if !FileManager.default.fileExists(atPath: vocab.path) { try download(catalog.vocabulary, to: vocab) }
        }
        if FileManager.default.fileExists(atPath: dest.path) && !force {
            FileHandle.standardError.write(Data("\(entry.file) is already installed\n".utf8))
        } else {
            try download(entry, to: dest)
        }
        LastModel.record(dest)
        return dest
    }

    static func download(_ entry: Catalog.Entry, to dest: URL) throws {
        guard let url = URL(string: entry.url) else { throw ValidationError("bad URL \(entry.url)") }
        FileHandle.standardError.write(Data("downloading \(entry.file)\n  from \(entry.url)\n".utf8))
        let bar = ProgressBar(name: entry.file)
        try Downloader.download(url, to: dest, expectedBytes: entry.bytes, sha256: entry.sha256) { bar.show($0) }
        bar.finish()
    }
}

/// A one-line progress display on stderr: bytes, speed, time left.
final class ProgressBar: @unchecked Sendable {
    let name: String
    let interactive = isatty(STDERR_FILENO) != 0
    private var lastPercent = -10

    init(name: String) { self.name = name }

    static func size(_ b: Int64) -> String {
        b >= 1 << 30 ? String(format: "%.2f GB", Double(b) / 1e9) : String(format: "%.1f MB", Double(b) / 1e6)
    }

    func show(_ p: DownloadProgress) {
        var line = "  " + Self.size(p.received)
        var percent: Int?
        if let total = p.total, total > 0 {
            let fraction = min(Double(p.received) / Double(total), 1)
            percent = Int(fraction * 100)
            let width = 24
            let filled = Int(fraction * Double(width))
            line =
                "  [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
                + "\(Self.size(p.received)) / \(Self.size(total))"
        }
        if p.bytesPerSecond > 0 { line += String(format: "  %.1f MB/s", p.bytesPerSecond / 1e6) }
        if let left = p.secondsLeft { line += String(format: "  %d:%02d left", Int(left) / 60, Int(left) % 60) }
        if interactive {
            FileHandle.standardError.write(Data(("\r" + line + "\u{1b}[K").utf8))
        } else if let percent, percent >= lastPercent + 10 {
            lastPercent = percent
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// `rwkv-chat models`: installed models and the catalog.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List installed models and the models the catalog offers.")

    func run() throws {
        let installed = ModelDirectory.installed()
        print("Installed in \(ModelDirectory.url.path):")
        if installed.isEmpty { print("  (none yet: `rwkv-chat pull` fetches the default model)") }
        for m in installed { print("  \(m.url.lastPathComponent)  \(ProgressBar.size(m.bytes))") }
        if let demo = BundledFiles.demoModel { print("  (built in) \(demo.lastPathComponent): tiny demo model") }
        let catalog = try Pull.catalog()
        print("\nCatalog (rwkv-chat pull NAME):")
        let names = Set(installed.map { $0.url.lastPathComponent })
        for e in catalog.models {
            let mark = names.contains(e.file) ? "✓" : " "
            let def = e.isDefault == true ? " (default)" : ""
            print("  \(mark) \(e.name)\(def)  \(e.parameters ?? "")  \(e.description ?? "")")
        }
    }
}

/// The model the user chatted with or pulled last: `$XDG_DATA_HOME/rwkv-chat/last-model`.
enum LastModel {
    static var file: URL { ModelDirectory.url.deletingLastPathComponent().appendingPathComponent("last-model") }

    static func record(_ model: URL) {
        try? FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? Data(model.standardizedFileURL.path.utf8).write(to: file, options: .atomic)
    }

    /// The recorded model, if the file still exists.
    static var path: String? {
        guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
        let p = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }
}
