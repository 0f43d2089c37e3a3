import Conversation
import Foundation
import RWKV

/// libFuzzer entry point for the session loader: every input is written to a file and
/// loaded for the tiny fixture model; any outcome but success or a typed error is a bug.
///
/// Built only by Scripts/fuzz.sh (with `-sanitize=fuzzer`); `swift build` builds it as
/// an ordinary library so the package stays buildable without the fuzzer runtime.
enum SessionFuzzer {
    static let model: Model = {
        let path = ProcessInfo.processInfo.environment["RWKV_FUZZ_MODEL"] ?? "Tests/RWKVTests/Fixtures/tiny7.fp32.pth"
        return try! Model.load(path: path)
    }()
    static let file = FileManager.default.temporaryDirectory.appendingPathComponent("rwkv-fuzz-\(getpid()).rwkvsession")

    static func run(_ data: UnsafePointer<UInt8>, _ size: Int) {
        let bytes = Array(UnsafeBufferPointer(start: data, count: size))
        guard (try? Data(bytes).write(to: file)) != nil else { return }
        do {
            let s = try SessionFile.load(file, model: model, tokenizer: ByteTokenizer())
            _ = try s.snapshot(for: s.cursor)
            _ = s.markdown()
        } catch is ModelFileError {
        } catch is ConversationError {
        } catch {
            fatalError("untyped error from the session loader: \(error)")
        }
    }
}

/// The libFuzzer callback: loads one input as a session file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSessionLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    SessionFuzzer.run(data, size)
    return 0
}
