import CKernels

/// Matrix products of weight matrices with float32 activations: the hot path.
///
/// `y = W·x` for one token (generation) and `Y = X·Wᵀ` for a chunk of tokens
/// (prefill). Both run the same C kernel with the same per-output summation order,
/// so a token's result is bit-identical whether it was computed alone, in a chunk
/// of any size, or with any number of threads.
public enum MatMul {
    /// The instruction-set path in use: "avx512" (AVX2 kernels with their AVX-512
    /// variants), "avx2" or "portable".
    public static var activePath: String {
        guard ck_active_isa() == 1 else { return "portable" }
        return hasAVX512 ? "avx512" : "avx2"
    }

    /// Keeps every kernel on its AVX2 variant even where AVX-512 is available (tests and `bench --kernels avx2` compare the two).
    public static func forceAVX2(_ on: Bool) { ck_force_avx2(on ? 1 : 0) }

    /// True when the kernels run their AVX-512 variants (the host has them and they are not forced off).
    public static var hasAVX512: Bool { ck_has_avx512() == 1 }

    /// True when the one-token fp16, bf16 and Q8_0 kernels prefetch their weights in software
    /// (by default on hosts without AVX-512; it changes only the time, never a result).
    public static var rowPrefetch: Bool { ck_row_prefetch() == 1 }

    /// Turns that prefetch on or off, or (nil) back to the host's default. For tests and `bench --prefetch`.
    public static func forceRowPrefetch(_ on: Bool?) { ck_force_row_prefetch(on.map { $0 ? 1 : 0 } ?? -1) }

    /// For tests: pool workers start each batch 5 ms late, so the calling thread has to take their rows.
    static func delayWorkersForTesting(_ on: Bool) { ck_pool_test_delay_workers(on ? 1 : 0) }

    /// Rows, in groups of four, that threads have taken from another thread's share (all pools, so far).
    public static var stolenQuads: Int { Int(ck_pool_stolen_quads()) }

    /// Forces the portable path (for tests that compare paths) or restores automatic choice.
    public static func forcePortable(_ on: Bool) { ck_force_portable(on ? 1 : 0) }

    /// `y[r] = Σ_i W[r,i]·x[i]`. x: [cols], y: [rows].
    public static func vector(
        _ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        pool: ThreadPool = .serial
    ) {
        tokens(w, x, ldx: w.cols, count: 1, y, ldy: w.rows, pool: pool)
    }

    /// `Y[t][r] = Σ_i W[r,i]·X[t][i]` for t in 0..<count. X: [count][ldx], Y: [count][ldy].
    public static func tokens(
        _ w: WeightMatrix, _ x: UnsafePointer<Float>, ldx: Int, count: Int,
        _ y: UnsafeMutablePointer<Float>, ldy: Int, pool: ThreadPool = .serial
    ) {
        precondition(ldx >= w.cols && ldy >= w.rows, "MatMul: stride smaller than the matrix")
        // Splitting rows keeps every output's sum on one thread, so the thread count
        // cannot change a result. 64 rows per part keeps hand-offs rare on small layers.
        ck_pool_matmul(
            pool.handle, Int32(w.type.rawValue), w.base, Int32(w.rows), Int32(w.cols), x, Int32(ldx),
            Int32(count), y, Int32(ldy), 64, Int32(w.panelColumns))
    }

    /// One product of a batch: `Y[t][r] = Σ_i W[r,i]·X[t][i]`. X: [tokens][ldx], Y: [tokens][ldy].
    public struct Product {
        /// The weights.
        public let w: WeightMatrix
        /// The inputs, `ldx` floats apart.
        public let x: UnsafePointer<Float>
        /// Row stride of `x` in floats.
        public let ldx: Int
        /// The outputs, `ldy` floats apart.
        public let y: UnsafeMutablePointer<Float>
        /// Row stride of `y` in floats.
        public let ldy: Int

        /// A product with packed rows (`ldx = w.cols`, `ldy = w.rows`) unless strides are given.
        public init(
            _ w: WeightMatrix, _ x: UnsafePointer<Float>, ldx: Int? = nil, _ y: UnsafeMutablePointer<Float>,
            ldy: Int? = nil
        ) {
            self.w = w
            self.x = x
            self.ldx = ldx ?? w.cols
            self.y = y
            self.ldy = ldy ?? w.rows
            precondition(self.ldx >= w.cols && self.ldy >= w.rows, "MatMul: stride smaller than the matrix")
        }
    }

    /// Runs independent products over `count` tokens as one job on the pool.
    ///
    /// The products' rows are laid end to end and each thread takes a contiguous share
    /// (a thread that finishes early takes rows from the end of another's), so a batch
    /// costs one hand-off between threads instead of one per product, and products too
    /// small to split on their own (RWKV-7's LoRA factors) still run on every thread.
    /// Results equal `tokens(_:_:ldx:count:_:ldy:pool:)` of each product alone. No
    /// product may read another's output.
    public static func batch(_ products: [Product], count: Int, pool: ThreadPool = .serial) {
        let descriptors = products.map {
            ck_product(
                dtype: Int32($0.w.type.rawValue), W: $0.w.base, rows: Int32($0.w.rows), cols: Int32($0.w.cols),
                X: $0.x, ldx: Int32($0.ldx), Y: $0.y, ldy: Int32($0.ldy), panel_cols: Int32($0.w.panelColumns))
        }
        descriptors.withUnsafeBufferPointer {
            ck_pool_matmul_batch(pool.handle, $0.baseAddress, Int32($0.count), Int32(count), 64)
        }
    }
}
