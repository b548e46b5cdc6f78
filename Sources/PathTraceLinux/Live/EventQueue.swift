#if os(Linux)
import Foundation
import PathTraceCore

/// Events from the collector threads to the thread that correlates them. The consumer sleeps on the
/// condition until an event arrives, a stop is requested or its deadline passes: no polling.
final class EventQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [(lane: Int, event: TraceEvent)] = []
    private var stopped = false

    /// A collector's batch at once: one lock and one wake-up for all of it.
    func push(contentsOf events: [TraceEvent], lane: Int) {
        condition.lock()
        for event in events { items.append((lane, event)) }
        condition.signal()
        condition.unlock()
    }

    /// Wakes the consumer for good: `isStopped` is true from now on.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    /// Waits until something is queued, a stop, or `deadline`; returns what is queued (maybe nothing).
    func wait(until deadline: Date) -> [(lane: Int, event: TraceEvent)] {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !stopped {
            if !condition.wait(until: deadline) { break }
        }
        let out = items
        items.removeAll(keepingCapacity: true)
        return out
    }

    /// What is queued now, without waiting.
    func drain() -> [(lane: Int, event: TraceEvent)] {
        condition.lock()
        defer { condition.unlock() }
        let out = items
        items.removeAll(keepingCapacity: true)
        return out
    }
}
#endif
