/// The semantic styles the renderer uses; a terminal maps them to colours and attributes.
public enum Style: Int, CaseIterable, Sendable {
    /// Ordinary text.
    case normal
    /// The title bar.
    case title
    /// The user's role label.
    case userLabel
    /// The assistant's role label.
    case assistantLabel
    /// Secondary text: persona, hints, collapsed thoughts.
    case dim
    /// The status line.
    case status
    /// An error message.
    case error
    /// The selected message's marker, or the selected row of a list.
    case selection
    /// Lines and frames around panels.
    case border
    /// Sibling indicators and bookmarks.
    case accent
    /// The input box.
    case input
}

/// One screen cell: a grapheme cluster (empty for the right half of a wide one) and its style.
public struct Cell: Equatable, Sendable {
    /// The cluster drawn here; "" for the second column of a two-column cluster.
    public var text: String
    /// How it is drawn.
    public var style: Style

    /// A blank cell.
    public static let blank = Cell(text: " ", style: .normal)
}

/// A screen's worth of cells: what `render` produces and a terminal draws.
public struct Frame: Equatable, Sendable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Row-major cells, `width × height`.
    public private(set) var cells: [Cell]
    /// Where the terminal cursor goes (the input caret), or nil to hide it.
    public var cursor: (x: Int, y: Int)? {
        get { cursorX.map { ($0, cursorY) } }
        set {
            cursorX = newValue?.x
            cursorY = newValue?.y ?? 0
        }
    }
    private var cursorX: Int?
    private var cursorY = 0

    /// A blank frame.
    public init(width: Int, height: Int) {
        self.width = max(width, 0)
        self.height = max(height, 0)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    /// The cell at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> Cell { cells[y * width + x] }

    /// Writes `text` from column `x` of row `y`, clipped at `maxX` (default: the right edge).
    /// Returns the column after the last one written. A wide cluster that would straddle
    /// the clip edge is replaced by a space, so no half character is ever drawn.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style, maxX: Int? = nil) -> Int {
        guard y >= 0, y < height else { return x }
        let limit = min(maxX ?? width, width)
        var col = x
        for c in text {
            let w = DisplayWidth.of(c)
            if w == 0 { continue }
            if col < 0 {
                col += w
                continue
            }
            if col + w > limit {
                if col < limit { set(col, y, Cell(text: " ", style: style)) }
                return limit
            }
            set(col, y, Cell(text: String(c), style: style))
            if w == 2 { set(col + 1, y, Cell(text: "", style: style)) }
            col += w
        }
        return col
    }

    /// Fills columns `x..<x+count` of row `y` with `char` in `style`.
    public mutating func fill(_ char: Character = " ", x: Int, y: Int, count: Int, style: Style) {
        let lo = max(x, 0), hi = min(x + count, width)
        guard y >= 0, y < height, lo < hi else { return }
        for col in lo..<hi { set(col, y, Cell(text: String(char), style: style)) }
    }

    /// Writes one cell; overwriting half of a two-column cluster blanks its other half,
    /// so a later write (a border, a marker) never leaves half a character behind.
    private mutating func set(_ x: Int, _ y: Int, _ cell: Cell) {
        let i = y * width + x
        if cells[i].text.isEmpty, cell.text != "", x > 0 {
            cells[i - 1] = Cell(text: " ", style: cells[i - 1].style)
        }
        if !cells[i].text.isEmpty, DisplayWidth.of(cells[i].text) == 2, x + 1 < width, cells[i + 1].text.isEmpty {
            cells[i + 1] = Cell(text: " ", style: cells[i + 1].style)
        }
        cells[i] = cell
    }

    /// Row `y` as text (wide clusters once), trailing spaces removed.
    public func line(_ y: Int) -> String {
        var s = ""
        for x in 0..<width { s += self[x, y].text }
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }

    /// The whole frame as text, one line per row: what snapshot tests compare.
    public var text: String { (0..<height).map(line).joined(separator: "\n") }

    /// Two frames are equal when their cells and cursor are.
    public static func == (a: Frame, b: Frame) -> Bool {
        a.width == b.width && a.height == b.height && a.cells == b.cells && a.cursorX == b.cursorX
            && a.cursorY == b.cursorY
    }
}
