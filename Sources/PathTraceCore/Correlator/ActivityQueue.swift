/// The stitcher's expiry queue: (walk, event index when touched) entries, oldest first. Only a walk's
/// last entry is live: touching a walk again marks its earlier entry stale (index -1), so the reader
/// skips stale entries without reading their walks (each a walk that has long left the cache; on the
/// 1M-line benchmark most entries are stale).
///
/// A ring of unmanaged references: a walk is retained once while it has its live entry (its
/// `queuePosition` says where) instead of once per entry, and the front is read without a retain. A
/// `Deque` of strong references cost about 140 instructions per event in its append, retains and
/// releases (callgrind, `replay --format json` of bench-out/t10.log, a 10 MB head of the benchmark).
import CPrefetch

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
            for k in 0..<count {
                let slot = (head &+ k) & (capacity - 1)
                if indices[slot] >= 0 { ActivityQueue.drop(walks[slot]) }
            }
            walks.deallocate()
            indices.deallocate()
        }
    }

    private var ring = Ring(capacity: 64)
    private var walks: UnsafeMutablePointer<Unmanaged<OpenWalk>>
    private var indices: UnsafeMutablePointer<Int>
    private var mask = 63
    /// The front entry's position: positions only grow (a walk's `queuePosition` stays valid when the
    /// ring grows), an entry's slot is its position masked.
    private var head = 0
    /// Entries, stale ones included.
    private(set) var count = 0

    init() {
        walks = ring.walks
        indices = ring.indices
    }

    var isEmpty: Bool { count == 0 }

    /// Lets `walk` go with its live entry.
    @inline(__always) fileprivate static func drop(_ walk: Unmanaged<OpenWalk>) {
        walk._withUnsafeGuaranteedRef { $0.queuePosition = -1 }
        walk.release()
    }

    /// Adds an entry for `walk` touched at `index` (its earlier one goes stale), or moves the last entry
    /// up when it is `walk`'s.
    @inline(__always) mutating func touch(_ walk: OpenWalk, at index: Int) {
        if count > 0 {
            let back = (head &+ count &- 1) & mask
            // The back entry is always live (a walk touched again moves it up, here).
            if walks[back].toOpaque() == Unmanaged.passUnretained(walk).toOpaque() {
                indices[back] = index
                return
            }
        }
        if count == mask + 1 { grow() }
        let position = head &+ count
        let slot = position & mask
        if walk.queuePosition < 0 {
            walks[slot] = Unmanaged.passRetained(walk)
        } else {
            // The walk's retain passes to the new entry.
            indices[walk.queuePosition & mask] = -1
            walks[slot] = Unmanaged.passUnretained(walk)
        }
        walk.queuePosition = position
        indices[slot] = index
        count += 1
        ring.count = count
    }

    /// The front entry's walk (borrowed: valid while the entry is) and index, stale entries dropped
    /// first.
    @inline(__always) var front: (walk: Unmanaged<OpenWalk>, index: Int)? {
        mutating get {
            while count > 0 {
                let slot = head & mask
                if indices[slot] >= 0 { return (walks[slot], indices[slot]) }
                pop()
            }
            return nil
        }
    }

    /// Starts loading the walks of the first two live entries: the next to go idle, each read when it
    /// does (whether it closed meanwhile, its times, then all `Stitcher.finish` reads), and by then
    /// thousands of other events have evicted it. `perf` on the 1,000,000-line benchmark file put two
    /// thirds of `expireIdle`'s samples and half of `finish`'s on the first reads of a walk's fields.
    /// Looks at up to 16 entries (most are stale).
    @inline(__always) func prefetchFront() {
        var live = 0
        var k = 0
        while k < count, k < 16, live < 2 {
            let slot = (head &+ k) & mask
            if indices[slot] >= 0 {
                pathtrace_prefetch(walks[slot].toOpaque(), OpenWalk.instanceBytes)
                live += 1
            }
            k += 1
        }
    }

    /// The index of the front entry as it is: -1 when it is stale (or the queue is empty).
    @inline(__always) var frontIndex: Int { count == 0 ? -1 : indices[head & mask] }

    /// The back entry's walk (borrowed: valid while the entry is): the walk touched last, while its
    /// entry is there. The stitcher keeps no reference of its own to it: on a log whose packets'
    /// steps interleave, assigning one cost a retain and a release for nearly every event (callgrind,
    /// `replay --format json` of bench-out/t10.log).
    @inline(__always) var back: Unmanaged<OpenWalk>? {
        count == 0 ? nil : walks[(head &+ count &- 1) & mask]
    }

    /// Removes the front entry (live: `front` returned it).
    @inline(__always) mutating func removeFirst() {
        let walk = walks[head & mask]
        pop()
        ActivityQueue.drop(walk)
    }

    @inline(__always) private mutating func pop() {
        head &+= 1
        count -= 1
        ring.head = head
        ring.count = count
    }

    private mutating func grow() {
        let old = ring
        let bigger = Ring(capacity: 2 * old.capacity)
        let newMask = bigger.capacity - 1
        for k in 0..<count {
            let position = head &+ k
            bigger.walks[position & newMask] = old.walks[position & mask]
            bigger.indices[position & newMask] = old.indices[position & mask]
        }
        bigger.head = head
        bigger.count = count
        // The entries moved: the old ring must not release them.
        old.count = 0
        ring = bigger
        walks = bigger.walks
        indices = bigger.indices
        mask = newMask
    }
}
