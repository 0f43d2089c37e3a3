/// The colours each `Style` is drawn in: the defaults, overridable from the config file.
///
/// Colours are the eight basic terminal colours (so 8-colour terminals look the same as
/// 256-colour ones) plus "default", the terminal's own foreground or background.
/// Monochrome terminals and `NO_COLOR` ignore the palette and use attributes only.
public struct Palette: Equatable, Sendable {
    /// A foreground and a background; nil is the terminal's default.
    public struct Pair: Equatable, Sendable {
        /// Foreground colour index (0–7), or nil for the default.
        public var foreground: Int16?
        /// Background colour index (0–7), or nil for the default.
        public var background: Int16?
    }

    /// The pair of each style that is coloured (others use the terminal's colours).
    public var pairs: [Style: Pair]

    /// Colour names in curses order.
    public static let colorNames = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]

    /// Style names used in the config file.
    public static let styleNames: [String: Style] = [
        "text": .normal, "title": .title, "user": .userLabel, "assistant": .assistantLabel, "dim": .dim,
        "status": .status, "error": .error, "selection": .selection, "border": .border, "accent": .accent,
        "input": .input,
    ]

    /// The defaults.
    public static let standard = Palette(pairs: [
        .title: Pair(foreground: 0, background: 6), .userLabel: Pair(foreground: 2, background: nil),
        .assistantLabel: Pair(foreground: 6, background: nil), .status: Pair(foreground: 0, background: 7),
        .error: Pair(foreground: 7, background: 1), .selection: Pair(foreground: 0, background: 3),
        .border: Pair(foreground: 4, background: nil), .accent: Pair(foreground: 3, background: nil),
    ])

    /// Applies `{"user": "green", "title": "black on cyan"}`; returns what it could not use.
    public mutating func apply(_ overrides: [String: String]) -> [String] {
        var problems: [String] = []
        func color(_ name: Substring) -> Int16?? {
            let n = name.trimmingCharacters(in: .whitespaces).lowercased()
            if n == "default" { return .some(nil) }
            return Self.colorNames.firstIndex(of: n).map { .some(Int16($0)) }
        }
        for (styleName, spec) in overrides {
            guard let style = Self.styleNames[styleName] else {
                problems.append(
                    "unknown style '\(styleName)' (\(Self.styleNames.keys.sorted().joined(separator: ", ")))")
                continue
            }
            let parts = spec.lowercased().components(separatedBy: " on ")
            guard (1...2).contains(parts.count), let fg = color(Substring(parts[0])),
                let bg = parts.count == 2 ? color(Substring(parts[1])) : .some(nil)
            else {
                problems.append(
                    "cannot read the colour '\(spec)' for '\(styleName)' (e.g. \"green\" or \"black on cyan\")")
                continue
            }
            pairs[style] = Pair(foreground: fg, background: bg)
        }
        return problems
    }

    /// "black on cyan", "green", "default".
    public func describe(_ style: Style) -> String {
        guard let p = pairs[style] else { return "default" }
        let fg = p.foreground.map { Self.colorNames[Int($0)] } ?? "default"
        return p.background.map { "\(fg) on \(Self.colorNames[Int($0)])" } ?? fg
    }
}
