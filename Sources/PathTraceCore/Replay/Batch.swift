/// A window of values moved in one by one and moved out together, in order.
///
/// Replay parses a window of lines, then correlates its events, and prints closed walks a window at
/// a time: one line's parse, then its correlation, then a walk's printing, in turn, evicted each
/// other's code from the 32 KB instruction cache. cachegrind counted 7.07 M I1 misses on bench-out/t10.log
/// (the first 10 MB of scripts/bench-replay.sh's trace), 2.06 M with both windows. Values live in
/// storage of their own, not an Array: an Array copied each value out and destroyed it again through
/// the generic `swift_arrayDestroy` (callgrind, scripts/icount.sh).
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
    /// Adds a copy of the event at `event` (the parser keeps its own to refill for its next record);
    /// the batch must not be full. Read by address, the event is copied once, into its slot; passed
    /// as a value it was first copied to the parser's stack (a 168-byte memcpy a line; callgrind,
    /// scripts/icount.sh on t10). An event's only references are its own and its header's `Rare` boxes
    /// (nil on nearly every event), so its bytes and a retain of each box are its copy: an event with
    /// a box (an `OPT (...)` tail's) was copied as a value, through a stack temporary, two memcpy
    /// calls and the outlined copy, 120 instructions (callgrind on t10).
    @inlinable @inline(__always) func append(copyOf event: UnsafePointer<TraceEvent>) {
        precondition(count < capacity, "Batch is full")
        Batch.copyBytes(to: UnsafeMutableRawPointer(storage + count), from: UnsafeRawPointer(event))
        if let box = event.pointee.rare.box { _ = Unmanaged.passUnretained(box).retain() }
        if let box = event.pointee.headerValue.rare.box { _ = Unmanaged.passUnretained(box).retain() }
        count += 1
    }

    /// The event's bytes, copied 16 at a time in straight-line code (the size is a constant, so the
    /// compiler drops the words past it): `copyMemory` called libc's memmove for the 168 bytes, 29
    /// instructions and a call a line (callgrind, scripts/icount.sh on t10). No loop: the compiler
    /// turns a copying loop back into that call.
    @inlinable @inline(__always)
    static func copyBytes(to: UnsafeMutableRawPointer, from: UnsafeRawPointer) {
        let size = MemoryLayout<TraceEvent>.size
        @inline(__always) func part(_ k: Int) {
            if k &+ 16 <= size {
                to.storeBytes(
                    of: from.loadUnaligned(fromByteOffset: k, as: SIMD2<UInt64>.self), toByteOffset: k,
                    as: SIMD2<UInt64>.self)
            } else if k < size {
                (to + k).copyMemory(from: from + k, byteCount: size &- k)
            }
        }
        part(0)
        part(16)
        part(32)
        part(48)
        part(64)
        part(80)
        part(96)
        part(112)
        part(128)
        part(144)
        part(160)
        part(176)
        if size > 192 { (to + 192).copyMemory(from: from + 192, byteCount: size &- 192) }
    }
}
