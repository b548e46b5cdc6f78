#if os(Linux)
import PathTraceCore

/// What a live trace saw and undid, for the summary on stderr.
public struct LiveSummary: Sendable {
    public var events = 0
    public var walks = 0
    public var incomplete = 0
    public var shown = 0
    public var lost = 0
    public var overruns = 0
    /// One report per traced namespace.
    public var removals: [RemovalReport] = []
    /// What the trace could not take away (an empty raw table a legacy TRACE loaded).
    public var leftBehind: [String] = []
    /// Paths across the traced namespaces that were shown.
    public var journeys = 0

    init(lanes: [Lane], stats: Correlator.Stats, shown: Int, removals: [RemovalReport]) {
        events = stats.events
        walks = stats.walks
        incomplete = stats.incomplete
        for lane in lanes {
            leftBehind += lane.target.choice.exitMessages
            for counters in lane.collectors.map(\.counters) {
                lost += counters.lost
                overruns += counters.overruns
            }
        }
        self.shown = shown
        self.removals = removals
    }

    /// `12 events, 2 walks (0 incomplete), 2 shown, 0 lost`, then what was removed and what failed.
    public var lines: [String] {
        var summary = "\(plural(events, "event")), \(plural(walks, "walk"))"
        summary += " (\(incomplete) incomplete), \(shown) shown, \(lost) lost"
        if overruns > 0 {
            summary += ", \(plural(overruns, "receive buffer overrun")) (each dropped one or more events)"
        }
        var lines = [summary]
        for r in removals {
            lines.append("removed \(plural(r.removed.count, "rule")), restored \(plural(r.restored.count, "sysctl"))")
            for failure in r.failures { lines.append("FAILED to remove \(failure)") }
        }
        return lines + leftBehind
    }

    /// Whether every rule and sysctl was undone.
    public var cleanlyRemoved: Bool { removals.allSatisfy(\.isComplete) }
}
#endif
