import ChatUI
import Conversation
import Foundation

/// `rwkv-chat bench --ui`: how long the full-screen chat takes to react, without a terminal.
extension BenchCommand {
    /// Median seconds of `body` over `repeats` runs.
    static func median(_ repeats: Int, _ body: () -> Void) -> Double {
        var times: [Double] = []
        for _ in 0..<max(repeats, 1) {
            let t = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    /// Times the reducer and the renderer on a 10,000-character paste and a 500-turn session.
    func runUI() {
        let n = max(repeats, 9)
        // A 10,000-character paste (Latin, CJK and emoji, with newlines) in an 80×24 chat.
        let paste = String(
            String(repeating: "Lorem ipsum dolor sit amet, 中文 😀 consectetur.\n", count: 250).prefix(10_000))
        let tree = ConversationTree.synthetic(turns: 500)
        var small = AppState(width: 80, height: 24, modelLabel: "bench")
        small.view = SessionView(
            tree: ConversationTree(root: Turn(id: 0, parent: nil, role: .persona, text: "", tokens: [], created: 0)))
        let pasteReduce = Self.median(n) {
            var s = small
            _ = s.reduce(.key(.pasteStart))
            _ = s.reduce(.text(paste))
            _ = s.reduce(.key(.pasteEnd))
        }
        _ = small.reduce(.key(.pasteStart))
        _ = small.reduce(.text(paste))
        _ = small.reduce(.key(.pasteEnd))
        let pasteFrame = Self.median(n) { _ = Renderer.render(small) }
        let keyFrame = Self.median(n) {
            var s = small
            _ = s.reduce(.text("x"))
            _ = Renderer.render(s)
        }
        var big = AppState(width: 120, height: 40, modelLabel: "bench")
        big.view = SessionView(tree: tree)
        let chatFrame = Self.median(n) { _ = Renderer.render(big) }
        let select = Self.median(n) {
            var s = big
            _ = s.reduce(.key(.altUp))
            _ = Renderer.render(s)
        }
        var topState = big
        _ = topState.reduce(.key(.home))
        let top = Self.median(n) { _ = Renderer.render(topState) }
        var treeState = big
        _ = treeState.reduce(.key(.ctrl("t")))
        let treeFrame = Self.median(n) { _ = Renderer.render(treeState) }
        let ms = { (x: Double) in String(format: "%.2f ms", x * 1000) }
        print("UI (medians of \(n)):")
        print(
            "  10,000-character paste: reduce \(ms(pasteReduce)), frame with it \(ms(pasteFrame)), next key + frame \(ms(keyFrame))"
        )
        print(
            "  500-turn session at 120×40: frame \(ms(chatFrame)), select a message + frame \(ms(select)), frame scrolled to the top \(ms(top)), tree view frame \(ms(treeFrame))"
        )
    }
}
