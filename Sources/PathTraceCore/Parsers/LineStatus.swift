/// What a format parser made of one input line.
public enum LineStatus: Sendable, Equatable {
    /// The line belonged to this format: it emitted zero or more events (a packet-only line emits none).
    case recognized
    /// Not this format; the dispatcher tries the next one.
    case notMine
    /// This format, but broken; the reason names what was wrong.
    case malformed(String)
}

/// A line that produced no event, with the reason, for the summary and `--strict`.
public struct SkippedLine: Sendable, Equatable {
    public var source: SourcePosition
    public var reason: String
    public init(source: SourcePosition, reason: String) {
        self.source = source
        self.reason = reason
    }
}
