/// A model, vocabulary or state file that cannot be used, with the file and the reason.
///
/// Every loader reports problems with this one type, so the executable can print
/// `path: problem` and exit, and tests can check the kind without parsing text.
public struct ModelFileError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The broad class of problem, for callers that react differently to each.
    public enum Kind: String, Sendable {
        /// The file does not exist or cannot be opened or mapped.
        case unreadable
        /// The file is shorter than its own header or records say.
        case truncated
        /// The file's type is not one rwkv-chat reads.
        case unknownFormat
        /// The file's type is known but its structure is inconsistent.
        case corrupt
        /// The file is valid but uses a feature not supported (yet).
        case unsupported
        /// A tensor the architecture needs is absent.
        case missingTensor
        /// A tensor has a shape or type that does not fit the architecture.
        case badShape
        /// A companion file (such as the vocabulary) is needed but was not found.
        case missingFile
    }

    /// The file the problem is in.
    public let path: String
    /// What class of problem it is.
    public let kind: Kind
    /// A sentence saying what is wrong.
    public let detail: String

    /// Creates an error for `path`.
    public init(_ path: String, _ kind: Kind, _ detail: String) {
        self.path = path
        self.kind = kind
        self.detail = detail
    }

    /// `path: detail`, the form printed to the user.
    public var description: String { "\(path): \(detail)" }
}
