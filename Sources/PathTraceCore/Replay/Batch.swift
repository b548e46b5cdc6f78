/// A window of values moved in one by one and moved out together, in order.
///
/// Replay parses a window of lines, then correlates its events, and prints closed walks a window at
/// a time: one line's parse, then its correlation, then a walk's printing, in turn, evicted each
/// other's code from the 32 KB instruction cache. cachegrind counted 7.07 M I1 misses on /tmp/t10.log
/// (the first 10 MB of scripts/bench-replay.sh's trace), 2.06 M with both windows. Values live in
/// storage of their own, not an Array: an Array copied each value out and destroyed it again through
/// the generic `swift_arrayDestroy` (callgrind, /tmp/icount.sh).
public final class Batch<Element> {
    public let capacity: Int
    @usableFromInline let storage: UnsafeMutablePointer<Element>
    @usableFromInline var count = 0

    public init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    @inlinable public var isEmpty: Bool { count == 0 }

    @inlinable public var isFull: Bool { count == capacity }

    /// Adds `value` at the end; the batch must not be full.
    @inlinable public func append(_ value: consuming Element) {
        precondition(count < capacity, "Batch is full")
        (storage + count).initialize(to: value)
        count += 1
    }

    /// Hands every value to `body` in the order they came, and empties the batch; `body` must not
    /// append to it.
    @inlinable public func drain(_ body: (consuming Element) -> Void) {
        let n = count
        count = 0
        for i in 0..<n { body((storage + i).move()) }
    }
}

extension Batch where Element == TraceEvent {
    /// Adds a copy of `event` (the parser keeps its own to reuse on the next line); the batch must not
    /// be full.
    @inlinable func append(copyOf event: borrowing TraceEvent) {
        precondition(count < capacity, "Batch is full")
        event.copy(to: storage + count)
        count += 1
    }
}
