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

    /// Where a written walk's steps go back to, to be the steps of a walk to come (replay, on the
    /// correlator's thread; see `SpareSteps`).
    public var spares: SpareSteps?

    /// Walks waiting to be written together (replay; see `Batch`).
    private let pending = Batch<PacketWalk>(capacity: 32)

    public func print(_ walk: consuming PacketWalk) {
        // The steps were filled in as their events arrived and have long left the cache: their lines
        // are loaded together here, where the writers' branches on each field would wait for them one
        // at a time. In a batch they come in while the walks before it are written.
        walk.steps.prefetch()
        if flushEachWalk {
            write(walk)
            hand()
            return
        }
        pending.append(walk)
        if pending.isFull { writePending() }
    }

    private func writePending() {
        pending.drain { walk in
            var walk = walk
            write(walk)
            spares?.recycle(&walk.steps)
            if writer.count >= flushAt { hand() }
        }
    }

    private func write(_ walk: borrowing PacketWalk) {
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
    }

    public func print(_ journey: Journey) {
        // After the walks before it, as they came.
        writePending()
        switch format {
        case .json: WalkJSON.write(journey, to: writer)
        case .text: writer.rawText(timeline.render(journey) + "\n")
        }
        if flushEachWalk || writer.count >= flushAt { hand() }
    }

    /// Writes the walks still waiting and hands what is buffered to the sink.
    public func flush() {
        writePending()
        hand()
    }

    private func hand() {
        if writer.count == 0 { return }
        sink(writer.buffer)
        writer.removeAll()
    }
}
