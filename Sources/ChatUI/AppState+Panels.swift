import Conversation
import Foundation

/// The reducer for the tree view, the session browser, the overlays, prompts and confirmations.
extension AppState {
    // MARK: - Tree view

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    mutating func treeKey(_ key: Key) -> [Effect] {
        guard let tree = view?.tree else { return [] }
        let rows = TreeRows.rows(tree)
        let current = treeSelection ?? tree.cursor
        let index = rows.firstIndex { $0.id == current } ?? 0
        func select(_ id: NodeID?) { if let id { treeSelection = id } }
        if keys.binding(for: key) == .tree || key == .escape || key == .ctrl("c") {
            mode = .chat
            return []
        }
        if keys.binding(for: key) == .help {
            returnMode = .tree
            overlayScroll = 0
            mode = .help
            return []
        }
        switch key {
        case .up: select(rows[max(index - 1, 0)].id)
        case .down: select(rows[min(index + 1, rows.count - 1)].id)
        case .pageUp: select(rows[max(index - 10, 0)].id)
        case .pageDown: select(rows[min(index + 10, rows.count - 1)].id)
        case .home: select(rows.first?.id)
        case .end: select(rows.last?.id)
        case .left: select(tree[current]?.parent)
        case .right:
            if let n = tree[current], !n.children.isEmpty {
                let onPath = tree.activePath.first { n.children.contains($0) }
                select(onPath ?? n.children.first)
            }
        case .char("["), .char("]"):
            let (ids, i) = tree.siblings(of: current)
            let j = i + (key == .char("]") ? 1 : -1)
            if ids.indices.contains(j) { select(ids[j]) }
        case .enter:
            guard !busy else {
                notify("still working: wait, or press \(keys.label(.cancel)) in the chat to stop", error: true)
                return []
            }
            busy = true
            selected = current == tree.root ? nil : current
            scroll = 0
            if ScreenLayout(self).panelWidth == 0 { mode = .chat }
            return [.submit("/goto \(current)")]
        case .char("b"):
            guard !busy else { return [] }
            busy = true
            return [.submit("/bookmark \(current)")]
        case .char("d"), .delete:
            guard current != tree.root else {
                notify("the start of the conversation cannot be deleted", error: true)
                return []
            }
            mode = .confirm(.deleteNode(current))
        case .char("/"):
            promptInput = InputEditor(text: searchText)
            mode = .prompt(.search)
        case .char("n"), .char("N"):
            guard !searchHits.isEmpty else {
                notify("no search yet: press / to search")
                return []
            }
            let order = rows.map(\.id)
            let pos = order.firstIndex(of: current) ?? 0
            let hitsAfter = searchHits.filter { (order.firstIndex(of: $0) ?? 0) > pos }
            let hitsBefore = searchHits.filter { (order.firstIndex(of: $0) ?? 0) < pos }
            select(key == .char("n") ? (hitsAfter.first ?? searchHits.first) : (hitsBefore.last ?? searchHits.last))
        default: break
        }
        return []
    }

    // MARK: - Session browser

    mutating func sessionsKey(_ key: Key) -> [Effect] {
        if key == .escape || keys.binding(for: key) == .sessions || key == .ctrl("c") {
            mode = .chat
            return []
        }
        let entry = sessions.indices.contains(sessionIndex) ? sessions[sessionIndex] : nil
        switch key {
        case .up: sessionIndex = max(sessionIndex - 1, 0)
        case .down: sessionIndex = min(sessionIndex + 1, max(sessions.count - 1, 0))
        case .enter:
            guard let entry else { return [] }
            guard !busy else {
                notify("still working: wait before opening another session", error: true)
                return []
            }
            guard entry.problem == nil else {
                notify("\(entry.name): \(entry.problem!)", error: true)
                return []
            }
            busy = true
            selected = nil
            scroll = 0
            mode = .chat
            return [.submit("/load \(entry.url.path)")]
        case .char("n"):
            guard !busy else { return [] }
            busy = true
            mode = .chat
            return [.submit("/new")]
        case .char("r"):
            guard let entry else { return [] }
            promptInput = InputEditor(text: entry.name)
            mode = .prompt(.rename(entry.url))
        case .char("d"), .delete:
            guard let entry else { return [] }
            if entry.url.standardizedFileURL == view?.fileURL?.standardizedFileURL {
                notify("this is the open session; open another one before deleting it", error: true)
                return []
            }
            mode = .confirm(.deleteSession(entry.url))
        default: break
        }
        return []
    }

    // MARK: - Overlays, prompts, confirmations

    mutating func overlayKey(_ key: Key) -> [Effect] {
        switch key {
        case .up: overlayScroll = max(overlayScroll - 1, 0)
        case .down: overlayScroll += 1
        case .pageUp: overlayScroll = max(overlayScroll - (height - 4), 0)
        case .pageDown: overlayScroll += height - 4
        case .home: overlayScroll = 0
        default:
            if key == .escape || key == .enter || key == .char("q") || key == .ctrl("c")
                || keys.binding(for: key) == .help
            {
                mode = returnMode
            }
        }
        return []
    }

    mutating func promptKey(_ key: Key, _ kind: PromptKind) -> [Effect] {
        switch key {
        case .escape, .ctrl("c"):
            mode = kind == .search ? .tree : (kind == .saveAs ? .chat : .sessions)
        case .backspace: promptInput.backspace()
        case .delete: promptInput.deleteForward()
        case .left: promptInput.move(-1)
        case .right: promptInput.move(1)
        case .home, .ctrl("a"): promptInput.home()
        case .end: promptInput.end()
        case .ctrl("u"): promptInput.killToLineStart()
        case .ctrl("w"): promptInput.killWordBack()
        case .enter:
            let text = promptInput.text.trimmingCharacters(in: .whitespaces)
            switch kind {
            case .saveAs:
                mode = .chat
                guard !text.isEmpty else { return [] }
                guard !busy else { return refuseBusyPanel() }
                busy = true
                return [.submit("/save \(SessionFile.resolve(text).path)")]
            case .rename(let url):
                mode = .sessions
                guard !text.isEmpty, !text.contains("/") else {
                    notify("a session name cannot be empty or contain /", error: true)
                    return []
                }
                return [.renameSession(url, text)]
            case .search:
                mode = .tree
                searchText = text
                searchHits = view.map { TreeRows.search($0.tree, text) } ?? []
                if let first = searchHits.first {
                    treeSelection = first
                    notify(
                        "\(searchHits.count) match\(searchHits.count == 1 ? "" : "es"): n next, N previous, Enter opens"
                    )
                } else {
                    notify("no message contains “\(text)”")
                }
            }
        default: break
        }
        return []
    }

    private mutating func refuseBusyPanel() -> [Effect] {
        notify("still working: try again when the reply is done", error: true)
        return []
    }

    mutating func confirmKey(_ key: Key, _ kind: ConfirmKind) -> [Effect] {
        switch (key, kind) {
        case (.char("y"), .deleteNode(let id)), (.char("Y"), .deleteNode(let id)):
            mode = .tree
            guard !busy else { return refuseBusyPanel() }
            busy = true
            treeSelection = view?.tree[id]?.parent
            return [.submit("/delete \(id)")]
        case (.char("y"), .deleteSession(let url)), (.char("Y"), .deleteSession(let url)):
            mode = .sessions
            return [.deleteSession(url)]
        case (.char("n"), _), (.char("N"), _), (.escape, _), (.ctrl("c"), _):
            if case .deleteNode = kind { mode = .tree } else { mode = .sessions }
        default: break
        }
        return []
    }
}
