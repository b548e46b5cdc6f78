/// A closed walk the reply linker holds until it is its turn to be released.
struct HeldWalk {
    var walk: PacketWalk
    /// The event index and (when events carry one) the time at which it was closed.
    var closedAt: Int
    var closedTime: Double?

    /// What an empty slot holds: a walk without arrays, so filling or emptying a slot allocates nothing.
    static var empty: HeldWalk { HeldWalk(walk: PacketWalk(packet: 0, family: .ipv4), closedAt: 0, closedTime: nil) }
}

/// The reply linker's closed walks, by their distance from the next packet to release: a ring of slots
/// instead of a dictionary, so the head is found without hashing, read and edited in place, and moved
/// out instead of copied (a copy retains every array of the walk).
///
/// Walks are numbered in the order they started and each is closed once, so the slots from the head on
/// are a window of packet numbers; a slot stays empty while its walk is still open.
struct HeldWalks {
    private var slots: [HeldWalk] = []
    private var filled: [Bool] = []
    private var head = 0
    /// Slots from the head to the last filled one.
    private var span = 0
    /// Filled slots.
    private(set) var count = 0

    init() {}

    /// No slot is in use (a walk may still be open before the first filled one).
    var isEmpty: Bool { span == 0 }

    /// Whether the walk at the head (the next to release) is here.
    var hasFirst: Bool { span > 0 && filled[head] }

    /// Whether the slot `offset` places from the head holds a walk (negative: released already).
    func contains(_ offset: Int) -> Bool { offset >= 0 && offset < span && filled[index(offset)] }

    /// The walk `offset` places from the head, read and edited in place; the slot must be filled.
    subscript(offset: Int) -> HeldWalk {
        _read {
            precondition(contains(offset))
            yield slots[index(offset)]
        }
        _modify {
            precondition(contains(offset))
            yield &slots[index(offset)]
        }
    }

    /// The walk at the head; `hasFirst` must hold.
    var first: HeldWalk {
        _read {
            precondition(hasFirst)
            yield slots[head]
        }
    }

    /// Puts a walk `offset` places from the head (at least 0) in an empty slot, and the slot's empty walk
    /// in its place.
    mutating func insert(taking walk: inout PacketWalk, closedAt: Int, closedTime: Double?, at offset: Int) {
        precondition(offset >= 0)
        if offset >= slots.count { grow(to: offset + 1) }
        let i = index(offset)
        precondition(!filled[i])
        swap(&slots[i].walk, &walk)
        slots[i].closedAt = closedAt
        slots[i].closedTime = closedTime
        filled[i] = true
        count += 1
        span = max(span, offset + 1)
    }

    /// Takes the walk at the head out; `hasFirst` must hold. The next slot becomes the head.
    mutating func removeFirst() -> HeldWalk {
        precondition(hasFirst)
        guard let walk = popSlot() else { preconditionFailure("the head slot is empty") }
        return walk
    }

    /// Takes the head slot out, filled or not (nil), and makes the next slot the head.
    mutating func popSlot() -> HeldWalk? {
        guard span > 0 else { return nil }
        var out: HeldWalk?
        if filled[head] {
            var taken = HeldWalk.empty
            swap(&taken, &slots[head])
            out = taken
            filled[head] = false
            count -= 1
        }
        head = (head + 1) & (slots.count - 1)
        span -= 1
        return out
    }

    private func index(_ offset: Int) -> Int { (head + offset) & (slots.count - 1) }

    /// Room for `needed` slots from the head (a power of two, so an index is a mask away).
    private mutating func grow(to needed: Int) {
        var capacity = max(16, slots.count)
        while capacity < needed { capacity *= 2 }
        var bigger = [HeldWalk](repeating: .empty, count: capacity)
        var biggerFilled = [Bool](repeating: false, count: capacity)
        for offset in 0..<span {
            let i = index(offset)
            guard filled[i] else { continue }
            swap(&bigger[offset], &slots[i])
            biggerFilled[offset] = true
        }
        slots = bigger
        filled = biggerFilled
        head = 0
    }
}
