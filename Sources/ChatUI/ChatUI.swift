import CNcursesw
import Conversation

/// Placeholder namespace for the full-screen chat (issue: ncursesw TUI).
///
/// Known limit: the UI is not built yet. The module links ncursesw so the build
/// and CI already prove the system library is installed and found.
public enum ChatUIModule {
    /// The ncurses version string of the linked library.
    public static var cursesVersion: String { String(cString: curses_version()) }
}
