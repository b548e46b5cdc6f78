/// The same `String` for the same bytes: names that repeat in every record (tables, chains) are
/// decoded and allocated once, then shared. Bounded: past `capacity` distinct names it starts over.
public struct StringInterner {
    private var entries: [UInt64: (bytes: [UInt8], string: String)] = [:]
    public let capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    public mutating func string(_ bytes: UnsafeRawBufferPointer) -> String {
        // FNV-1a: cheap, and a collision only costs a fresh String.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        if let e = entries[hash], e.bytes.elementsEqual(bytes) { return e.string }
        let s = String(decoding: bytes, as: UTF8.self)
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        if entries[hash] == nil { entries[hash] = (Array(bytes), s) }
        return s
    }
}
