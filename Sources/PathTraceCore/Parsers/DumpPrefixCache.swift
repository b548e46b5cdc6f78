import Foundation

/// Dump prefixes (`IN= OUT= [PHYSIN= PHYSOUT=] [MAC=]`, up to `SRC=`) already read, with the
/// interface and MAC ranges they gave.
///
/// A host's dumps share a handful of prefixes (4 on t10: one per interface and direction), so a
/// word compare and a `memcmp` against the last few replace reading the interfaces and the MAC
/// (callgrind, scripts/icount.sh on t10). The scanner reads a prefix from a fresh record and nothing
/// before it, so equal bytes give an equal result.
final class DumpPrefixCache {
    /// What a prefix gave, its ranges relative to its start (start -1: none).
    struct Result {
        var inIface = (-1, 0)
        var outIface = (-1, 0)
        var physIn = (-1, 0)
        var physOut = (-1, 0)
        var macSrc = (-1, 0)
        var macDst = (-1, 0)
        var sawMAC = false
        var touched = false
        var macProto: UInt16?
        /// The names `KernelLogParser.resolve` interned for these ranges, once `resolved`.
        var names = Names()
        var resolved = false
    }

    /// A prefix's interfaces and MACs as names: an entry serves many dumps, so they are interned once
    /// per entry instead of once per scanned dump (the name memos and their copies were about 200
    /// instructions a scanned dump; callgrind, scripts/icount.sh on t10). Read in place: a copy of the
    /// six names cost more than the memos did.
    struct Names {
        var interfaces = InterfaceNames()
        /// Only when the record touched the header (as `resolve` reads them).
        var macSrc: Name?
        var macDst: Name?
    }

    static let count = 4
    /// The longest prefix kept (two interfaces and an Ethernet MAC are about 70).
    static let maxLength = 128
    private let bytes: UnsafeMutablePointer<UInt8>
    private let lengths: UnsafeMutablePointer<Int>
    /// The first two words of each prefix (the second zero-padded, and the mask of its bytes).
    private let firstWords: UnsafeMutablePointer<UInt64>
    private let secondWords: UnsafeMutablePointer<UInt64>
    private let secondMasks: UnsafeMutablePointer<UInt64>
    let results: UnsafeMutablePointer<Result>
    /// The entry `store` replaces next.
    private var next = 0

    init() {
        let count = DumpPrefixCache.count
        bytes = .allocate(capacity: count * DumpPrefixCache.maxLength)
        lengths = .allocate(capacity: count)
        lengths.initialize(repeating: 0, count: count)
        firstWords = .allocate(capacity: count)
        firstWords.initialize(repeating: 0, count: count)
        secondWords = .allocate(capacity: count)
        secondWords.initialize(repeating: 0, count: count)
        secondMasks = .allocate(capacity: count)
        secondMasks.initialize(repeating: 0, count: count)
        results = .allocate(capacity: count)
        results.initialize(repeating: Result(), count: count)
    }

    deinit {
        bytes.deallocate()
        lengths.deallocate()
        firstWords.deallocate()
        secondWords.deallocate()
        secondMasks.deallocate()
        results.deinitialize(count: DumpPrefixCache.count)
        results.deallocate()
    }

    /// The entry whose prefix starts the text at `s` and is followed by `SRC=` (-1 for none), and
    /// the prefix's length.
    func find(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: Int) -> (entry: Int, length: Int) {
        guard s &+ 16 <= n else { return (-1, 0) }
        // The first two words tell the interfaces apart (`IN=bond0 OUT= MA`), so a `memcmp` runs
        // only for the entry that matches.
        let first = UnsafeRawPointer(p + s).loadUnaligned(as: UInt64.self)
        let second = UnsafeRawPointer(p + s).loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        var k = 0
        while k < DumpPrefixCache.count {
            let len = lengths[k]
            if len > 0 && firstWords[k] == first && secondWords[k] == second & secondMasks[k] && s &+ len &+ 4 <= n
                && memcmp(bytes + k &* DumpPrefixCache.maxLength, p + s, len) == 0
                && Byte.load(p + (s &+ len), 4) == DumpPrefixCache.src
            {
                return (k, len)
            }
            k &+= 1
        }
        return (-1, 0)
    }

    /// `SRC=`, packed little-endian.
    private static let src: UInt64 = 0x3D43_5253

    /// Keeps the prefix `s..<e` (at least a word long, `SRC=` at `e`) with what it gave: its entry,
    /// or -1 when it is not kept.
    @discardableResult func store(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, _ result: Result) -> Int {
        let len = e &- s
        guard len >= 8 && len <= DumpPrefixCache.maxLength else { return -1 }
        let k = next
        next = (k &+ 1) & (DumpPrefixCache.count &- 1)
        (bytes + k &* DumpPrefixCache.maxLength).update(from: p + s, count: len)
        lengths[k] = len
        firstWords[k] = UnsafeRawPointer(p + s).loadUnaligned(as: UInt64.self)
        let rest = min(len &- 8, 8)
        secondWords[k] = Byte.load(p + (s &+ 8), rest)
        secondMasks[k] = rest == 8 ? .max : (1 << UInt64(rest &* 8)) &- 1
        results[k] = result
        return k
    }
}
