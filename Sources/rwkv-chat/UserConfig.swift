import ArgumentParser
import ChatUI
import Conversation
import Foundation
import ModelStore
import RWKV

/// The per-user config file, `$XDG_CONFIG_HOME/rwkv-chat/config.json` (default `~/.config/rwkv-chat/config.json`):
///
///     {"model": "g1a-0.4b", "prompt": "default", "threads": 2, "max_tokens": 500,
///      "sampling": {"temperature": 1.0, "top_p": 0.3},
///      "keys": {"regenerate": "ctrl-g", "quit": ["ctrl-q", "f10"]},
///      "colors": {"user": "green", "title": "black on cyan"}}
///
/// Every field is optional. Command-line flags win over the file, the file over the
/// template's and the program's defaults. `NO_COLOR` turns every colour off.
struct UserConfig {
    var model: String?
    var prompt: String?
    var threads: Int?
    var maxTokens: Int?
    var sampling: [String: Double] = [:]
    var keys: [String: [String]] = [:]
    var colors: [String: String] = [:]
    /// Whether the file exists.
    var present = false

    static var url: URL {
        UserDirectory.config.appending("config.json")
    }

    static let samplingKeys = [
        "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "penalty_decay",
    ]

    /// Reads the file; a file that exists but is wrong is an error naming it and the field.
    static func load() throws -> UserConfig {
        var c = UserConfig()
        guard let data = FileManager.default.contents(atPath: url.path) else { return c }
        c.present = true
        func bad(_ why: String) -> ValidationError { ValidationError("\(url.path): \(why)") }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw bad("not a JSON object")
        }
        let known = ["model", "prompt", "threads", "max_tokens", "sampling", "keys", "colors"]
        for key in json.keys where !known.contains(key) {
            throw bad("unknown setting \"\(key)\" (\(known.joined(separator: ", ")))")
        }
        if let v = json["model"] {
            guard let s = v as? String else { throw bad("\"model\" must be a path or a catalog name") }
            c.model = s
        }
        if let v = json["prompt"] {
            guard let s = v as? String else { throw bad("\"prompt\" must be a template name or path") }
            c.prompt = s
        }
        if let v = json["threads"] {
            guard let n = v as? Int, n > 0 else { throw bad("\"threads\" must be a positive number") }
            c.threads = n
        }
        if let v = json["max_tokens"] {
            guard let n = v as? Int, n > 0 else { throw bad("\"max_tokens\" must be a positive number") }
            c.maxTokens = n
        }
        if let v = json["sampling"] {
            guard let table = v as? [String: Any] else { throw bad("\"sampling\" must be an object") }
            for (k, x) in table {
                guard samplingKeys.contains(k) else { throw bad("unknown sampling setting \"\(k)\"") }
                guard let d = x as? Double else { throw bad("sampling.\(k) must be a number") }
                c.sampling[k] = d
            }
        }
        if let v = json["keys"] {
            guard let table = v as? [String: Any] else { throw bad("\"keys\" must be an object") }
            for (name, value) in table {
                if let s = value as? String {
                    c.keys[name] = [s]
                } else if let list = value as? [String] {
                    c.keys[name] = list
                } else {
                    throw bad("keys.\(name) must be a key name or a list of them")
                }
            }
        }
        if let v = json["colors"] {
            guard let table = v as? [String: String] else {
                throw bad("\"colors\" must map style names to colours, e.g. {\"user\": \"green\"}")
            }
            c.colors = table
        }
        return c
    }

    /// The palette with this file's overrides.
    func palette() throws -> Palette {
        try overriding(Palette.standard) { $0.apply(colors) }
    }

    /// The key map with this file's overrides.
    func keyMap() throws -> KeyMap {
        try overriding(KeyMap.standard) { $0.apply(keys) }
    }

    /// `base` with overrides applied by `apply`, which returns the problems it found;
    /// any problem is an error naming this file.
    private func overriding<T>(_ base: T, _ apply: (inout T) -> [String]) throws -> T {
        var value = base
        let problems = apply(&value)
        guard problems.isEmpty else {
            throw ValidationError("\(Self.url.path): " + problems.joined(separator: "; "))
        }
        return value
    }

    /// Applies the file's sampling settings on top of `s`.
    func apply(to s: inout SamplingSettings) {
        if let v = sampling["temperature"] { s.temperature = Float(v) }
        if let v = sampling["top_p"] { s.topP = Float(v) }
        if let v = sampling["top_k"] { s.topK = Int(v) }
        if let v = sampling["min_p"] { s.minP = Float(v) }
        if let v = sampling["presence_penalty"] { s.presencePenalty = Float(v) }
        if let v = sampling["frequency_penalty"] { s.frequencyPenalty = Float(v) }
        if let v = sampling["penalty_decay"] { s.penaltyDecay = Float(v) }
    }
}

/// Which model the chat opens, and why.
enum ModelChoice {
    /// A model path and where the choice came from.
    struct Choice {
        var path: String
        var source: String
        var isDemo: Bool
        /// True when no real model is installed (the first-run screen is shown).
        var firstRun: Bool
    }

    /// `--model`, then the config file, then the last model used or pulled, then the
    /// catalog's default if installed, then the bundled demo model.
    static func resolve(flag: String?, config: UserConfig) throws -> Choice? {
        if let flag { return Choice(path: try expand(flag), source: "--model", isDemo: false, firstRun: false) }
        if let m = config.model {
            return Choice(path: try expand(m), source: "config file", isDemo: false, firstRun: false)
        }
        if let last = LastModel.path {
            return Choice(path: last, source: "last used", isDemo: false, firstRun: false)
        }
        if let catalog = try? Pull.catalog(), let d = catalog.defaultModel {
            let path = ModelDirectory.url.appendingPathComponent(d.file).path
            if FileManager.default.fileExists(atPath: path) {
                return Choice(path: path, source: "catalog default", isDemo: false, firstRun: false)
            }
        }
        if let demo = BundledFiles.demoModel {
            return Choice(path: demo.path, source: "built-in demo model", isDemo: true, firstRun: true)
        }
        return nil
    }

    /// A path as given, or a catalog name / installed file name in the models directory.
    static func expand(_ name: String) throws -> String {
        if name.contains("/") || FileManager.default.fileExists(atPath: name) { return name }
        if let entry = try? Pull.catalog().entry(name) {
            return ModelDirectory.url.appendingPathComponent(entry.file).path
        }
        let installed = ModelDirectory.url.appendingPathComponent(name).path
        return FileManager.default.fileExists(atPath: installed) ? installed : name
    }
}

/// `rwkv-chat config`: the effective settings and where each comes from.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Show the effective settings and where each one comes from.")

    func run() throws {
        let c = try UserConfig.load()
        print("config file: \(UserConfig.url.path) (\(c.present ? "read" : "not present; all defaults"))")
        if let choice = try ModelChoice.resolve(flag: nil, config: c) {
            print("model:       \(choice.path)  [\(choice.source)]")
        } else {
            print("model:       none  [no model installed and no demo model bundled]")
        }
        let library = TemplateLibrary(directories: bundledPromptDirectories())
        let promptName = c.prompt ?? "default"
        print("prompt:      \(promptName)  [\(c.prompt == nil ? "default" : "config file")]")
        var sampling = (try? library.template(promptName))?.sampling ?? ChatTemplate.default.sampling
        c.apply(to: &sampling)
        let values: [(String, String)] = [
            ("temperature", "\(sampling.temperature)"), ("top_p", "\(sampling.topP)"), ("top_k", "\(sampling.topK)"),
            ("min_p", "\(sampling.minP)"), ("presence_penalty", "\(sampling.presencePenalty)"),
            ("frequency_penalty", "\(sampling.frequencyPenalty)"), ("penalty_decay", "\(sampling.penaltyDecay)"),
        ]
        for (k, v) in values {
            print(
                "  \(k.padding(toLength: 18, withPad: " ", startingAt: 0)) \(v)  [\(c.sampling[k] != nil ? "config file" : "template \(promptName)")]"
            )
        }
        print(
            "threads:     \(c.threads.map(String.init) ?? "all cores")  [\(c.threads == nil ? "default" : "config file")]"
        )
        print(
            "max_tokens:  \(c.maxTokens.map(String.init) ?? "500")  [\(c.maxTokens == nil ? "default" : "config file")]"
        )
        print("sessions:    \(SessionFile.defaultDirectory.path)")
        print("models:      \(ModelDirectory.url.path)")
        let map = try c.keyMap()
        print("keys:")
        for b in Binding.allCases {
            let keys = (map.keys[b] ?? []).map(\.label).joined(separator: ", ")
            print(
                "  \(b.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)) \(keys)  [\(c.keys[b.rawValue] != nil ? "config file" : "default")]"
            )
        }
        let noColor = ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        print("colours:\(noColor ? "     off (NO_COLOR is set)" : "")")
        let palette = try c.palette()
        for (name, style) in Palette.styleNames.sorted(by: { $0.key < $1.key }) {
            let source = c.colors[name] != nil ? "config file" : "default"
            print(
                "  \(name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(palette.describe(style))  [\(source)]")
        }
    }
}
