import Kernels

/// The kernel paths a test can force on this host: each with its name and the calls
/// that switch it on and back off. On a host without AVX-512 "auto" and "avx2" are
/// the same path; without AVX2 all of them are the portable one.
enum KernelPaths {
    static var all: [(name: String, on: () -> Void, off: () -> Void)] {
        [
            ("auto (\(MatMul.activePath))", {}, {}),
            ("avx2", { MatMul.forceAVX2(true) }, { MatMul.forceAVX2(false) }),
            ("portable", { MatMul.forcePortable(true) }, { MatMul.forcePortable(false) }),
            // The software prefetch of the one-token kernels, forced each way (the default
            // depends on the host); it must never change a result.
            (
                "avx2, row prefetch on",
                {
                    MatMul.forceAVX2(true); MatMul.forceRowPrefetch(true)
                },
                {
                    MatMul.forceAVX2(false); MatMul.forceRowPrefetch(nil)
                }
            ),
            ("auto, row prefetch off", { MatMul.forceRowPrefetch(false) }, { MatMul.forceRowPrefetch(nil) }),
        ]
    }
}
