import Synchronization

/// The process's `Name`s: each distinct byte sequence once, with its JSON form, never moved and never
/// freed, so a name's bytes are read without a lock. Adding takes a lock; parsers keep a cache in
/// front of it (`NameCache`), so it is taken about once per distinct name a parser sees.
///
/// Bounded: a trace repeats a few hundred names, and past `capacity` names (or `byteCapacity` bytes of
/// them) the table takes no more: later new names are boxed (`OwnedName`) and freed with their events.
/// A name costs 16 bytes of entry, 11 to 21 of index, and its bytes in quotes (escaped once more when
/// JSON needs it).
public final class NameTable: @unchecked Sendable {
    public static let shared = NameTable()

    /// Names the table holds at most, and bytes of their text. Ids stay below `NameSlot.boxed`, so an
    /// event stores a name in two bytes (`NameSlot`).
    static let capacity = Int(NameSlot.boxed.raw)
    static let byteCapacity = 4 << 20

    @usableFromInline struct Entry {
        /// `"name"`, then its escaped JSON form when the name needs escaping.
        @usableFromInline var text: UnsafePointer<UInt8>
        @usableFromInline var count: UInt32
        /// Where the JSON form starts in `text` (0: the quoted name itself) and its length; the high
        /// bit of `jsonOffset` says the name is ASCII.
        @usableFromInline var jsonOffset: UInt32
        @usableFromInline var jsonCount: UInt32
    }

    // Computed, not stored: inlined readers then see constants, not globals to initialize.
    @inlinable @inline(__always) static var chunkBits: Int { 10 }
    @inlinable @inline(__always) static var chunkSize: Int { 1 << chunkBits }
    private static let chunks = (capacity + chunkSize - 1) >> chunkBits

    private let lock = Mutex(())
    /// Chunks of entries; a chunk's pointer is written before any id in it is handed out.
    @usableFromInline let directory: UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>
    private var count: UInt32 = 0
    private var bytesUsed = 0
    /// Open addressing: each slot is an id (low half; 0: free) and its hash (high half).
    private var slots: [UInt64] = Array(repeating: 0, count: 1024)
    /// Where names' text is copied: the current block, and how much of it is left.
    private var arena: UnsafeMutablePointer<UInt8>?
    private var arenaLeft = 0

    private init() {
        directory = .allocate(capacity: NameTable.chunks)
        directory.initialize(repeating: nil, count: NameTable.chunks)
        // Id 0 is the empty name.
        _ = add(UnsafeRawBufferPointer(start: nil, count: 0))
        for (k, name) in NameTable.wellKnown.enumerated() {
            var name = name
            let id = name.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
            precondition(id == UInt32(k + 1))
        }
    }

    /// Names with fixed ids (1, 2, ...), so code compares with them without a lookup: the iptables
    /// tables, in `Name.raw`'s order.
    static let wellKnown = ["raw", "mangle", "nat", "filter", "security"]

    @inlinable @inline(__always) func entry(_ id: UInt32) -> UnsafeMutablePointer<Entry> {
        directory[Int(id >> UInt32(NameTable.chunkBits))].unsafelyUnwrapped + Int(id & UInt32(NameTable.chunkSize - 1))
    }

    @inlinable @inline(__always) func bytes(_ id: UInt32) -> UnsafeRawBufferPointer {
        let e = entry(id)
        return UnsafeRawBufferPointer(start: e.pointee.text + 1, count: Int(e.pointee.count))
    }

    @inlinable @inline(__always) func json(_ id: UInt32) -> UnsafeRawBufferPointer {
        let e = entry(id)
        let offset = Int(e.pointee.jsonOffset & 0x7FFF_FFFF)
        return UnsafeRawBufferPointer(start: e.pointee.text + offset, count: Int(e.pointee.jsonCount))
    }

    @inlinable @inline(__always) func isASCII(_ id: UInt32) -> Bool { entry(id).pointee.jsonOffset & 0x8000_0000 != 0 }

    /// The id of `bytes` (valid UTF-8, not empty), added when new; nil when new and the table is full.
    func intern(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        let hash = NameTable.hash(bytes)
        return lock.withLock { _ -> UInt32? in
            let mask = slots.count - 1
            var i = Int(hash) & mask
            while slots[i] != 0 {
                let id = UInt32(truncatingIfNeeded: slots[i])
                if UInt32(truncatingIfNeeded: slots[i] >> 32) == hash, self.bytes(id).elementsEqual(bytes) { return id }
                i = (i + 1) & mask
            }
            guard Int(count) < NameTable.capacity, bytesUsed + bytes.count <= NameTable.byteCapacity else {
                return nil
            }
            let id = add(bytes)
            slots[i] = UInt64(hash) << 32 | UInt64(id)
            if Int(count) * 4 > slots.count * 3 { grow() }
            return id
        }
    }

    private func add(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let layout = NameTable.layout(bytes)
        let text = reserve(layout.total)
        NameTable.write(bytes, layout, to: text)
        bytesUsed += layout.total
        let id = count
        let chunk = Int(id >> UInt32(NameTable.chunkBits))
        if directory[chunk] == nil {
            directory[chunk] = .allocate(capacity: NameTable.chunkSize)
        }
        let e = Entry(
            text: UnsafePointer(text), count: UInt32(bytes.count),
            jsonOffset: UInt32(layout.jsonOffset) | (layout.ascii ? 0x8000_0000 : 0),
            jsonCount: UInt32(layout.jsonCount))
        (directory[chunk].unsafelyUnwrapped + Int(id & UInt32(NameTable.chunkSize - 1))).initialize(to: e)
        count += 1
        return id
    }

    private func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if n > 4096 { return .allocate(capacity: n) }
        if n > arenaLeft {
            arena = .allocate(capacity: 65536)
            arenaLeft = 65536
        }
        let p = arena.unsafelyUnwrapped
        arena = p + n
        arenaLeft -= n
        return p
    }

    private func grow() {
        let size = slots.count * 2
        var grown = [UInt64](repeating: 0, count: size)
        for slot in slots where slot != 0 {
            var i = Int(truncatingIfNeeded: slot >> 32) & (size - 1)
            while grown[i] != 0 { i = (i + 1) & (size - 1) }
            grown[i] = slot
        }
        slots = grown
    }

    // MARK: - A name's text

    /// How a name's text is laid out: `"name"` (`total` bytes with the escaped form after it, when the
    /// name needs escaping, at `jsonOffset`).
    struct Layout {
        var total: Int
        var jsonOffset: Int
        var jsonCount: Int
        var ascii: Bool
        var escaped: [UInt8]
    }

    static func layout(_ bytes: UnsafeRawBufferPointer) -> Layout {
        let plain = !bytes.contains(where: JSONEscape.needed)
        let escaped = plain ? [] : jsonEscaped(bytes)
        return Layout(
            total: bytes.count + 2 + escaped.count, jsonOffset: plain ? 0 : bytes.count + 2,
            jsonCount: plain ? bytes.count + 2 : escaped.count, ascii: isASCII(bytes), escaped: escaped)
    }

    /// Writes `"name"` and the escaped form `layout` says at `p`.
    static func write(_ bytes: UnsafeRawBufferPointer, _ layout: Layout, to p: UnsafeMutablePointer<UInt8>) {
        p[0] = UInt8(ascii: "\"")
        if let base = bytes.baseAddress {
            UnsafeMutableRawPointer(p + 1).copyMemory(from: base, byteCount: bytes.count)
        }
        p[bytes.count + 1] = UInt8(ascii: "\"")
        layout.escaped.withUnsafeBufferPointer { escaped in
            if let base = escaped.baseAddress { (p + bytes.count + 2).update(from: base, count: escaped.count) }
        }
    }

    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }

    @inline(__always) static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for b in bytes where b >= 0x80 { return false }
        return true
    }

    /// `"…"` with `"`, `\` and control characters escaped, as the JSON writers escape a string.
    static func jsonEscaped(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(bytes.count + 8)
        for b in bytes { JSONEscape.write(b) { out.append($0) } }
        out.append(UInt8(ascii: "\""))
        return out
    }
}
