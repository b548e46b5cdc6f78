/// The same `Name` for the same bytes without the name table's lock: names that repeat in every
/// record (tables, chains) are looked up in the table once, then found here. Bounded: past `capacity`
/// distinct names it starts over.
public struct NameInterner {
    private var entries: [UInt64: (bytes: [UInt8], name: Name)] = [:]
    public let capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    public mutating func name(_ bytes: UnsafeRawBufferPointer) -> Name {
        // FNV-1a: cheap, and a collision only costs a lookup in the table.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        if let e = entries[hash], e.bytes.elementsEqual(bytes) { return e.name }
        let n = Name(bytes: bytes)
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        if entries[hash] == nil { entries[hash] = (Array(bytes), n) }
        return n
    }
}
