import Foundation
import RWKV

/// A per-user cache of the state after a template's preamble, so starting a chat never re-reads the persona.
///
/// Keyed by the model's fingerprint, the tokenizer's fingerprint and a hash of the
/// preamble's token ids. Files are `RWKVPSNA` snapshots (docs/SESSION_FORMAT.md,
/// "Persona cache"); a damaged or foreign entry is ignored and rewritten.
public struct PersonaCache: Sendable {
    /// Where entries live.
    public let directory: URL

    /// A cache in `directory`.
    public init(directory: URL) { self.directory = directory }

    /// `$XDG_CACHE_HOME/rwkv-chat/personas` (default `~/.cache/rwkv-chat/personas`).
    public static var standard: PersonaCache {
        PersonaCache(directory: UserDirectory.cache.appending("personas"))
    }

    static let magic = Array("RWKVPSNA".utf8)

    /// The entry's file for these inputs.
    func url(model: Model, tokenizer: Tokenizer, tokens: [Int]) -> URL {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for t in tokens {
            h ^= UInt64(truncatingIfNeeded: t)
            h = h &* 0x100_0000_01b3
        }
        let key = "\(model.fingerprint)-\(tokenizer.fingerprint)-\(String(h, radix: 16))"
        return directory.appendingPathComponent("\(key).rwkvpersona")
    }

    /// The cached snapshot after `tokens`, or nil when there is none (or it is unusable).
    func load(model: Model, tokenizer: Tokenizer, tokens: [Int]) -> Snapshot? {
        let u = url(model: model, tokenizer: tokenizer, tokens: tokens)
        guard let bytes = try? FileBytes.read(u.path), bytes.count > 16, Array(bytes[0..<8]) == Self.magic else {
            return nil
        }
        let body = Array(bytes[8..<(bytes.count - 4)])
        let stored = bytes[(bytes.count - 4)...].enumerated().reduce(UInt32(0)) {
            $0 | UInt32($1.element) << (8 * $1.offset)
        }
        guard CRC32.checksum(body) == stored,
            let (_, snap) = try? SessionFile.parseSnapshot(body, path: u.path),
            snap.state.layout == model.stateLayout, snap.tokenCount == tokens.count,
            snap.logits.count == model.config.vocabulary
        else { return nil }
        return snap
    }

    /// Stores `snapshot` for these inputs; failures are ignored (the cache is only an optimisation).
    func store(_ snapshot: Snapshot, model: Model, tokenizer: Tokenizer, tokens: [Int]) {
        var bytes = Self.magic
        bytes += SessionFile.snapshotPayload(0, snapshot)
        bytes.appendLE(CRC32.checksum(Array(bytes[8...])))
        try? SessionFile.writeAtomically(bytes, to: url(model: model, tokenizer: tokenizer, tokens: tokens))
    }
}
