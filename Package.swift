// swift-tools-version:6.0
// The rwkv-chat package: a terminal chat app that runs RWKV models in-process on the CPU.
//
// Layering (imports go one way only):
//   rwkv-chat → ChatUI → Conversation → RWKV → Kernels (→ CKernels)
// Only ChatUI reaches CNcursesw.
import PackageDescription

let package = Package(
    name: "rwkv-chat",
    products: [
        .executable(name: "rwkv-chat", targets: ["rwkv-chat"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // The hottest loops (matrix products, the delta rule, exp, the thread pool)
        // with SIMD intrinsics chosen at run time. Everything else stays Swift.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]
        ),
        .target(name: "Kernels", dependencies: ["CKernels"]),
        .target(name: "RWKV", dependencies: ["Kernels"]),
        .target(name: "Conversation", dependencies: ["RWKV"]),
        .systemLibrary(
            name: "CNcursesw",
            pkgConfig: "ncursesw",
            providers: [.apt(["libncursesw5-dev"])]
        ),
        .target(name: "ChatUI", dependencies: ["Conversation", "CNcursesw"]),
        // Beside the layers: the models directory, the catalog and the downloader, used by the executable only.
        .target(name: "ModelStore"),
        .executableTarget(
            name: "rwkv-chat",
            dependencies: [
                "ChatUI", "ModelStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer target for the session loader, linked as a fuzzer by Scripts/fuzz.sh.
        .target(name: "SessionFuzzer", dependencies: ["Conversation"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "ConversationTests", dependencies: ["Conversation"]),
        // Downloads from a local HTTP server started by the tests; the catalog's well-formedness.
        .testTarget(name: "ModelStoreTests", dependencies: ["ModelStore"]),
        // Screens as text snapshots, the reducer, widths, and the app loop on an in-memory terminal.
        .testTarget(
            name: "ChatUITests", dependencies: ["ChatUI", "Conversation", "RWKV"], exclude: ["Snapshots"]),
        // Runs the built `rwkv-chat` binary as a subprocess (headless mode, signals, crash safety).
        .testTarget(name: "CLITests", dependencies: ["rwkv-chat", "Conversation"]),
        .testTarget(
            name: "RWKVTests",
            dependencies: ["RWKV"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
