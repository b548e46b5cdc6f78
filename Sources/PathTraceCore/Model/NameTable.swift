import Synchronization

/// Every `Name` of the process: each distinct byte sequence once, with its JSON form, never moved and
/// never freed, so a name's bytes are read without a lock. Adding takes a lock; parsers keep a cache
/// in front of it (`NameCache`), so it is taken about once per distinct name a parser sees.
///
/// Memory grows with the distinct names of the input, about 40 bytes plus the name's length twice:
/// a trace repeats a few hundred names, and even 1,000,000 lines of mutated input (scripts/gen-messy.py,
/// nearly every line a name of its own) stay within the benchmark's bound.
public final class NameTable: @unchecked Sendable {
    public static let shared = NameTable()

    struct Entry {
        var bytes: UnsafePointer<UInt8>
        var count: Int32
        var jsonCount: Int32
        var json: UnsafePointer<UInt8>
        var ascii: Bool
    }

    private static let chunkBits = 10
    private static let chunkSize = 1 << chunkBits
    private static let maxChunks = 1 << 16

    private let lock = Mutex(())
    /// Chunks of entries; a chunk's pointer is written before any id in it is handed out.
    private let directory: UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>
    private var count: UInt32 = 0
    /// Open addressing over ids (0: free), with each id's hash beside it.
    private var slots: [UInt32] = Array(repeating: 0, count: 1024)
    private var hashes: [UInt32] = Array(repeating: 0, count: 1024)
    /// Where names' bytes are copied: the current block, and how much of it is left.
    private var arena: UnsafeMutablePointer<UInt8>?
    private var arenaLeft = 0

    private init() {
        directory = .allocate(capacity: NameTable.maxChunks)
        directory.initialize(repeating: nil, count: NameTable.maxChunks)
        // Id 0 is the empty name.
        let quotes = UnsafeMutablePointer<UInt8>.allocate(capacity: 2)
        quotes[0] = UInt8(ascii: "\"")
        quotes[1] = UInt8(ascii: "\"")
        append(
            Entry(bytes: UnsafePointer(quotes + 1), count: 0, jsonCount: 2, json: UnsafePointer(quotes), ascii: true))
        for (k, name) in NameTable.wellKnown.enumerated() {
            var name = name
            let id = name.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
            precondition(id == k + 1)
        }
    }

    /// Names with fixed ids (1, 2, ...), so code compares with them without a lookup: the iptables
    /// tables, in `Name.raw`'s order.
    static let wellKnown = ["raw", "mangle", "nat", "filter", "security"]

    @inline(__always) private func entry(_ id: UInt32) -> UnsafeMutablePointer<Entry> {
        directory[Int(id >> UInt32(NameTable.chunkBits))].unsafelyUnwrapped + Int(id & UInt32(NameTable.chunkSize - 1))
    }

    @inline(__always) func bytes(_ id: UInt32) -> UnsafeRawBufferPointer {
        let e = entry(id)
        return UnsafeRawBufferPointer(start: e.pointee.bytes, count: Int(e.pointee.count))
    }

    @inline(__always) func json(_ id: UInt32) -> UnsafeRawBufferPointer {
        let e = entry(id)
        return UnsafeRawBufferPointer(start: e.pointee.json, count: Int(e.pointee.jsonCount))
    }

    @inline(__always) func isASCII(_ id: UInt32) -> Bool { entry(id).pointee.ascii }

    /// The id of `bytes` (valid UTF-8, not empty), added when new.
    func intern(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let hash = NameTable.hash(bytes)
        return lock.withLock { _ in
            let mask = slots.count - 1
            var i = Int(hash) & mask
            while slots[i] != 0 {
                if hashes[i] == hash, self.bytes(slots[i]).elementsEqual(bytes) { return slots[i] }
                i = (i + 1) & mask
            }
            let id = add(bytes)
            slots[i] = id
            hashes[i] = hash
            if Int(count) * 2 > slots.count { grow() }
            return id
        }
    }

    private func add(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let ascii = NameTable.isASCII(bytes)
        var plain = true
        for b in bytes where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
            plain = false
            break
        }
        // Plain names are stored once, in quotes: the JSON form is the bytes with the quotes around.
        let escaped = plain ? [] : NameTable.jsonEscaped(bytes)
        let total = bytes.count + 2 + escaped.count
        let p = reserve(total)
        p[0] = UInt8(ascii: "\"")
        UnsafeMutableRawPointer(p + 1).copyMemory(from: bytes.baseAddress.unsafelyUnwrapped, byteCount: bytes.count)
        p[bytes.count + 1] = UInt8(ascii: "\"")
        var json = UnsafePointer(p)
        var jsonCount = bytes.count + 2
        if !plain {
            let q = p + bytes.count + 2
            escaped.withUnsafeBufferPointer { q.update(from: $0.baseAddress.unsafelyUnwrapped, count: escaped.count) }
            json = UnsafePointer(q)
            jsonCount = escaped.count
        }
        return append(
            Entry(
                bytes: UnsafePointer(p + 1), count: Int32(bytes.count), jsonCount: Int32(jsonCount), json: json,
                ascii: ascii))
    }

    @discardableResult private func append(_ e: Entry) -> UInt32 {
        let id = count
        let chunk = Int(id >> UInt32(NameTable.chunkBits))
        precondition(chunk < NameTable.maxChunks, "more than \(NameTable.maxChunks << NameTable.chunkBits) names")
        if directory[chunk] == nil {
            directory[chunk] = .allocate(capacity: NameTable.chunkSize)
        }
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
        var newSlots = [UInt32](repeating: 0, count: size)
        var newHashes = [UInt32](repeating: 0, count: size)
        for k in slots.indices where slots[k] != 0 {
            var i = Int(hashes[k]) & (size - 1)
            while newSlots[i] != 0 { i = (i + 1) & (size - 1) }
            newSlots[i] = slots[k]
            newHashes[i] = hashes[k]
        }
        slots = newSlots
        hashes = newHashes
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

    /// `"…"` with `"`, `\` and control characters escaped, as `JSONWriter` writes a string.
    static func jsonEscaped(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(bytes.count + 8)
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 10: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 13: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 9: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<32:
                out += Array("\\u00".utf8)
                out.append(hexDigit(b >> 4))
                out.append(hexDigit(b & 15))
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 87 + v }
}
