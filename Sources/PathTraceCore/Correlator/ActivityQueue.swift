/// The stitcher's expiry queue: (walk, event index when touched) entries, oldest first; an entry whose
/// walk moved on or closed is stale and skipped by the reader.
///
/// A ring of unmanaged references: a walk is retained once while it has entries (`OpenWalk.queued`
/// counts them) instead of once per entry, and the front is read without a retain. A `Deque` of
/// strong references cost about 140 instructions per event in its append, retains and releases
/// (callgrind, `replay --format json` of /tmp/t10.log, a 10 MB head of the benchmark).
struct ActivityQueue {
    /// Owns the ring; the queue reads it through the pointers it caches.
    private final class Ring {
        let walks: UnsafeMutablePointer<Unmanaged<OpenWalk>>
        let indices: UnsafeMutablePointer<Int>
        let capacity: Int
        /// The live range, kept here too so `deinit` releases what is left.
        var head = 0
        var count = 0

        init(capacity: Int) {
            self.capacity = capacity
            walks = .allocate(capacity: capacity)
            indices = .allocate(capacity: capacity)
        }

        deinit {
            for k in 0..<count { ActivityQueue.drop(walks[(head + k) & (capacity - 1)]) }
            walks.deallocate()
            indices.deallocate()
        }
    }

    private var ring = Ring(capacity: 64)
    private var walks: UnsafeMutablePointer<Unmanaged<OpenWalk>>
    private var indices: UnsafeMutablePointer<Int>
    private var mask = 63
    private var head = 0
    private(set) var count = 0

    init() {
        walks = ring.walks
        indices = ring.indices
    }

    var isEmpty: Bool { count == 0 }

    /// Counts an entry of `walk`'s out, releasing it with its last.
    @inline(__always) fileprivate static func drop(_ walk: Unmanaged<OpenWalk>) {
        let last = walk._withUnsafeGuaranteedRef { w -> Bool in
            w.queued -= 1
            return w.queued == 0
        }
        if last { walk.release() }
    }

    /// Adds an entry for `walk` touched at `index`, or moves the last entry up when it is `walk`'s.
    @inline(__always) mutating func touch(_ walk: OpenWalk, at index: Int) {
        if count > 0 {
            let back = (head &+ count &- 1) & mask
            if walks[back].toOpaque() == Unmanaged.passUnretained(walk).toOpaque() {
                indices[back] = index
                return
            }
        }
        if count == mask + 1 { grow() }
        let slot = (head &+ count) & mask
        if walk.queued == 0 {
            walks[slot] = Unmanaged.passRetained(walk)
        } else {
            walks[slot] = Unmanaged.passUnretained(walk)
        }
        walk.queued += 1
        indices[slot] = index
        count += 1
        ring.count = count
    }

    /// The front entry's walk (borrowed: valid while the entry is) and index.
    @inline(__always) var front: (walk: Unmanaged<OpenWalk>, index: Int)? {
        count == 0 ? nil : (walks[head], indices[head])
    }

    /// The back entry's walk (borrowed: valid while the entry is): the walk touched last, while its
    /// entry is there. The stitcher keeps no reference of its own to it: on a log whose packets'
    /// steps interleave, assigning one cost a retain and a release for nearly every event (callgrind,
    /// `replay --format json` of /tmp/t10.log).
    @inline(__always) var back: Unmanaged<OpenWalk>? {
        count == 0 ? nil : walks[(head &+ count &- 1) & mask]
    }

    /// Removes the front entry.
    @inline(__always) mutating func removeFirst() {
        let walk = walks[head]
        head = (head &+ 1) & mask
        count -= 1
        ring.head = head
        ring.count = count
        ActivityQueue.drop(walk)
    }

    private mutating func grow() {
        let old = ring
        let bigger = Ring(capacity: 2 * old.capacity)
        for k in 0..<count {
            let i = (head + k) & mask
            bigger.walks[k] = old.walks[i]
            bigger.indices[k] = old.indices[i]
        }
        bigger.count = count
        // The entries moved: the old ring must not release them.
        old.count = 0
        ring = bigger
        walks = bigger.walks
        indices = bigger.indices
        mask = bigger.capacity - 1
        head = 0
    }
}
