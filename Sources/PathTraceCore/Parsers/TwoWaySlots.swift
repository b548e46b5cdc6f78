import Foundation

/// The slots `DumpCache` and `TailCache` keep byte strings in, with what each string gave: two ways
/// per set, the way not used last replaced, and a slot's bytes, length and hash checked before its
/// result is trusted. The owner hashes the bytes its own way (the words that tell its strings apart)
/// and the hash's top bits pick the set. Its sizes are generic parameters, so lookups shift and
/// multiply by constants: stored, they cost the replay 0.85 M instructions (callgrind, scripts/icount.sh
/// on t10).
final class TwoWaySlots<Result, let setBits: Int, let maxLength: Int> {
    private let bytes: UnsafeMutablePointer<UInt8>
    /// The length of each slot's string (0: empty) and its hash.
    private let lengths: UnsafeMutablePointer<Int>
    private let hashes: UnsafeMutablePointer<UInt64>
    /// Per set, the way `store` replaces next (the one not used last).
    private let victims: UnsafeMutablePointer<UInt8>
    /// The longest string a slot keeps.
    static var longest: Int { maxLength }
    /// Each slot's result, then `spare` more for the owner's own use.
    let results: UnsafeMutablePointer<Result>
    private let resultCount: Int
    /// The number of slots (the first spare result's index).
    let count: Int

    init(spare: Int = 0, empty: Result) {
        count = 2 << setBits
        bytes = .allocate(capacity: count * maxLength)
        lengths = .allocate(capacity: count)
        lengths.initialize(repeating: 0, count: count)
        hashes = .allocate(capacity: count)
        hashes.initialize(repeating: 0, count: count)
        victims = .allocate(capacity: count / 2)
        victims.initialize(repeating: 0, count: count / 2)
        resultCount = count + spare
        results = .allocate(capacity: resultCount)
        results.initialize(repeating: empty, count: resultCount)
    }

    deinit {
        bytes.deallocate()
        lengths.deallocate()
        hashes.deallocate()
        victims.deallocate()
        results.deinitialize(count: resultCount)
        results.deallocate()
    }

    /// Where the `len` bytes at `base` with hash `h` are (`hit`) or would go; `len` is at most the
    /// longest kept.
    @inline(__always) func find(_ base: UnsafeRawPointer, _ len: Int, _ h: UInt64) -> (slot: Int, hit: Bool) {
        let set = Int(truncatingIfNeeded: h >> UInt64(64 &- setBits))
        let slot = set &* 2
        if holds(slot, h, len, base) {
            victims[set] = 1
            return (slot, true)
        }
        if holds(slot &+ 1, h, len, base) {
            victims[set] = 0
            return (slot &+ 1, true)
        }
        return (slot &+ Int(victims[set]), false)
    }

    /// `find` with the owner's own check of a slot whose hash and length match: `same` gets the
    /// slot's bytes and the slot.
    @inline(__always) func find(
        _ len: Int, _ h: UInt64, _ same: (UnsafePointer<UInt8>, Int) -> Bool
    ) -> (slot: Int, hit: Bool) {
        let set = Int(truncatingIfNeeded: h >> UInt64(64 &- setBits))
        let slot = set &* 2
        if hashes[slot] == h && lengths[slot] == len && same(bytes + slot &* maxLength, slot) {
            victims[set] = 1
            return (slot, true)
        }
        let other = slot &+ 1
        if hashes[other] == h && lengths[other] == len && same(bytes + other &* maxLength, other) {
            victims[set] = 0
            return (other, true)
        }
        return (slot &+ Int(victims[set]), false)
    }

    @inline(__always) private func holds(_ slot: Int, _ h: UInt64, _ len: Int, _ base: UnsafeRawPointer) -> Bool {
        hashes[slot] == h && lengths[slot] == len && memcmp(bytes + slot &* maxLength, base, len) == 0
    }

    /// Keeps the `len` bytes at `from` in `slot` (from `find`), under `hash`; the caller sets the result.
    func store(_ from: UnsafePointer<UInt8>, _ len: Int, slot: Int, hash: UInt64) {
        (bytes + slot &* maxLength).update(from: from, count: len)
        lengths[slot] = len
        hashes[slot] = hash
        victims[slot >> 1] = UInt8(truncatingIfNeeded: ~slot & 1)
    }
}
