import ArgumentParser

/// The `rwkv-chat` command line: the chat app and its engine tools.
@main
struct RWKVChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rwkv-chat",
        abstract: "Chat with RWKV language models in your terminal, on the CPU.",
        discussion: """
            With no subcommand, `rwkv-chat [--model PATH]` opens the full-screen chat (see \
            `rwkv-chat chat --help` for its options and keys). The tools below run RWKV v4–v7 \
            models from BlinkDL .pth, .safetensors, rwkv.cpp .bin and GGUF files.
            """,
        version: "0.1.0",
        subcommands: [
            ChatScreenCommand.self, PullCommand.self, ModelsCommand.self, ConfigCommand.self, EvalCommand.self,
            TokenizeCommand.self, DetokenizeCommand.self, InfoCommand.self,
            PerplexityCommand.self, RunCommand.self, SessionCommand.self, BenchCommand.self, QuantizeCommand.self,
        ],
        defaultSubcommand: ChatScreenCommand.self
    )
}
