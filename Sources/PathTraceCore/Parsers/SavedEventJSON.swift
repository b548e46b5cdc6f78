import Foundation

/// One saved-event line read as JSON from its bytes, for the shapes `--save` writes: objects, arrays,
/// ASCII strings without escapes, `null`, non-negative integers and plain decimals.
///
/// Foundation's `JSONSerialization` took 235,000 instructions a saved-event line (callgrind, `replay`
/// on the first 3 MB of the benchmark's mutated file, `scripts/bench-replay.sh`); this reader takes a
/// few thousand. It answers only where its answer is JSONSerialization's: anything it does not read
/// for certain (a `\u` escape, an escape in a key, a byte outside printable ASCII in a string, `true`, a
/// negative number, an exponent, a repeated key, deep nesting) makes it `unsure`, and the caller asks
/// JSONSerialization. The one-character escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`) are
/// read: nft prints rule texts with quoted names (`iifname "virbr0"`), and such a line asking
/// JSONSerialization cost 250,000 instructions, a third of a live nft capture's replay.
/// A line that breaks JSON's grammar where no extension could accept it is `invalid`.
/// `SavedEventParserTests` compares the two on thousands of mutated lines.
struct SavedEventJSON {
    enum Outcome {
        case parsed(SavedEventJSON)
        case invalid
        case unsure
    }

    /// A value; strings and numbers are byte ranges of the line, objects and arrays ranges of `entries`.
    enum Value {
        case null
        case string(Range<Int>)
        /// A string with one-character escapes in it, decoded when read.
        case escaped(Range<Int>)
        case integer(Int)
        /// A number with a fraction: only `time` may be one (another field would ask for an Int).
        case decimal(Range<Int>)
        case object(Range<Int>)
        case array(Range<Int>)
    }

    /// A member of an object (`key` a byte range of the line), or an element of an array (empty key).
    struct Entry {
        var key: Range<Int>
        var value: Value
    }

    /// Members an object may have before the reader leaves the line to JSONSerialization.
    static let maxMembers = 64

    /// Thrown by a lookup whose answer JSONSerialization might give differently (a decimal where an
    /// Int is asked for, an array of other things than strings).
    struct Unsure: Error {}

    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var entries: [Entry] = []
    /// The top-level object's members.
    private(set) var members: Range<Int> = 0..<0

    static func read(_ line: UnsafeBufferPointer<UInt8>) -> Outcome {
        var reader = SavedEventJSON(bytes: line)
        var at = 0
        switch reader.value(at: &at, depth: 0) {
        case .value(.object(let members)):
            reader.members = members
        case .value: return .unsure
        case .invalid: return .invalid
        case .unsure: return .unsure
        }
        reader.skipSpace(&at)
        return at == line.count ? .parsed(reader) : .invalid
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        entries.reserveCapacity(64)
    }

    private enum Step {
        case value(Value)
        case invalid
        case unsure
    }

    /// JSON's four whitespace bytes.
    private func skipSpace(_ at: inout Int) {
        while at < bytes.count {
            let b = bytes[at]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            at += 1
        }
    }

    private mutating func value(at: inout Int, depth: Int) -> Step {
        skipSpace(&at)
        guard at < bytes.count else { return .invalid }
        switch bytes[at] {
        case UInt8(ascii: "{"): return depth < 8 ? object(at: &at, depth: depth + 1) : .unsure
        case UInt8(ascii: "["): return depth < 8 ? array(at: &at, depth: depth + 1) : .unsure
        case UInt8(ascii: "\""):
            guard let (range, escaped) = string(at: &at) else { return .unsure }
            if range.isEmpty && at > bytes.count { return .invalid }
            return .value(escaped ? .escaped(range) : .string(range))
        case UInt8(ascii: "n"):
            guard at + 4 <= bytes.count, bytes[at + 1] == UInt8(ascii: "u"), bytes[at + 2] == UInt8(ascii: "l"),
                bytes[at + 3] == UInt8(ascii: "l")
            else { return .unsure }
            at += 4
            return .value(.null)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return number(at: &at)
        case UInt8(ascii: "-"), UInt8(ascii: "t"), UInt8(ascii: "f"): return .unsure
        default: return .invalid
        }
    }

    /// A string's bytes without the quotes, and whether one-character escapes are in it; nil (unsure)
    /// for a byte outside printable ASCII or a `\u` escape. An unterminated string leaves `at` past the end.
    private func string(at: inout Int) -> (Range<Int>, escaped: Bool)? {
        let start = at + 1
        var i = start
        var escaped = false
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                at = i + 1
                return (start..<i, escaped)
            }
            if b == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count, SavedEventJSON.unescaped(bytes[i + 1]) != nil else { return nil }
                escaped = true
                i += 2
                continue
            }
            if b < 0x20 || b >= 0x7F { return nil }
            i += 1
        }
        at = bytes.count + 1
        return (start..<start, false)
    }

    /// `0` or a digit run without a leading zero, with an optional `.digits`; others are unsure.
    private func number(at: inout Int) -> Step {
        let start = at
        var i = at
        var n = 0
        while i < bytes.count, Byte.isDigit(bytes[i]) {
            n = n &* 10 &+ Int(bytes[i] &- 48)
            i += 1
        }
        let digits = i - start
        if (digits > 1 && bytes[start] == UInt8(ascii: "0")) || digits > 18 { return .unsure }
        var fraction = false
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            let dot = i
            i += 1
            while i < bytes.count, Byte.isDigit(bytes[i]) { i += 1 }
            if i == dot + 1 { return .unsure }
            fraction = true
        }
        if i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x0A, 0x0D, 0x09, UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"): break
            default: return .unsure
            }
        }
        at = i
        return .value(fraction ? .decimal(start..<i) : .integer(n))
    }

    private mutating func object(at: inout Int, depth: Int) -> Step {
        at += 1
        var own: [Entry] = []
        own.reserveCapacity(32)
        // Keys seen, by a hash bit of each among 256: a saved event's 45 keys in 64 bits collided a few
        // times a line, and each collision searched the members again.
        var seen: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        skipSpace(&at)
        if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
            at += 1
            return .value(.object(entries.count..<entries.count))
        }
        while true {
            skipSpace(&at)
            guard at < bytes.count else { return .invalid }
            guard bytes[at] == UInt8(ascii: "\"") else {
                // `}` after a comma is a trailing comma: JSON5's, not JSON's; let Foundation say.
                return bytes[at] == UInt8(ascii: "}") ? .unsure : .invalid
            }
            // A key with an escape is left to Foundation: keys are compared as their bytes.
            guard let (key, escaped) = string(at: &at), !escaped else { return .unsure }
            if at > bytes.count { return .invalid }
            // A saved event's largest object (the header) has 28 members; more are not a saved event,
            // and the repeated-key search below would grow with their square.
            if own.count >= SavedEventJSON.maxMembers { return .unsure }
            // A repeated key: which one JSONSerialization keeps is its business.
            let hash = keyHash(key)
            let bit = UInt64(1) << UInt64(hash & 63)
            let word: UInt64
            switch (hash >> 6) & 3 {
            case 0: word = seen.0
            case 1: word = seen.1
            case 2: word = seen.2
            default: word = seen.3
            }
            if word & bit != 0, own.contains(where: { sameBytes($0.key, key) }) { return .unsure }
            switch (hash >> 6) & 3 {
            case 0: seen.0 |= bit
            case 1: seen.1 |= bit
            case 2: seen.2 |= bit
            default: seen.3 |= bit
            }
            skipSpace(&at)
            guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { return .invalid }
            at += 1
            switch value(at: &at, depth: depth) {
            case .value(let v): own.append(Entry(key: key, value: v))
            case .invalid: return .invalid
            case .unsure: return .unsure
            }
            guard let more = more(at: &at, closer: UInt8(ascii: "}")) else { return .invalid }
            if !more { return .value(.object(close(own))) }
        }
    }

    private mutating func array(at: inout Int, depth: Int) -> Step {
        at += 1
        var own: [Entry] = []
        skipSpace(&at)
        if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
            at += 1
            return .value(.array(entries.count..<entries.count))
        }
        while true {
            skipSpace(&at)
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") { return .unsure }
            switch value(at: &at, depth: depth) {
            case .value(let v): own.append(Entry(key: 0..<0, value: v))
            case .invalid: return .invalid
            case .unsure: return .unsure
            }
            guard let more = more(at: &at, closer: UInt8(ascii: "]")) else { return .invalid }
            if !more { return .value(.array(close(own))) }
        }
    }

    /// After a member or element: true past a comma, false past `closer`, nil when neither follows.
    private func more(at: inout Int, closer: UInt8) -> Bool? {
        skipSpace(&at)
        guard at < bytes.count, bytes[at] == UInt8(ascii: ",") || bytes[at] == closer else { return nil }
        at += 1
        return bytes[at - 1] == UInt8(ascii: ",")
    }

    /// Stores a finished object's members or array's elements together, after those of values nested in it.
    private mutating func close(_ own: [Entry]) -> Range<Int> {
        let first = entries.count
        entries.append(contentsOf: own)
        return first..<entries.count
    }

    private func keyHash(_ key: Range<Int>) -> Int {
        var h = key.count
        for i in key { h = h &* 31 &+ Int(bytes[i]) }
        return h ^ (h >> 11)
    }

    private func sameBytes(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where bytes[a.lowerBound + i] != bytes[b.lowerBound + i] { return false }
        return true
    }

    /// The value of `key` among `members` (nil when absent); members come in the order `--save` writes
    /// them, so the search starts where the last one was found.
    func lookup(_ key: StaticString, in members: Range<Int>, hint: inout Int) -> Value? {
        let count = members.count
        guard count > 0 else { return nil }
        let k = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        for step in 0..<count {
            let i = members.lowerBound + (hint - members.lowerBound + step) % count
            let r = entries[i].key
            if r.count == k.count, Self.same(bytes, r.lowerBound, k) {
                hint = i + 1 < members.upperBound ? i + 1 : members.lowerBound
                return entries[i].value
            }
        }
        return nil
    }

    /// Whether `key` is at `start` of `bytes` (the caller checked the room): a plain loop, where a
    /// `zip` and `allSatisfy` was a third of a saved event's reading (callgrind, a live nft capture).
    private static func same(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ key: UnsafeBufferPointer<UInt8>)
        -> Bool
    {
        for i in 0..<key.count where bytes[start + i] != key[i] { return false }
        return true
    }

    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// The text of a string with one-character escapes (`string(at:)` checked each one).
    func unescapedText(_ range: Range<Int>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        while i < range.upperBound {
            if bytes[i] == UInt8(ascii: "\\"), i + 1 < range.upperBound, let b = SavedEventJSON.unescaped(bytes[i + 1])
            {
                out.append(b)
                i += 2
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The byte a one-character escape stands for; nil for `u` and anything else.
    static func unescaped(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): b
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
    }
}

/// One object of a saved event as `SavedEventParser` reads it: JSONSerialization's dictionary, or an
/// object of `SavedEventJSON`. The lookups answer as `as?` casts of JSONSerialization's values would.
protocol SavedEventObject {
    mutating func string(_ key: StaticString) throws -> String?
    mutating func int(_ key: StaticString) throws -> Int?
    mutating func double(_ key: StaticString) throws -> Double?
    mutating func uint64(_ key: StaticString) throws -> UInt64?
    mutating func object(_ key: StaticString) throws -> Self?
    mutating func strings(_ key: StaticString) throws -> [String]?
}

extension SavedEventJSON {
    /// An object of the line, with the position its next lookup starts from.
    struct Object: SavedEventObject {
        let json: SavedEventJSON
        let members: Range<Int>
        var hint: Int

        init(_ json: SavedEventJSON, _ members: Range<Int>) {
            self.json = json
            self.members = members
            hint = members.lowerBound
        }

        private mutating func value(_ key: StaticString) -> Value? { json.lookup(key, in: members, hint: &hint) }

        mutating func string(_ key: StaticString) throws -> String? {
            switch value(key) {
            case .string(let r): return json.text(r)
            case .escaped(let r): return json.unescapedText(r)
            default: return nil
            }
        }

        mutating func int(_ key: StaticString) throws -> Int? {
            switch value(key) {
            case .integer(let n): return n
            case .decimal: throw Unsure()
            default: return nil
            }
        }

        mutating func double(_ key: StaticString) throws -> Double? {
            switch value(key) {
            case .integer(let n):
                guard n <= 1 << 53 else { throw Unsure() }
                return Double(n)
            case .decimal(let r):
                guard let d = Double(json.text(r)) else { throw Unsure() }
                return d
            default: return nil
            }
        }

        mutating func uint64(_ key: StaticString) throws -> UInt64? {
            switch value(key) {
            case .integer(let n): return UInt64(n)
            case .decimal: throw Unsure()
            default: return nil
            }
        }

        mutating func object(_ key: StaticString) throws -> Object? {
            if case .object(let r) = value(key) { return Object(json, r) }
            return nil
        }

        mutating func strings(_ key: StaticString) throws -> [String]? {
            guard case .array(let r) = value(key) else { return nil }
            return try json.entries[r].map {
                switch $0.value {
                case .string(let s): return json.text(s)
                case .escaped(let s): return json.unescapedText(s)
                default: throw Unsure()
                }
            }
        }
    }
}

/// JSONSerialization's dictionary, looked up as the parser did before `SavedEventJSON`.
struct SavedEventDictionary: SavedEventObject {
    let object: [String: Any]

    private func value(_ key: StaticString) -> Any? { object[key.description] }

    func string(_ key: StaticString) -> String? { value(key) as? String }
    func int(_ key: StaticString) -> Int? { value(key) as? Int }
    /// JSONSerialization gives a number of 17 digits or more as an NSDecimalNumber, whose `Double` is
    /// not the nearest one (…740.6194046 became …740.6194043): its decimal text, as `--save` wrote
    /// it, is read instead, so that a saved time replays as it was.
    func double(_ key: StaticString) -> Double? {
        if let decimal = value(key) as? NSDecimalNumber { return Double(decimal.description) }
        return value(key) as? Double
    }
    func uint64(_ key: StaticString) -> UInt64? { value(key) as? UInt64 }
    func object(_ key: StaticString) -> SavedEventDictionary? {
        (value(key) as? [String: Any]).map(SavedEventDictionary.init)
    }
    func strings(_ key: StaticString) -> [String]? { value(key) as? [String] }
}
