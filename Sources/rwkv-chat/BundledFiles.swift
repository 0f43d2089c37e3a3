import Foundation

/// Files that ship with rwkv-chat (prompt templates, the model catalog, the demo
/// model), found from the executable: `.build/<config>/rwkv-chat` in a checkout, or
/// `share/rwkv-chat/` next to an installed `bin/`, or the current directory.
enum BundledFiles {
    /// Candidate roots, most specific first.
    static var roots: [URL] {
        var dirs: [URL] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            let bin = exe.deletingLastPathComponent()
            dirs.append(bin.appendingPathComponent("../..").standardized)
            dirs.append(bin.appendingPathComponent("../../..").standardized)
            dirs.append(bin.appendingPathComponent("../share/rwkv-chat").standardized)
        }
        dirs.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        return dirs
    }

    /// The first existing `relativePath` under a root.
    static func find(_ relativePath: String) -> URL? {
        roots.map { $0.appendingPathComponent(relativePath) }.first {
            FileManager.default.fileExists(atPath: $0.path)
        }
    }

    /// The bundled demo model (a tiny byte-level RWKV-7 trained by Scripts/train_demo_model.py).
    static var demoModel: URL? { find("models/demo/rwkv7-demo-byte.pth") }

    /// The model catalog.
    static var catalog: URL? { find("models/catalog.json") }
}

/// Directories searched for prompt templates: the bundled `prompts/` and the user's.
func bundledPromptDirectories() -> [URL] {
    BundledFiles.roots.map { $0.appendingPathComponent("prompts") }
}
