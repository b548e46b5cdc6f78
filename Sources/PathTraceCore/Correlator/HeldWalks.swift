import CPrefetch

/// The reply linker's closed walks, by their distance from the next packet to release: a ring of slots
/// instead of a dictionary, so the head is found without hashing, read and edited in place, and moved
/// out instead of copied (a copy retains every array of the walk).
///
/// Walks are numbered in the order they started and each is closed once, so the slots from the head on
/// are a window of packet numbers; a slot stays empty while its walk is still open.
///
/// Walks are moved in and out of optional slots, and what `ReplyLinker.releaseReady` asks of the head
/// on every release (when it closed, whether it waits for a reply) is kept beside them as plain values:
/// an empty walk swapped in and out of non-optional slots was made and destroyed twice per walk, five
/// empty arrays each time (callgrind, scripts/icount.sh on the 10 MB head of scripts/bench-replay.sh's file).
struct HeldWalks {
    /// What the linker asks of a slot's walk without reading the walk.
    struct Info {
        var filled = false
        /// Whether the walk waits for a reply to learn a NAT result (`ReplyLinker.isPending`).
        var pending = false
        /// The event index and (when events carry one) the time at which it was closed.
        var closedAt = 0
        var closedTime: Double?
    }

    private var walks: [PacketWalk?] = []
    private var info: [Info] = []
    private var head = 0
    /// Slots from the head to the last filled one.
    private var span = 0
    /// Filled slots.
    private(set) var count = 0

    init() {}

    /// No slot is in use (a walk may still be open before the first filled one).
    var isEmpty: Bool { span == 0 }

    /// Whether the walk at the head (the next to release) is here.
    var hasFirst: Bool { span > 0 && info[head].filled }

    /// Whether the slot `offset` places from the head holds a walk (negative: released already).
    func contains(_ offset: Int) -> Bool { offset >= 0 && offset < span && info[index(offset)].filled }

    /// `body` of the walk `offset` places from the head, read in place; the slot must be filled.
    func read<R>(_ offset: Int, _ body: (borrowing PacketWalk) -> R) -> R {
        precondition(contains(offset))
        return walks[index(offset)].map(body).unsafelyUnwrapped
    }

    /// Edits the walk `offset` places from the head in place; the slot must be filled.
    mutating func modify<R>(_ offset: Int, _ body: (inout PacketWalk) -> R) -> R {
        precondition(contains(offset))
        let i = index(offset)
        let result = walks[i]?.edit(body)
        info[i].pending = read(offset, ReplyLinker.isPending)
        return result.unsafelyUnwrapped
    }

    /// What is known of the walk at the head; `hasFirst` must hold.
    var first: Info {
        precondition(hasFirst)
        return info[head]
    }

    /// Starts loading the slot `offset` places from the head, if there is one: its lines were last used
    /// a turn of the ring ago (a few hundred walks), and `insert` or `removeFirst` is about to.
    @inline(__always) func prefetch(_ offset: Int) {
        guard offset >= 0, offset < walks.count else { return }
        let i = index(offset)
        info.withUnsafeBufferPointer {
            pathtrace_prefetch($0.baseAddress.unsafelyUnwrapped + i, MemoryLayout<Info>.size)
        }
        walks.withUnsafeBufferPointer {
            pathtrace_prefetch($0.baseAddress.unsafelyUnwrapped + i, MemoryLayout<PacketWalk?>.size)
        }
    }

    /// Puts a walk `offset` places from the head (at least 0) in an empty slot.
    mutating func insert(_ walk: consuming PacketWalk, closedAt: Int, closedTime: Double?, at offset: Int) {
        precondition(offset >= 0)
        if offset >= walks.count { grow(to: offset + 1) }
        let i = index(offset)
        precondition(!info[i].filled)
        info[i] = Info(filled: true, pending: ReplyLinker.isPending(walk), closedAt: closedAt, closedTime: closedTime)
        // Written over the empty slot's nil, which holds nothing to let go: assigned through the
        // subscript, the nil was destroyed by an outlined call per walk (callgrind, scripts/icount.sh on
        // bench-out/t10.log).
        walks.withUnsafeMutableBufferPointer { ($0.baseAddress.unsafelyUnwrapped + i).initialize(to: walk) }
        count += 1
        span = max(span, offset + 1)
    }

    /// Takes the walk at the head out; `hasFirst` must hold. The next slot becomes the head.
    mutating func removeFirst() -> PacketWalk {
        precondition(hasFirst)
        guard let walk = popSlot() else { preconditionFailure("the head slot is empty") }
        return walk
    }

    /// Takes the head slot out, filled or not (nil), and makes the next slot the head.
    mutating func popSlot() -> PacketWalk? {
        guard span > 0 else { return nil }
        var out: PacketWalk?
        if info[head].filled {
            out = walks[head].take()
            info[head].filled = false
            count -= 1
        }
        head = (head + 1) & (walks.count - 1)
        span -= 1
        return out
    }

    private func index(_ offset: Int) -> Int { (head + offset) & (walks.count - 1) }

    /// Room for `needed` slots from the head (a power of two, so an index is a mask away).
    private mutating func grow(to needed: Int) {
        var capacity = max(16, walks.count)
        while capacity < needed { capacity *= 2 }
        var bigger = [PacketWalk?](repeating: nil, count: capacity)
        var biggerInfo = [Info](repeating: Info(), count: capacity)
        for offset in 0..<span {
            let i = index(offset)
            guard info[i].filled else { continue }
            bigger[offset] = walks[i].take()
            biggerInfo[offset] = info[i]
        }
        walks = bigger
        info = biggerInfo
        head = 0
    }
}

extension PacketWalk {
    /// `body` of this walk, called through an optional (`walks[i]?.edit`) to edit its walk in place.
    fileprivate mutating func edit<R>(_ body: (inout PacketWalk) -> R) -> R { body(&self) }
}
