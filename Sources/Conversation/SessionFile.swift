import Foundation
import RWKV

/// Reads and writes session files (`docs/SESSION_FORMAT.md`): the whole tree and its snapshots.
///
/// A file is a header and checksummed sections. Loading evaluates nothing: the
/// stored snapshots are the states, so opening a session or switching to any
/// stored branch never replays tokens.
public enum SessionFile {
    /// File magic.
    static let magic = Array("RWKVSESS".utf8)
    /// The format version written and read.
    public static let formatVersion: UInt32 = 1

    /// The model identity recorded in a session.
    public struct ModelIdentity: Codable, Equatable, Sendable {
        /// Architecture version, e.g. "7.0".
        public var architecture: String
        /// Dimensions.
        public var layers: Int, embedding: Int, heads: Int, headSize: Int, vocabulary: Int, ffn: Int
        /// `Model.fingerprint`.
        public var fingerprint: String
        /// The model file's name when the session was saved (for messages only).
        public var file: String

        /// The identity of `model`.
        public init(_ model: Model) {
            let c = model.config
            architecture = c.version.rawValue
            layers = c.layerCount
            embedding = c.embedding
            heads = c.headCount
            headSize = c.headSize
            vocabulary = c.vocabulary
            ffn = c.ffnWidth
            fingerprint = model.fingerprint
            file = (model.path as NSString).lastPathComponent
        }

        /// True when two identities describe the same weights (the file name may differ).
        func sameModel(as other: ModelIdentity) -> Bool {
            var a = self
            a.file = other.file
            return a == other
        }
    }

    /// The tokenizer identity recorded in a session.
    public struct TokenizerIdentity: Codable, Equatable, Sendable {
        /// Tokenizer name.
        public var name: String
        /// Number of ids.
        public var vocabulary: Int
        /// `Tokenizer.fingerprint`.
        public var fingerprint: String
    }

    /// The JSON body of the TREE section.
    struct TreeRecord: Codable {
        var tree: ConversationTree
        var template: ChatTemplate
        var sampling: SamplingSettings
        var seed: UInt64
        var maxTokens: Int
        var saved: Double
    }

    // MARK: - Writing

    /// The file's bytes. Snapshots of the root, the cursor, every branch point and every
    /// leaf are always stored (recomputed if they were dropped from memory); other
    /// snapshots in memory are added, oldest node first, while they fit in `optionalBudget` bytes.
    public static func encode(_ session: ChatSession, optionalBudget: Int = 16 << 20) throws -> [UInt8] {
        var sections: [(String, [UInt8])] = []
        let json = JSONEncoder()
        json.outputFormatting = [.sortedKeys]
        sections.append(("MODL", Array(try json.encode(ModelIdentity(session.model)))))
        let tok = session.tokenizer
        sections.append(
            (
                "TOKZ",
                Array(
                    try json.encode(
                        TokenizerIdentity(name: tok.name, vocabulary: tok.vocabularySize, fingerprint: tok.fingerprint))
                )
            ))
        let record = TreeRecord(
            tree: session.tree, template: session.template, sampling: session.sampling, seed: session.seed,
            maxTokens: session.maxTokens, saved: Date().timeIntervalSince1970)
        sections.append(("TREE", Array(try json.encode(record))))
        let tree = session.tree
        let required = Set([tree.root, tree.cursor] + tree.branchPoints + tree.leaves)
        for id in required.sorted() {
            sections.append(("SNAP", snapshotPayload(id, try session.snapshot(for: id))))
        }
        var optionalBytes = 0
        for id in session.snapshots.keys.sorted() where !required.contains(id) {
            let snap = session.snapshots[id]!
            guard optionalBytes + snap.byteCount <= optionalBudget else { break }
            optionalBytes += snap.byteCount
            sections.append(("SNAP", snapshotPayload(id, snap)))
        }
        var out = magic
        out.appendLE(formatVersion)
        out.appendLE(UInt32(sections.count))
        for (tag, payload) in sections {
            var sec = Array(tag.utf8)
            sec.appendLE(UInt32(0))
            sec.appendLE(UInt64(payload.count))
            sec += payload
            sec.appendLE(CRC32.checksum(sec))
            out += sec
        }
        return out
    }

    static func snapshotPayload(_ id: NodeID, _ s: Snapshot) -> [UInt8] {
        var p: [UInt8] = []
        p.appendLE(UInt32(id))
        p.appendLE(UInt64(s.tokenCount))
        p.appendLE(UInt32(s.logits.count))
        p.appendFloats(s.logits)
        let state = s.state.serialized()
        p.appendLE(UInt64(state.count))
        p += state
        return p
    }

    /// Saves `session` to `url` atomically: the bytes go to a temporary file in the same
    /// directory, which is flushed to disk and then renamed over the old file, and the
    /// directory is flushed. A crash at any point leaves the old file or the new one, whole.
    public static func save(_ session: ChatSession, to url: URL) throws {
        let bytes = try encode(session)
        try writeAtomically(bytes, to: url)
        session.isDirty = false
        session.fileURL = url
    }

    /// Writes `bytes` to `url` through a flushed temporary file and a rename.
    public static func writeAtomically(_ bytes: [UInt8], to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ModelFileError(url.path, .unreadable, "cannot create \(tmp.path): \(errnoText())") }
        var ok = true
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    ok = false
                    return
                }
                done += n
            }
        }
        let error = errnoText()
        if ok && fsync(fd) != 0 { ok = false }
        close(fd)
        guard ok else {
            unlink(tmp.path)
            throw ModelFileError(
                url.path, .unreadable, "cannot write the session (\(error)); the previous file is unchanged")
        }
        guard rename(tmp.path, url.path) == 0 else {
            let e = errnoText()
            unlink(tmp.path)
            throw ModelFileError(
                url.path, .unreadable, "cannot replace the session file (\(e)); the previous file is unchanged")
        }
        let dfd = open(dir.path, O_RDONLY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
        removeStaleTemporaries(for: url)
    }

    /// Deletes `.<name>.tmp-<pid>` files left by writers that were killed mid-save
    /// (their process no longer exists); a live writer's file is left alone.
    static func removeStaleTemporaries(for url: URL) {
        let dir = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent).tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(dir.appendingPathComponent(name).path) }
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    // MARK: - Reading

    /// Loads the session at `url` for `model` and `tokenizer`, without evaluating any token.
    ///
    /// A session saved with other weights is refused, naming both models, unless
    /// `replay` is true: then the stored snapshots are ignored and states are rebuilt
    /// from the stored tokens on this model (the root now, the rest when needed).
    public static func load(
        _ url: URL, model: Model, tokenizer: Tokenizer, replay: Bool = false, snapshotBudget: Int = 512 << 20
    ) throws -> ChatSession {
        let path = url.path
        let bytes = try FileBytes.read(path)
        let sections = try parseSections(bytes, path: path)
        func single(_ tag: String) throws -> [UInt8] {
            let found = sections.filter { $0.0 == tag }
            guard found.count == 1 else {
                throw ModelFileError(path, .corrupt, "session has \(found.count) \(tag) sections, expected 1")
            }
            return found[0].1
        }
        let json = JSONDecoder()
        func decode<T: Decodable>(_ type: T.Type, _ tag: String) throws -> T {
            do {
                return try json.decode(type, from: Data(try single(tag)))
            } catch let e as ModelFileError {
                throw e
            } catch {
                throw ModelFileError(path, .corrupt, "session \(tag) section is invalid: \(error)")
            }
        }
        let stored = try decode(ModelIdentity.self, "MODL")
        let here = ModelIdentity(model)
        if !stored.sameModel(as: here) && !replay {
            throw ModelFileError(
                path, .unsupported,
                "session was made with another model (\(stored.file), RWKV v\(stored.architecture) \(stored.layers)×\(stored.embedding), fingerprint \(stored.fingerprint)); this is \(here.file) (RWKV v\(here.architecture) \(here.layers)×\(here.embedding), fingerprint \(here.fingerprint)). Use --replay to rebuild its states on this model"
            )
        }
        let tok = try decode(TokenizerIdentity.self, "TOKZ")
        guard tok.fingerprint == tokenizer.fingerprint, tok.vocabulary == tokenizer.vocabularySize else {
            throw ModelFileError(
                path, .unsupported,
                "session was tokenized with \(tok.name) (\(tok.vocabulary) ids), not \(tokenizer.name) (\(tokenizer.vocabularySize) ids); its token ids would mean other text"
            )
        }
        let record = try decode(TreeRecord.self, "TREE")
        for n in record.tree.orderedNodes {
            if let bad = n.tokens.first(where: { $0 < 0 || $0 >= model.config.vocabulary }) {
                throw ModelFileError(path, .corrupt, "node \(n.id) holds token \(bad), outside the vocabulary")
            }
        }
        var snapshots: [NodeID: Snapshot] = [:]
        if !replay {
            for (tag, payload) in sections where tag == "SNAP" {
                let (id, snap) = try parseSnapshot(payload, path: path)
                guard record.tree[id] != nil else {
                    throw ModelFileError(path, .corrupt, "snapshot for node \(id), which is not in the tree")
                }
                guard snap.state.layout == model.stateLayout,
                    snap.logits.isEmpty || snap.logits.count == model.config.vocabulary
                else {
                    throw ModelFileError(path, .corrupt, "snapshot for node \(id) does not fit this model")
                }
                snapshots[id] = snap
            }
            guard snapshots[record.tree.root] != nil else {
                throw ModelFileError(path, .corrupt, "session has no snapshot for its root")
            }
        }
        let session = ChatSession(
            model: model, tokenizer: tokenizer, template: record.template, tree: record.tree,
            sampling: record.sampling, seed: record.seed, maxTokens: record.maxTokens,
            snapshotBudget: snapshotBudget, snapshots: snapshots)
        if replay {
            // Rebuild the root from its stored tokens; everything else follows on demand.
            var state = model.initialState()
            let tokens = record.tree[record.tree.root]?.tokens ?? []
            let logits = tokens.isEmpty ? [] : try model.sequence(tokens, state: &state)
            session.snapshots[record.tree.root] = Snapshot(state: state, logits: logits, tokenCount: tokens.count)
        }
        session.fileURL = url
        session.isDirty = replay
        return session
    }

    /// Splits a file into (tag, payload) sections, checking the header and every checksum.
    static func parseSections(_ bytes: [UInt8], path: String) throws -> [(String, [UInt8])] {
        guard bytes.count >= 16, Array(bytes[0..<8]) == magic else {
            throw ModelFileError(path, .unknownFormat, "not an rwkv-chat session file (bad magic)")
        }
        var r = ByteReader(bytes: bytes, path: path, offset: 8)
        let version: UInt32 = try r.read()
        guard version == formatVersion else {
            throw ModelFileError(
                path, .unsupported,
                "session format version \(version) is not supported (this build reads \(formatVersion))")
        }
        let count: UInt32 = try r.read()
        guard count <= 10_000_000 else { throw ModelFileError(path, .corrupt, "session claims \(count) sections") }
        var out: [(String, [UInt8])] = []
        for i in 0..<Int(count) {
            let start = r.offset
            let tag = String(decoding: try r.take(4), as: UTF8.self)
            _ = try r.read() as UInt32
            let length: UInt64 = try r.read()
            guard length <= UInt64(r.remaining) else {
                throw ModelFileError(
                    path, .truncated, "session section \(i) (\(tag)) is cut short: the file is truncated")
            }
            let payload = Array(try r.take(Int(length)))
            let end = r.offset
            let crc: UInt32 = try r.read()
            let actual = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
            guard actual == crc else {
                throw ModelFileError(
                    path, .corrupt, "session section \(i) (\(tag)) fails its checksum: the file is damaged")
            }
            out.append((tag, payload))
        }
        guard r.remaining == 0 else {
            throw ModelFileError(path, .corrupt, "session has \(r.remaining) unexpected bytes after its last section")
        }
        return out
    }

    static func parseSnapshot(_ payload: [UInt8], path: String) throws -> (NodeID, Snapshot) {
        var r = ByteReader(bytes: payload, path: path, offset: 0)
        let id = Int(try r.read() as UInt32)
        let tokenCount = Int(try r.read() as UInt64)
        let logitCount = Int(try r.read() as UInt32)
        guard logitCount * 4 <= r.remaining else { throw ModelFileError(path, .corrupt, "snapshot \(id) is malformed") }
        let logits = try r.readFloats(logitCount)
        let stateLength = Int(clamping: try r.read() as UInt64)
        guard stateLength == r.remaining else { throw ModelFileError(path, .corrupt, "snapshot \(id) is malformed") }
        let state = try State(serialized: Array(try r.take(stateLength)), path: path)
        return (id, Snapshot(state: state, logits: logits, tokenCount: tokenCount))
    }
}
