import ArgumentParser
import Conversation
import Foundation
import RWKV

/// `rwkv-chat session`: look at and export saved sessions without loading a model.
struct SessionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Inspect or export saved sessions.",
        subcommands: [Info.self, Export.self, List.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tree summary, model identity, sizes and stored snapshots of a session file.")

        @Argument(help: "Session file or name.") var file: String

        func run() throws {
            let url = SessionFile.resolve(file)
            let s = try SessionFile.inspect(url)
            let m = s.model
            print("file:       \(url.path) (\(s.fileBytes) bytes)")
            print(
                "model:      \(m.file): RWKV v\(m.architecture), \(m.layers) layers × \(m.embedding), \(m.heads) heads × \(m.headSize), vocab \(m.vocabulary), fingerprint \(m.fingerprint)"
            )
            print(
                "tokenizer:  \(s.tokenizer.name) (\(s.tokenizer.vocabulary) ids, fingerprint \(s.tokenizer.fingerprint))"
            )
            print("template:   \(s.template.name)")
            let turns = s.tree.nodes.values.filter { $0.role == .user }.count
            print(
                "tree:       \(s.tree.nodes.count) nodes, \(turns) messages, \(s.tree.leaves.count) branch tips, \(s.tree.branchPoints.count) branch points, active node \(s.tree.cursor)"
            )
            let total = s.snapshots.reduce(0) { $0 + $1.bytes }
            print(
                "snapshots:  \(s.snapshots.count) stored (\(total) bytes): nodes \(s.snapshots.map { String($0.node) }.joined(separator: ", "))"
            )
            print("")
            for line in s.tree.outline() { print(line) }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a session's conversation as Markdown or JSON.")

        enum Format: String, ExpressibleByArgument { case md, json }

        @Argument(help: "Session file or name.") var file: String
        @Option(name: .long, help: "md (the active path) or json (the whole tree).") var format: Format = .md
        @Option(name: .long, help: "Output file (default: stdout).") var out: String?

        func run() throws {
            let s = try SessionFile.inspect(SessionFile.resolve(file))
            let data: Data
            switch format {
            case .md:
                data = Data(ChatSession.markdown(tree: s.tree, template: s.template, modelName: s.model.file).utf8)
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                data = try encoder.encode(s.tree)
            }
            if let out {
                try SessionFile.writeAtomically([UInt8](data), to: URL(fileURLWithPath: out))
            } else {
                FileHandle.standardOutput.write(data)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the sessions in the per-user sessions directory.")

        func run() throws {
            let dir = SessionFile.defaultDirectory
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
                .filter { $0.hasSuffix(".rwkvsession") }.sorted()
            if files.isEmpty { print("no sessions in \(dir.path)") }
            for f in files {
                let url = dir.appendingPathComponent(f)
                if let s = try? SessionFile.inspect(url) {
                    print(
                        "\(f.dropLast(".rwkvsession".count))\t\(s.model.file)\t\(s.tree.nodes.count) nodes\t\(s.fileBytes) bytes"
                    )
                } else {
                    print("\(f)\t(unreadable)")
                }
            }
        }
    }
}
