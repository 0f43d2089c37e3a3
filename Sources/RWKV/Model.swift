import Kernels

/// What one RWKV generation implements; exactly one conforming type per version file.
///
/// `Model.load` picks the implementation once from the tensor table, and every
/// later call goes through this protocol, so no code switches on the version again.
protocol ModelImplementation: AnyObject, Sendable {
    /// True when `version` is the generation this type implements.
    static func implements(_ version: ArchitectureVersion) -> Bool
    /// Binds every tensor the generation needs, checking names and shapes.
    init(table: TensorTable) throws
    /// Dimensions read from the tensors.
    var config: ModelConfig { get }
    /// The state's entries for this model.
    var stateLayout: StateLayout { get }
    /// The state before any token.
    func initialStateValues() -> [Float]
    /// Whether a state-tuning `time_state` [H, N, N] is stored with the state's last two axes swapped.
    static var stateTuningIsTransposed: Bool { get }
    /// Runs `tokens` (all < vocabulary) from `state`, updating it in place.
    /// Writes logits after the last token into `logits` ([V]), or after every token ([T][V]) when `all`.
    func forward(
        tokens: ArraySlice<Int>, state: UnsafeMutablePointer<Float>, all: Bool,
        logits: UnsafeMutablePointer<Float>, pool: ThreadPool)
}

/// A token id outside the model's vocabulary, or another request a model cannot run.
public struct InferenceError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What was wrong with the request.
    public let detail: String
    /// Creates an error.
    public init(_ detail: String) { self.detail = detail }
    /// The detail sentence.
    public var description: String { detail }
}

/// A loaded RWKV model: its weights, its dimensions, and step and sequence inference.
public final class Model: @unchecked Sendable {
    /// The file the model was loaded from.
    public let path: String
    /// The file's container format.
    public let format: ModelFormat
    /// Dimensions and generation.
    public let config: ModelConfig
    /// The state layout of this model.
    public let stateLayout: StateLayout
    /// See `ModelImplementation.stateTuningIsTransposed`.
    var stateTuningIsTransposed: Bool { type(of: impl).stateTuningIsTransposed }
    /// The tensors, kept so that `info` can list them and their memory stays mapped.
    public let tensors: TensorTable
    /// The threads matrix products are split across. Results do not depend on it.
    public var pool: ThreadPool

    /// Tokens run through the model since it was loaded (a counter for tests and statistics).
    public private(set) var tokensEvaluated = 0

    private let impl: ModelImplementation
    let fingerprintCache = LazyBox<String>()

    /// The generations this build can run, each implemented in its own file.
    static let implementations: [ModelImplementation.Type] = [RWKV7.self, RWKV6.self, RWKV5.self, RWKV4.self]

    /// Loads the model at `path` (any supported format), detecting its generation once.
    ///
    /// `precision`, when given, converts the large matrices to that type once at load
    /// (`TensorTable.convertLargeMatrices`); without it the file's types are used in place.
    public static func load(path: String, threads: Int = 1, precision: WeightType? = nil) throws -> Model {
        let table = try ModelFormat.open(path: path)
        if let precision { table.convertLargeMatrices(to: precision) }
        let version = ArchitectureVersion.detect(table)
        guard let type = implementations.first(where: { $0.implements(version) }) else {
            throw ModelFileError(
                path, .unsupported,
                "RWKV v\(version.rawValue) models are not supported yet (this build runs RWKV-7)")
        }
        return Model(path: path, table: table, impl: try type.init(table: table), threads: threads)
    }

    /// Wraps an already-built tensor table (used for synthetic models).
    static func load(table: TensorTable, threads: Int) throws -> Model {
        let version = ArchitectureVersion.detect(table)
        guard let type = implementations.first(where: { $0.implements(version) }) else {
            throw ModelFileError(table.path, .unsupported, "RWKV v\(version.rawValue) is not supported")
        }
        return Model(path: table.path, table: table, impl: try type.init(table: table), threads: threads)
    }

    private init(path: String, table: TensorTable, impl: ModelImplementation, threads: Int) {
        self.path = path
        self.format = table.format
        self.tensors = table
        self.impl = impl
        self.config = impl.config
        self.stateLayout = impl.stateLayout
        self.pool = ThreadPool(threadCount: threads)
    }

    /// The state before any token has been read.
    public func initialState() -> State {
        State(layout: stateLayout, values: impl.initialStateValues())
    }

    /// Step mode: reads one token, updates `state`, returns the next-token logits [V].
    public func step(_ token: Int, state: inout State) throws -> [Float] {
        try sequence([token], state: &state)
    }

    /// Sequence mode: reads `tokens` in one call (projections as matrix-matrix
    /// products), updates `state`, and returns logits after the last token [V], or
    /// after every token [T × V] row-major when `allLogits`.
    public func sequence(_ tokens: [Int], state: inout State, allLogits: Bool = false) throws -> [Float] {
        guard !tokens.isEmpty else { throw InferenceError("no tokens to evaluate") }
        guard state.layout == stateLayout else { throw InferenceError("the state belongs to a different model") }
        let vocab = config.vocabulary
        if let bad = tokens.first(where: { $0 < 0 || $0 >= vocab }) {
            throw InferenceError("token \(bad) is outside the model's vocabulary (0..<\(vocab))")
        }
        tokensEvaluated += tokens.count
        let rows = allLogits ? tokens.count : 1
        var logits = [Float](repeating: 0, count: rows * vocab)
        state.values.withUnsafeMutableBufferPointer { s in
            logits.withUnsafeMutableBufferPointer { out in
                impl.forward(
                    tokens: tokens[...], state: s.baseAddress!, all: allLogits, logits: out.baseAddress!, pool: pool)
            }
        }
        return logits
    }

    /// Number of parameters (elements of every tensor).
    public var parameterCount: Int { tensors.tensors.reduce(0) { $0 + $1.count } }
}
