import Conversation
import Foundation

/// What the screen shows of a session: a copy made on the worker's thread after each command.
///
/// The session itself belongs to the worker (it is not thread-safe); the UI only ever
/// reads this value, so drawing never races generation.
public struct SessionView: Equatable, Sendable {
    /// The conversation tree (a value: copying it is cheap).
    public var tree: ConversationTree
    /// The template's name.
    public var templateName: String
    /// Tokens the active node's state has read.
    public var contextTokens: Int
    /// Memory held by in-memory snapshots.
    public var snapshotBytes: Int
    /// True when there are changes not yet saved.
    public var isDirty: Bool
    /// The session file, if any.
    public var fileURL: URL?
    /// Speeds of the last reply.
    public var prefillTokensPerSecond: Double, generationTokensPerSecond: Double

    /// A view of `session` (call on the thread that owns the session).
    public init(_ session: ChatSession) {
        tree = session.tree
        templateName = session.template.name
        contextTokens = session.tree.activePath.reduce(0) { $0 + (session.tree[$1]?.tokens.count ?? 0) }
        snapshotBytes = session.snapshotBytes
        isDirty = session.isDirty
        fileURL = session.fileURL
        prefillTokensPerSecond = session.lastPrefillTokensPerSecond
        generationTokensPerSecond = session.lastGenerationTokensPerSecond
    }

    /// A view built from parts (tests).
    public init(tree: ConversationTree, templateName: String = "default") {
        self.tree = tree
        self.templateName = templateName
        contextTokens = tree.activePath.reduce(0) { $0 + (tree[$1]?.tokens.count ?? 0) }
        snapshotBytes = 0
        isDirty = false
        fileURL = nil
        prefillTokensPerSecond = 0
        generationTokensPerSecond = 0
    }
}

/// One saved session in the session browser.
public struct SessionEntry: Equatable, Sendable {
    /// The file.
    public var url: URL
    /// The model file it was made with.
    public var model: String
    /// Last modification time (seconds since 1970).
    public var modified: Double
    /// Number of user messages.
    public var turns: Int
    /// File size in bytes.
    public var bytes: Int
    /// Why it could not be read, if it could not.
    public var problem: String?

    /// Creates an entry.
    public init(url: URL, model: String, modified: Double, turns: Int, bytes: Int, problem: String? = nil) {
        (self.url, self.model, self.modified, self.turns, self.bytes, self.problem) =
            (url, model, modified, turns, bytes, problem)
    }

    /// The file name without its extension.
    public var name: String { url.deletingPathExtension().lastPathComponent }
}

/// A reply being generated, shown before the worker reports the finished session.
public struct PendingReply: Equatable, Sendable {
    /// Nodes shown above it (a prefix of the active path, or the path to the edited message's parent).
    public var basePath: [NodeID]
    /// The user message being sent, if this command sends one.
    public var userText: String?
    /// Text the reply already had (for /continue).
    public var prefix: String
    /// Text streamed so far.
    public var text: String
}

/// The whole state of the UI: the screen is `render(state)`.
public struct AppState: Equatable, Sendable {
    /// Which screen is in front.
    public enum Mode: Equatable, Sendable {
        /// The transcript and input box.
        case chat
        /// The conversation tree (a side panel on wide terminals).
        case tree
        /// Saved sessions.
        case sessions
        /// The key and command list.
        case help
        /// Multi-line output of a command (/info, /tree, /provenance…), scrollable.
        case info(String)
        /// A one-line question at the bottom (file name, new name, search text).
        case prompt(PromptKind)
        /// A yes/no question.
        case confirm(ConfirmKind)
        /// No model to chat with: how to get one.
        case noModel(String)
    }

    /// What a one-line prompt asks for.
    public enum PromptKind: Equatable, Sendable {
        /// Ctrl-S: a path or name to save the session as.
        case saveAs
        /// Rename the selected session in the browser.
        case rename(URL)
        /// Search text across all branches (tree view).
        case search
    }

    /// What a confirmation is about.
    public enum ConfirmKind: Equatable, Sendable {
        /// Delete a subtree (tree view).
        case deleteNode(NodeID)
        /// Delete a saved session file.
        case deleteSession(URL)
    }

    /// Terminal size.
    public var width: Int, height: Int
    /// The front screen.
    public var mode: Mode = .chat
    /// The session as last reported by the worker.
    public var view: SessionView?
    /// Model file name and precision, for the title and status line.
    public var modelLabel: String
    /// The input box.
    public var input = InputEditor()
    /// Sent messages, oldest first, for Up/Down recall.
    public var history: [String] = []
    /// Position in `history` while recalling, and the draft that was in the box before.
    public var historyIndex: Int?
    /// The unsent text saved when history recall started.
    public var draft = ""
    /// The user message being edited with Ctrl-E (its node), if any.
    public var editing: NodeID?
    /// True while a command runs on the worker.
    public var busy = false
    /// The reply being generated.
    public var pending: PendingReply?
    /// The message selected with Alt-Up/Alt-Down, if any.
    public var selected: NodeID?
    /// Transcript scroll: lines above the bottom.
    public var scroll = 0
    /// Whether `<think>` sections are shown in full.
    public var showThinking = false
    /// A message shown in the status line until `transientUntil`.
    public var transient: String?
    /// Whether `transient` is an error.
    public var transientIsError = false
    /// When the transient message disappears (seconds since 1970).
    public var transientUntil: Double = 0
    /// The clock, advanced by `.tick`.
    public var now: Double = 0
    /// Tree view: the highlighted node.
    public var treeSelection: NodeID?
    /// Tree view: the last search and its hits, in tree order.
    public var searchText = ""
    /// Nodes whose text contains `searchText`.
    public var searchHits: [NodeID] = []
    /// Session browser: the list and the highlighted row.
    public var sessions: [SessionEntry] = []
    /// Highlighted row in `sessions`.
    public var sessionIndex = 0
    /// The one-line prompt's editor.
    public var promptInput = InputEditor()
    /// Scroll position of the info and help overlays.
    public var overlayScroll = 0
    /// Candidates shown after Tab.
    public var completions: [String] = []
    /// Set when the app should end.
    public var quitRequested = false
    /// True while a bracketed paste is arriving.
    public var pasting = false
    /// The mode to go back to when an overlay closes.
    public var returnMode: Mode = .chat
    /// Key bindings of chat mode.
    public var keys = KeyMap.standard
    /// Whether the model is the bundled demo (the status line says so).
    public var isDemoModel = false
    /// Where saved sessions live, shown in the session browser.
    public var sessionsDirectory = ""

    /// True when the tree view is on screen (also behind its search prompt and delete question).
    public var showsTree: Bool {
        switch mode {
        case .tree, .prompt(.search), .confirm(.deleteNode): return true
        default: return false
        }
    }

    /// True when the session browser is on screen (also behind its rename and delete questions).
    public var showsSessions: Bool {
        switch mode {
        case .sessions, .prompt(.rename), .confirm(.deleteSession): return true
        default: return false
        }
    }

    /// A state for a terminal of the given size.
    public init(width: Int, height: Int, modelLabel: String) {
        self.width = width
        self.height = height
        self.modelLabel = modelLabel
    }

    /// The smallest terminal the UI draws in.
    public static let minimumWidth = 40, minimumHeight = 10
}

/// Something the reducer asks the app to do outside the state.
public enum Effect: Equatable, Sendable {
    /// Run a command line (message or /command) on the worker.
    case submit(String)
    /// Stop the reply being generated.
    case cancelGeneration
    /// Read the sessions directory and report `.sessionList`.
    case listSessions
    /// Rename a session file.
    case renameSession(URL, String)
    /// Delete a session file.
    case deleteSession(URL)
    /// Complete a path for the input box and report `.completions`.
    case completePath(String)
    /// Save (if needed) and end the program.
    case quit
}
