/// Replay: bytes → line splitter → per-line format detection and parsing → correlator → walks.
///
/// The command line and the tests call it the same way: feed sources in order, take each walk the
/// filter selects through `emit` as soon as it is finished, and the summary at the end. Memory is
/// bounded by the correlator's window and the longest line, whatever the input's size.
public struct ReplayPipeline {
    /// What a replay read and made, for the summary on stderr.
    public struct Summary: Sendable {
        public var stats: Correlator.Stats
        /// Walks the filter let through.
        public var shown: Int
        public var skipped: SkipReport
        /// Paths across namespaces (with a topology).
        public var journeys: Int

        /// `pathtrace: 12 events, 2 walks (0 incomplete), 3 lines skipped` and a line per skip reason.
        public var lines: [String] {
            var summary =
                "\(plural(stats.events, "event")), \(plural(stats.walks, "walk")) (\(stats.incomplete) incomplete)"
            if shown != stats.walks { summary += ", \(shown) shown after filtering" }
            summary += ", \(plural(skipped.count, "line")) skipped"
            return [summary] + skipped.summaryLines().map { "  " + $0 }
        }
    }

    private var correlator: NamespacedCorrelator
    private let counter: ShownCounter
    private let stage: TopologyStage
    private var skipped = SkipReport()
    /// Where the walks' step arrays go back to once they are written (see `SpareSteps`): the consumer
    /// of `emit` recycles into it on the thread that calls `read`.
    public var spares: SpareSteps { correlator.spares }

    /// Every skipped line, as it is found (the summary keeps only the first few of each reason).
    public var onSkip: ((SkippedLine) -> Void)?

    /// `emit` receives each walk `filter` selects, in the order walks started (per namespace). With a
    /// topology, walks name their devices and why they vanished, and `finish` returns the journeys.
    public init(
        lookup: RuleLookup? = nil, topology: Topology? = nil, filter: WalkFilter = WalkFilter(),
        options: Correlator.Options = .init(), emit: @escaping (consuming PacketWalk) -> Void
    ) {
        let counter = ShownCounter()
        let stage = TopologyStage(topology: topology)
        self.counter = counter
        self.stage = stage
        // Without criteria every walk is shown: that is decided once, not by comparing the filter per walk.
        let everyWalk = filter.isEmpty
        // Journeys need a topology: without one there are none to hand out after each walk.
        let journeys = topology != nil
        correlator = NamespacedCorrelator(lookup: { stage.lookup(base: lookup, netns: $0) }, options: options) {
            (walk: consuming PacketWalk) in
            stage.process(&walk)
            if everyWalk || filter.matches(walk) {
                counter.value += 1
                emit(walk)
            }
            if journeys { stage.deliverJourneys() }
        }
    }

    /// Each path across namespaces, once it has ended (needs a topology).
    public var onJourney: (Journey) -> Void {
        get { stage.onJourney }
        set { stage.onJourney = newValue }
    }

    /// Whether `read` parses on a thread of its own while this one correlates and prints (`ParseAhead`):
    /// worth it only with a second core to run on. The walks are the same either way.
    public var parsesAhead = false

    /// Reads one source to its end; its lines are numbered from 1 and cited as `name:line`. Its events
    /// belong to namespace `netns` unless a saved event names its own.
    public mutating func read(_ source: some ByteSource, netns: String? = nil) throws {
        guard parsesAhead else {
            // A window of lines is parsed, then correlated (see `Batch`): 256 events (43 KB) stay in
            // the second-level cache. A skipped line first lets the events before it through, so skips
            // are reported in input order, and so does the end of each chunk the source hands over, so
            // a slow stream's walks do not wait for lines yet to come.
            let batch = Batch<TraceEvent>(capacity: 256)
            try ReplayPipeline.parseLines(
                source,
                skip: {
                    self.correlate(batch, netns: netns)
                    self.skip($0)
                },
                chunkEnd: { self.correlate(batch, netns: netns) }
            ) { event in
                batch.append(copyOf: event)
                if batch.isFull { self.correlate(batch, netns: netns) }
            }
            correlate(batch, netns: netns)
            return
        }
        let box = UncheckedSendable(source)
        let ahead = ParseAhead { send in
            try ReplayPipeline.parse(
                box.value, netns: netns, event: { send(.event($0, netns: $1)) }, skip: { send(.skip($0)) })
        }
        try ahead.forEach { item in
            switch item {
            case .event(let event, let netns): correlator.add(event, netns: netns)
            case .skip(let line): skip(line)
            }
        }
    }

    /// Hands the batch's events to the correlator, each in its own namespace if it names one, else in
    /// `netns` (as `parse` does).
    private mutating func correlate(_ batch: Batch<TraceEvent>, netns: String?) {
        if let netns {
            batch.drain { e in
                if e.netnsSlot != .none { correlator.add(e, netns: e.netns) } else { correlator.add(e, netns: netns) }
            }
        } else {
            batch.drain { e in
                if e.netnsSlot != .none { correlator.add(e, netns: e.netns) } else { correlator.add(e, netns: nil) }
            }
        }
    }

    /// Splits and parses `source`: each event with its namespace to `event`, each skipped line to `skip`.
    private static func parse(
        _ source: some ByteSource, netns: String?, event: (TraceEvent, String?) -> Void,
        skip: (SkippedLine) -> Void
    ) throws {
        // The namespace is captured once, outside the per-line closures: captured by them, the string
        // was retained and released on every line (callgrind, scripts/bench-replay.sh's file). A nil
        // literal when there is none: passing `netns` itself retained it per event. An event names
        // its namespace when its slot is not `.none` (a boxed slot always holds a name).
        if let netns {
            try parseLines(source, skip: skip) { e in
                if e.pointee.netnsSlot != .none { event(e.pointee, e.pointee.netns) } else { event(e.pointee, netns) }
            }
        } else {
            try parseLines(source, skip: skip) { e in
                if e.pointee.netnsSlot != .none { event(e.pointee, e.pointee.netns) } else { event(e.pointee, nil) }
            }
        }
    }

    private static func parseLines(
        _ source: some ByteSource, skip: (SkippedLine) -> Void, chunkEnd: () -> Void = {},
        event: (UnsafePointer<TraceEvent>) -> Void
    ) throws {
        var parser = TraceLineParser(file: source.name)
        var splitter = LineSplitter(maxLine: TraceLineParser.maxLineLength)
        // Closures over `parser` rather than a local function: the function made every line pay a
        // dynamic exclusivity check (callgrind, scripts/bench-replay.sh's file).
        try source.forEachChunk { chunk in
            splitter.feed(chunk) { line, number in
                ReplayPipeline.handle(line, number, &parser, event: event, skip: skip)
            }
            chunkEnd()
        }
        splitter.finish { line, number in
            ReplayPipeline.handle(line, number, &parser, event: event, skip: skip)
        }
    }

    @inline(__always) private static func handle(
        _ line: LineSplitter.Line, _ number: Int, _ parser: inout TraceLineParser,
        event: (UnsafePointer<TraceEvent>) -> Void, skip: (SkippedLine) -> Void
    ) {
        switch line {
        case .text(let bytes):
            parser.parse(line: bytes, lineNumber: number, emitAt: event, onSkip: skip)
        case .overlong:
            skip(
                SkippedLine(
                    source: SourcePosition(file: parser.file, line: number),
                    reason: "line longer than \(TraceLineParser.maxLineLength) bytes"))
        }
    }

    private mutating func skip(_ line: SkippedLine) {
        skipped.add(line)
        onSkip?(line)
    }

    /// Closes every open walk (they are emitted) and returns the summary.
    public mutating func finish() -> Summary {
        correlator.finish()
        stage.finish()
        return Summary(
            stats: stage.counted(correlator.stats), shown: counter.value, skipped: skipped, journeys: stage.journeys)
    }

    /// Reads `sources` in order and finishes: the whole replay in one call.
    public static func run(
        _ sources: [any ByteSource], lookup: RuleLookup? = nil, topology: Topology? = nil,
        filter: WalkFilter = WalkFilter(), onSkip: ((SkippedLine) -> Void)? = nil,
        emit: @escaping (consuming PacketWalk) -> Void
    ) throws -> Summary {
        var pipeline = ReplayPipeline(lookup: lookup, topology: topology, filter: filter, emit: emit)
        pipeline.onSkip = onSkip
        for source in sources { try pipeline.read(source) }
        return pipeline.finish()
    }
}

/// The correlator's emit closure counts shown walks here (it outlives any one call).
private final class ShownCounter {
    var value = 0
}

/// A value handed to another thread that only that thread uses until it is done with it (the source
/// `ParseAhead` reads while the caller waits for its items).
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
