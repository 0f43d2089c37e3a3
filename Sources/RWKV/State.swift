/// The shape of a model's recurrent state: named entries laid out one after another.
///
/// The order and shapes are the official `rwkv` package's state list, flattened,
/// so the raw values are already in its layout (docs/STATE_FORMAT.md).
public struct StateLayout: Equatable, Sendable {
    /// One entry of the state, e.g. `3.att_kv` of shape [H, N, N].
    public struct Entry: Equatable, Sendable {
        /// `<layer>.<what>`, as in the fixtures' manifests.
        public let name: String
        /// Dimensions, outermost first.
        public let shape: [Int]
        /// First float of this entry within `State.values`.
        public let offset: Int
        /// Number of floats.
        public var count: Int { shape.reduce(1, *) }
    }

    /// Entries in order.
    public let entries: [Entry]
    /// Floats in the whole state.
    public let floatCount: Int
    /// Floats per layer (every layer has the same entries).
    public let floatsPerLayer: Int

    /// Builds a layout of `layers` layers, each with the given (name, shape) entries in order.
    public init(layers: Int, perLayer: [(String, [Int])]) {
        var list: [Entry] = []
        var offset = 0
        for l in 0..<layers {
            for (name, shape) in perLayer {
                let e = Entry(name: "\(l).\(name)", shape: shape, offset: offset)
                list.append(e)
                offset += e.count
            }
        }
        entries = list
        floatCount = offset
        floatsPerLayer = perLayer.reduce(0) { $0 + $1.1.reduce(1, *) }
    }
}

/// A model's whole recurrent state: everything it remembers of the tokens it has read.
///
/// A plain value: copying it is forking the conversation, and two equal states
/// continue identically. `values` is in the official package's layout.
public struct State: Equatable, Sendable {
    /// What each float means.
    public let layout: StateLayout
    /// The floats, `layout.floatCount` of them.
    public var values: [Float]

    /// A state with the given values; `values.count` must equal `layout.floatCount`.
    public init(layout: StateLayout, values: [Float]) {
        precondition(values.count == layout.floatCount, "State: value count does not match the layout")
        self.layout = layout
        self.values = values
    }

    /// The values of the entry called `name` (e.g. `0.att_kv`), or nil.
    public func entry(_ name: String) -> ArraySlice<Float>? {
        guard let e = layout.entries.first(where: { $0.name == name }) else { return nil }
        return values[e.offset..<e.offset + e.count]
    }
}
