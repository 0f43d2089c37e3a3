import ArgumentParser

/// The `rwkv-chat` command line: the chat app and its engine tools.
@main
struct RWKVChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rwkv-chat",
        abstract: "Chat with RWKV language models in your terminal, on the CPU.",
        discussion: """
            The engine tools below run RWKV-7 models from BlinkDL .pth, .safetensors and
            rwkv.cpp .bin files. The full-screen chat is not built yet.
            """,
        version: "0.1.0",
        subcommands: [
            EvalCommand.self, TokenizeCommand.self, DetokenizeCommand.self, InfoCommand.self,
            PerplexityCommand.self, RunCommand.self, SessionCommand.self, BenchCommand.self, QuantizeCommand.self,
        ]
    )
}
