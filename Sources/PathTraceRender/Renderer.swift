import PathTraceCore

/// Options every renderer takes; the CLI decides them (TTY, flags), renderers never look.
public struct RenderOptions: Sendable {
    public var color: Bool
    public var explain: Bool
    /// Show every step, pathtrace's own (`pathtrace_<id>` table) too, instead of one `traced from` line.
    public var verbose: Bool
    /// Draw each walk on the flow diagram (`pathtrace flow --trace`'s picture) under its timeline.
    public var showFlow: Bool
    /// Plain ASCII for the flow diagram instead of box drawing.
    public var ascii: Bool
    public init(
        color: Bool = false, explain: Bool = false, verbose: Bool = false, showFlow: Bool = false, ascii: Bool = false
    ) {
        self.color = color
        self.explain = explain
        self.verbose = verbose
        self.showFlow = showFlow
        self.ascii = ascii
    }
}
