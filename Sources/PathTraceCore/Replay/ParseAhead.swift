import Foundation

/// Runs replay's first half (splitting and parsing lines) on a thread of its own while the caller
/// runs the second (correlating and printing), so a replay uses two cores: the parse is about a third
/// of the work (scripts/bench-replay.sh prints the one-core and the two-core figures).
///
/// Items reach the caller in the order they were parsed, in batches, through a queue of a few
/// batches: memory stays bounded whatever the input's size.
final class ParseAhead: @unchecked Sendable {
    enum Item {
        case event(TraceEvent, netns: String?)
        case skip(SkippedLine)
    }

    /// Items handed over at once, and batches queued before the parsing thread waits.
    static let batchSize = 256
    static let depth = 4

    private let condition = NSCondition()
    /// At most `depth` batches: an array is the queue.
    private var queue: [[Item]] = []
    private var ended = false
    private var failure: (any Error)?

    /// Starts `produce` on a new thread; it hands each item to the function it is given.
    init(_ produce: @escaping @Sendable (_ send: (Item) -> Void) throws -> Void) {
        let thread = Thread { [self] in
            var batch: [Item] = []
            batch.reserveCapacity(ParseAhead.batchSize)
            var failure: (any Error)?
            do {
                try produce { item in
                    batch.append(item)
                    if batch.count == ParseAhead.batchSize {
                        self.push(batch)
                        batch = []
                        batch.reserveCapacity(ParseAhead.batchSize)
                    }
                }
            } catch {
                failure = error
            }
            if !batch.isEmpty { self.push(batch) }
            self.end(failure)
        }
        thread.start()
    }

    private func push(_ batch: [Item]) {
        condition.lock()
        while queue.count >= ParseAhead.depth { condition.wait() }
        queue.append(batch)
        condition.signal()
        condition.unlock()
    }

    private func end(_ error: (any Error)?) {
        condition.lock()
        ended = true
        failure = error
        condition.signal()
        condition.unlock()
    }

    /// Calls `body` with every item, in order, until the parsing thread is done; rethrows its error.
    func forEach(_ body: (Item) -> Void) throws {
        while true {
            condition.lock()
            while queue.isEmpty && !ended { condition.wait() }
            guard !queue.isEmpty else {
                let error = failure
                condition.unlock()
                if let error { throw error }
                return
            }
            let batch = queue.removeFirst()
            condition.signal()
            condition.unlock()
            for item in batch { body(item) }
        }
    }
}
