import Kernels

/// The kernel paths a test can force on this host: each with its name and the calls
/// that switch it on and back off. On a host without AVX-512 "auto" and "avx2" are
/// the same path; without AVX2 all three are the portable one.
enum KernelPaths {
    static var all: [(name: String, on: () -> Void, off: () -> Void)] {
        [
            ("auto (\(MatMul.activePath))", {}, {}),
            ("avx2", { MatMul.forceAVX2(true) }, { MatMul.forceAVX2(false) }),
            ("portable", { MatMul.forcePortable(true) }, { MatMul.forcePortable(false) }),
        ]
    }
}
