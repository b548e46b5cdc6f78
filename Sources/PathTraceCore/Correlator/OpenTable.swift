/// A key `OpenTable` keeps in its slots: plain words, with one value that marks a slot as empty.
protocol OpenTableKey: Equatable {
    /// The key of an empty slot; never stored.
    static var vacant: Self { get }
    /// Whether this is `vacant` (one word's test, cheaper than `==`).
    var isVacant: Bool { get }
    /// A well-mixed hash; the table masks its low bits.
    var hashWord: Int { get }
}

/// The correlator's hash tables (open walks by invariant key, the reply linker's openers; its
/// connections are in `ConnectionTable`, which adds tags): open addressing with linear probing, where a
/// Swift Dictionary cost 100 to 370 instructions per lookup or insert (SipHash, retains of its storage;
/// callgrind, `replay --format json` of a 10 MB head of the benchmark file). A removal shifts the
/// entries after it back, so no tombstones pile up.
struct OpenTable<Key: OpenTableKey, Value> {
    /// Owns the slots; the table reads them through the pointers it caches, so a lookup retains nothing.
    private final class Slots {
        let keys: UnsafeMutablePointer<Key>
        /// Initialized where the key is not vacant.
        let values: UnsafeMutablePointer<Value>
        let count: Int

        init(count: Int) {
            self.count = count
            keys = .allocate(capacity: count)
            keys.initialize(repeating: .vacant, count: count)
            values = .allocate(capacity: count)
        }

        deinit {
            // Plain values (the reply linker's NAT types) need no destroying: the walk of every slot
            // was 0.8 M instructions on bench-out/t10.log.
            if !_isPOD(Value.self) {
                for i in 0..<count where !keys[i].isVacant { (values + i).deinitialize(count: 1) }
            }
            values.deallocate()
            keys.deallocate()
        }
    }

    private var slots: Slots
    private var keys: UnsafeMutablePointer<Key>
    private var values: UnsafeMutablePointer<Value>
    private var mask: Int
    /// How full (in quarters) the slots may get before they double.
    private let fill: Int
    private(set) var count = 0

    /// `fill`: 3 quarters, as a Swift Dictionary, where the table may hold many entries (the reply
    /// linker's, up to `maxConnections`: see `ConnectionTable`); 2 where it stays small and is probed on
    /// every event (the stitcher's open walks).
    init(capacity: Int = 64, fill: Int = 3) {
        var n = 16
        while n < capacity { n *= 2 }
        self.fill = fill
        slots = Slots(count: n)
        keys = slots.keys
        values = slots.values
        mask = n - 1
    }

    var isEmpty: Bool { count == 0 }

    /// The slot holding the key, or the empty slot where it would go.
    @inline(__always) private func find(_ key: Key) -> (slot: Int, found: Bool) {
        var i = key.hashWord & mask
        while true {
            let k = keys[i]
            if k.isVacant { return (i, false) }
            if k == key { return (i, true) }
            i = (i &+ 1) & mask
        }
    }

    /// Where the key's value is stored: valid until the table is next changed.
    @inline(__always) func value(_ key: Key) -> UnsafeMutablePointer<Value>? {
        if count == 0 { return nil }
        let (i, found) = find(key)
        return found ? values + i : nil
    }

    subscript(key: Key) -> Value? {
        get { value(key)?.pointee }
        set {
            let (i, found) = find(key)
            if let value = newValue {
                if found {
                    values[i] = value
                    return
                }
                (values + i).initialize(to: value)
                keys[i] = key
                count += 1
                if 4 * count > fill * (mask + 1) { grow() }
            } else if found {
                remove(at: i)
            }
        }
    }

    /// Stores `value` for `key` and returns the value it replaces (nil when the key is new), finding
    /// the slot once where a read and a write found it twice (the stitcher puts a walk in front of its
    /// key's chain once per walk).
    mutating func exchange(_ key: Key, _ value: Value) -> Value? {
        let (i, found) = find(key)
        if found {
            let old = (values + i).move()
            (values + i).initialize(to: value)
            return old
        }
        (values + i).initialize(to: value)
        keys[i] = key
        count += 1
        if 4 * count > fill * (mask + 1) { grow() }
        return nil
    }

    /// Empties slot `slot` and moves back the entries after it that probed past it.
    private mutating func remove(at slot: Int) {
        (values + slot).deinitialize(count: 1)
        var hole = slot
        var j = slot
        while true {
            j = (j + 1) & mask
            let k = keys[j]
            if k.isVacant { break }
            let h = k.hashWord & mask
            // The entry stays when its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if stays { continue }
            keys[hole] = k
            (values + hole).moveInitialize(from: values + j, count: 1)
            hole = j
        }
        keys[hole] = .vacant
        count -= 1
    }

    private mutating func grow() {
        let old = slots
        slots = Slots(count: 2 * old.count)
        keys = slots.keys
        values = slots.values
        mask = slots.count - 1
        for s in 0..<old.count where !old.keys[s].isVacant {
            let (i, _) = find(old.keys[s])
            keys[i] = old.keys[s]
            (values + i).moveInitialize(from: old.values + s, count: 1)
            // Moved out: the old slots' deinit must not destroy it again.
            old.keys[s] = .vacant
        }
    }
}

extension OpenTable where Value: AnyObject {
    /// Replaces the value of `key` with `value` (nil removes the entry) when it is `current`, finding
    /// the slot once; false, changing nothing, when the key holds another object or none. A closing
    /// walk leaves its key's chain this way (it is mostly the chain's first and only walk).
    mutating func replace(_ key: Key, ifItIs current: Value, with value: Value?) -> Bool {
        if count == 0 { return false }
        let (i, found) = find(key)
        guard found, values[i] === current else { return false }
        if let value {
            values[i] = value
        } else {
            remove(at: i)
        }
        return true
    }
}
