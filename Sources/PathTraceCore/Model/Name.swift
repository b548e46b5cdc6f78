/// A name a trace carries (table, chain, interface, LOG prefix, rule text, MAC, file): in the common
/// case a 4-byte id of the process's `NameTable`, so an event or a step copies without reference
/// counting, names compare as integers, and a renderer writes a name's bytes (or its JSON form)
/// without building a `String`. Issue 10's benchmark, scripts/bench-replay.sh, is why: retains and
/// releases of the strings of events and steps took a fifth of the replay's time.
///
/// The table is bounded (`NameTable.capacity`): once it is full, as on input that is not a trace
/// (scripts/gen-messy.py's mutated lines, nearly every one a name of its own), a new name is held
/// by a reference-counted box instead, freed with the last event that uses it, so memory stays
/// bounded whatever the input.
public struct Name: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    @usableFromInline enum Storage: Sendable {
        case table(UInt32)
        case owned(OwnedName)
    }

    @usableFromInline let storage: Storage

    /// The empty name.
    @inlinable @inline(__always) public static var empty: Name { Name(id: 0) }

    @inlinable @inline(__always) init(id: UInt32) {
        storage = .table(id)
    }

    /// A boxed name, as names past the table's capacity are (tests make one without filling it).
    init(boxing bytes: UnsafeRawBufferPointer) {
        storage = .owned(OwnedName(bytes))
    }

    public init(_ string: String) {
        var string = string
        self = string.withUTF8 { Name(validUTF8: UnsafeRawBufferPointer($0)) }
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// The name of bytes as read: invalid UTF-8 is replaced as `String(decoding:as:)` replaces it.
    public init(bytes: UnsafeRawBufferPointer) {
        if bytes.isEmpty {
            self = .empty
            return
        }
        if NameTable.isASCII(bytes) {
            self.init(validUTF8: bytes)
        } else {
            self.init(String(decoding: bytes, as: UTF8.self))
        }
    }

    private init(validUTF8 bytes: UnsafeRawBufferPointer) {
        if bytes.isEmpty {
            storage = .table(0)
        } else if let id = NameTable.shared.intern(bytes) {
            storage = .table(id)
        } else {
            storage = .owned(OwnedName(bytes))
        }
    }

    public var isEmpty: Bool {
        if case .table(0) = storage { return true }
        return false
    }

    /// The name's UTF-8 bytes, in place (valid while this name is).
    @inlinable @inline(__always) public var bytes: UnsafeRawBufferPointer {
        switch storage {
        case .table(let id): return NameTable.shared.bytes(id)
        case .owned(let o): return o.bytes
        }
    }

    /// The name as a JSON string: quoted, and escaped as `JSONWriter` escapes (valid while this name is).
    @inlinable @inline(__always) public var json: UnsafeRawBufferPointer {
        switch storage {
        case .table(let id): return NameTable.shared.json(id)
        case .owned(let o): return o.json
        }
    }

    /// Whether every byte is ASCII (one column per byte in a terminal).
    @inlinable @inline(__always) public var isASCII: Bool {
        switch storage {
        case .table(let id): return NameTable.shared.isASCII(id)
        case .owned(let o): return o.ascii
        }
    }

    public var string: String { String(decoding: bytes, as: UTF8.self) }

    public var description: String { string }

    /// Whether the name starts with `prefix` (bytes compared).
    public func hasPrefix(_ prefix: StaticString) -> Bool {
        let b = bytes
        let n = prefix.utf8CodeUnitCount
        guard b.count >= n else { return false }
        for i in 0..<n where b[i] != prefix.utf8Start[i] { return false }
        return true
    }

    /// Equal bytes, equal names: a name in the table is never also a box (the table is asked first).
    @inline(__always) public static func == (a: Name, b: Name) -> Bool {
        switch (a.storage, b.storage) {
        case (.table(let x), .table(let y)): return x == y
        case (.owned(let x), .owned(let y)): return x === y || x.bytes.elementsEqual(y.bytes)
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch storage {
        case .table(let id): hasher.combine(id)
        case .owned(let o): hasher.combine(bytes: o.bytes)
        }
    }

    /// The table's id, nil for a boxed name.
    @inlinable @inline(__always) var tableID: UInt32? {
        if case .table(let id) = storage { return id }
        return nil
    }
}

/// A name the full table could not take: its bytes and JSON form, freed with the last name using it.
@usableFromInline final class OwnedName: @unchecked Sendable {
    /// `"name"` then, when it needs escaping, its escaped JSON form.
    @usableFromInline let storage: UnsafeMutablePointer<UInt8>
    @usableFromInline let count: Int
    @usableFromInline let jsonOffset: Int
    @usableFromInline let jsonCount: Int
    @usableFromInline let ascii: Bool

    init(_ bytes: UnsafeRawBufferPointer) {
        let layout = NameTable.layout(bytes)
        storage = .allocate(capacity: layout.total)
        NameTable.write(bytes, layout, to: storage)
        count = bytes.count
        jsonOffset = layout.jsonOffset
        jsonCount = layout.jsonCount
        ascii = layout.ascii
    }

    deinit { storage.deallocate() }

    @inlinable var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage + 1, count: count) }
    @inlinable var json: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + jsonOffset, count: jsonCount)
    }
}

extension Optional where Wrapped == Name {
    /// An optional name as the optional `String` the rest of the API speaks.
    ///
    /// A switch, not `map(\.string)`: a key path is projected through the runtime at every call, which
    /// was 2.6% of live nft tracing's CPU (perf, scripts/bench-live.sh) and 76 M instructions of a
    /// 30,000-event replay with `--topology`.
    @inline(__always) public var string: String? {
        switch self {
        case .some(let name): name.string
        case .none: nil
        }
    }

    /// Whether the name is there and not empty (an interface field printed as `OUT=`: none).
    @inline(__always) public var isPresent: Bool {
        guard let name = self else { return false }
        return !name.isEmpty
    }
}

extension Name {
    /// The name of an optional `String` (nil stays nil).
    @usableFromInline static func of(_ string: String?) -> Name? { string.map { Name($0) } }

    // The ids NameTable gives its well-known names.
    public static var raw: Name { Name(id: 1) }
    public static var mangle: Name { Name(id: 2) }
    public static var nat: Name { Name(id: 3) }
    public static var filter: Name { Name(id: 4) }
    public static var security: Name { Name(id: 5) }

    /// Whether this is the name of an iptables table (raw, mangle, nat, filter, security).
    @inline(__always) public var isIptablesTable: Bool {
        guard let id = tableID else { return false }
        return id >= 1 && id <= 5
    }
}
