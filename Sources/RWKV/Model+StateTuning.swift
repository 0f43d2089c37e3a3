/// Initial states from RWKV state tuning.
extension Model {
    /// The initial state with each layer's wkv matrix taken from a state-tuning file.
    ///
    /// State tuning (RWKV-PEFT, used by RWKV Runner and Ai00) trains only the initial
    /// state and saves it as `blocks.N.att.time_state` in a `.pth` or `.safetensors`
    /// file. For RWKV-7 the tensor is [H, N, N] in the same [head, value, key] order as
    /// the state, so it is used as is; for v5/v6 its last two axes are swapped, as the
    /// official package and RWKV Runner do. RWKV-4 has no matrix state to tune.
    /// Token-shift entries start at zero. Every layer must be present with the model's
    /// head count and size, or the file is refused with a message saying what differs.
    public func initialState(fromStateTuning path: String) throws -> State {
        guard stateLayout.entries.contains(where: { $0.name.hasSuffix(".att_kv") }) else {
            throw ModelFileError(
                path, .unsupported, "RWKV v\(config.version.rawValue) has no matrix state that state tuning could set")
        }
        let table = try ModelFormat.open(path: path)
        var state = initialState()
        let c = config
        let expected = [c.headCount, c.headSize, c.headSize]
        for l in 0..<c.layerCount {
            let name = "blocks.\(l).att.time_state"
            guard let t = table[name] else {
                throw ModelFileError(
                    path, .missingTensor,
                    "state file has no '\(name)' (it needs one per layer; this model has \(c.layerCount))")
            }
            guard t.squeezedShape == expected.filter({ $0 != 1 }) || t.shape == expected else {
                throw ModelFileError(
                    path, .badShape,
                    "'\(name)' has shape \(t.shape), but this model's state is \(expected): the state was tuned for another model"
                )
            }
            guard let entry = stateLayout.entries.first(where: { $0.name == "\(l).att_kv" }) else {
                throw ModelFileError(path, .unsupported, "this model has no wkv state to initialise")
            }
            var values = t.floats()
            if stateTuningIsTransposed {
                let n = c.headSize
                var swapped = values
                for hh in 0..<c.headCount {
                    for i in 0..<n {
                        for j in 0..<n { swapped[(hh * n + i) * n + j] = values[(hh * n + j) * n + i] }
                    }
                }
                values = swapped
            }
            state.values.replaceSubrange(entry.offset..<(entry.offset + entry.count), with: values)
        }
        if table["blocks.\(c.layerCount).att.time_state"] != nil {
            throw ModelFileError(path, .badShape, "state file has more layers than this model's \(c.layerCount)")
        }
        return state
    }
}
