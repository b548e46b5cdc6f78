/// A name a trace carries (table, chain, interface, LOG prefix, rule text, MAC, file): a 4-byte id of
/// the process's `NameTable`, so an event or a step copies without reference counting, names compare
/// as integers, and a renderer writes a name's bytes (or its JSON form) without building a `String`.
/// Issue 10's benchmark, scripts/bench-replay.sh, is why: retains and releases of the strings of
/// events and steps took a fifth of the replay's time.
///
/// Equal names have equal ids: the table holds each byte sequence once.
public struct Name: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let id: UInt32

    /// The empty name.
    public static var empty: Name { Name(id: 0) }

    @inline(__always) init(id: UInt32) {
        self.id = id
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
        id = bytes.isEmpty ? 0 : NameTable.shared.intern(bytes)
    }

    public var isEmpty: Bool { id == 0 }

    /// The name's UTF-8 bytes, in place.
    @inline(__always) public var bytes: UnsafeRawBufferPointer { NameTable.shared.bytes(id) }

    /// The name as a JSON string: quoted, and escaped as `JSONWriter` escapes.
    @inline(__always) public var json: UnsafeRawBufferPointer { NameTable.shared.json(id) }

    /// Whether every byte is ASCII (one column per byte in a terminal).
    @inline(__always) public var isASCII: Bool { NameTable.shared.isASCII(id) }

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
}

extension Optional where Wrapped == Name {
    /// An optional name as the optional `String` the rest of the API speaks.
    @inline(__always) public var string: String? { map(\.string) }
}

extension Name {
    /// The name of an optional `String` (nil stays nil).
    @inline(__always) static func of(_ string: String?) -> Name? { string.map { Name($0) } }
}

extension Optional where Wrapped == Name {
    /// Whether the name is there and not empty (an interface field printed as `OUT=`: none).
    @inline(__always) public var isPresent: Bool { (self?.id ?? 0) != 0 }
}

extension Name {
    // The ids NameTable gives its well-known names.
    public static var raw: Name { Name(id: 1) }
    public static var mangle: Name { Name(id: 2) }
    public static var nat: Name { Name(id: 3) }
    public static var filter: Name { Name(id: 4) }
    public static var security: Name { Name(id: 5) }

    /// Whether this is the name of an iptables table (raw, mangle, nat, filter, security).
    @inline(__always) public var isIptablesTable: Bool { id >= 1 && id <= 5 }
}
