import PathTraceCore

/// Writes walks as text timelines or JSON Lines into one buffer that goes to `sink` whenever it
/// fills (replay) or after every walk (live, where a walk should show as soon as it is known).
public final class WalkPrinter {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    private let format: Format
    private let verbose: Bool
    private let explain: Bool
    private let options: RenderOptions
    /// With `showFlow`: the ruleset whose missing chains the diagram marks (∅).
    public var flowRuleset: Ruleset?
    private let timeline: TextTimeline
    private let writer = JSONWriter()
    private let sink: (UnsafeRawBufferPointer) -> Void
    private let flushEachWalk: Bool
    private let flushAt = 1 << 16

    /// `sink` receives the bytes; `flushEachWalk` hands over every walk at once.
    public init(
        format: Format, options: RenderOptions, flushEachWalk: Bool,
        sink: @escaping (UnsafeRawBufferPointer) -> Void
    ) {
        self.format = format
        self.timeline = TextTimeline(options: options)
        self.verbose = options.verbose
        self.explain = options.explain
        self.options = options
        self.flushEachWalk = flushEachWalk
        self.sink = sink
    }

    public func print(_ walk: PacketWalk) {
        switch format {
        case .json:
            WalkJSON.write(walk, to: writer, verbose: verbose, explain: explain)
        case .text:
            timeline.write(walk, to: writer)
            writer.newline()
            if options.showFlow {
                writer.rawText(FlowLayout.text(of: walk, ruleset: flowRuleset, ascii: options.ascii))
            }
        }
        if flushEachWalk || writer.count >= flushAt { flush() }
    }

    public func print(_ journey: Journey) {
        switch format {
        case .json: WalkJSON.write(journey, to: writer)
        case .text: writer.rawText(timeline.render(journey) + "\n")
        }
        if flushEachWalk || writer.count >= flushAt { flush() }
    }

    /// Hands what is buffered to the sink.
    public func flush() {
        if writer.count == 0 { return }
        sink(writer.buffer)
        writer.removeAll()
    }
}
