import PathTraceCore

/// Options every renderer takes; the CLI decides them (TTY, flags), renderers never look.
public struct RenderOptions: Sendable {
    public var color: Bool
    public var explain: Bool
    public init(color: Bool = false, explain: Bool = false) {
        self.color = color
        self.explain = explain
    }
}
