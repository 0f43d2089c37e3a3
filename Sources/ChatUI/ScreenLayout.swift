/// Where each part of the chat screen goes for a given state and terminal size.
///
/// Row 0 is the title bar, then the transcript, a separator, the input box (one
/// row, growing with its text up to a third of the screen, then scrolling), and
/// the status line at the bottom. On terminals at least 100 columns wide the tree
/// view is a side panel on the right; narrower ones show it full screen.
public struct ScreenLayout: Equatable, Sendable {
    /// Columns of the transcript (and input box).
    public var chatWidth: Int
    /// Columns of the tree side panel (0 when it is not shown as a side panel).
    public var panelWidth: Int
    /// First row and height of the transcript.
    public var transcriptTop: Int, transcriptHeight: Int
    /// Row of the separator above the input box.
    public var separatorRow: Int
    /// First row and number of rows of the input box.
    public var inputTop: Int, inputRows: Int
    /// Row of the status line.
    public var statusRow: Int

    /// Columns taken by the input box prompt ("› ").
    static let promptWidth = 2

    /// The layout of `state`.
    public init(_ state: AppState) {
        let w = state.width, h = state.height
        panelWidth = state.showsTree && w >= 100 ? min(48, w * 2 / 5) : 0
        chatWidth = w - panelWidth
        let lines = state.input.layout(width: chatWidth - Self.promptWidth).rows.count
        inputRows = min(max(lines, 1), max(1, (h - 4) / 3))
        statusRow = h - 1
        inputTop = statusRow - inputRows
        separatorRow = inputTop - 1
        transcriptTop = 1
        transcriptHeight = max(separatorRow - transcriptTop, 0)
    }

    /// True when the terminal is too small to draw the UI.
    public static func tooSmall(_ state: AppState) -> Bool {
        state.width < AppState.minimumWidth || state.height < AppState.minimumHeight
    }
}
