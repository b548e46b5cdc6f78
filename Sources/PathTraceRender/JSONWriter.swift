import PathTraceCore

/// Appends JSON to a byte buffer without Foundation: the JSON Lines output is a hot path of replay.
///
/// The buffer is raw memory owned by the writer and reused from walk to walk; values are written
/// straight into it (digits, addresses, escaped strings) without building intermediate Strings.
/// Keys are `StaticString`s: plain ASCII names, copied as they are. The walk writer, whose structure
/// is fixed, writes through a `JSONOut` instead (`out()` … `commit(_:)`): literals with their commas,
/// no look at the last byte, and no bounds check per value.
///
/// A class, so renderers share one buffer; its fields skip Swift's dynamic exclusivity checks (which
/// cost more than the writes themselves): the writer is used from one thread, one call at a time.
public final class JSONWriter {
    @exclusivity(unchecked) private var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var capacity: Int
    /// Bytes written so far.
    @exclusivity(unchecked) public private(set) var count = 0
    /// Open objects and arrays; a value at depth 0 (a new line's object) needs no comma.
    @exclusivity(unchecked) private var depth = 0

    /// The step places the walk writer printed (`StepTextCache`), made on first use.
    @inline(__always) var places: StepTextCache { placesStorage ?? makePlaces(text: false) }

    /// The same for the text timeline's columns.
    @inline(__always) var textPlaces: StepTextCache { textPlacesStorage ?? makePlaces(text: true) }

    /// Not `lazy`: its getter was a call a walk (issue 10, scripts/icount.sh).
    @exclusivity(unchecked) private var placesStorage: StepTextCache?
    @exclusivity(unchecked) private var textPlacesStorage: StepTextCache?

    @inline(never) private func makePlaces(text: Bool) -> StepTextCache {
        let cache = StepTextCache()
        if text { textPlacesStorage = cache } else { placesStorage = cache }
        return cache
    }

    /// The texts of the last NAT rewrite the walk writer printed.
    @exclusivity(unchecked) var natMemo = NatMemo()

    /// `JSONOut.addressBody`'s table: for each byte value its decimal digits and a dot (as a
    /// little-endian word), and in bits 32... how many digits.
    nonisolated(unsafe) private static let octetTable: UnsafePointer<UInt64> = {
        let table = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
        for v in 0..<256 {
            let digits = Array(String(v).utf8) + [UInt8(ascii: ".")]
            var word: UInt64 = 0
            for (i, b) in digits.enumerated() { word |= UInt64(b) << UInt64(8 * i) }
            table[v] = word | UInt64(digits.count - 1) << 32
        }
        return UnsafePointer(table)
    }()

    /// `octetTable`, read through the writer rather than a global's lazy accessor.
    let octets = JSONWriter.octetTable

    /// `JSONOut.digitGroups`' table: for each v below 1000 its three digits, zero-padded (a
    /// little-endian word), in bits 32... how many of them are leading zeros and in bits 40... how many
    /// trailing zeros (0 counts as "0": two of each).
    nonisolated(unsafe) private static let digitTable: UnsafePointer<UInt64> = {
        let table = UnsafeMutablePointer<UInt64>.allocate(capacity: 1000)
        // By arithmetic, not Strings: a thousand Strings cost as much as a thousand steps.
        for v in 0..<1000 {
            let (h, t, u) = (v / 100, v / 10 % 10, v % 10)
            let word = UInt64(48 + h) | UInt64(48 + t) << 8 | UInt64(48 + u) << 16
            let leading = v >= 100 ? 0 : (v >= 10 ? 1 : 2)
            let trailing = v == 0 ? 2 : (v % 100 == 0 ? 2 : (v % 10 == 0 ? 1 : 0))
            table[v] = word | UInt64(leading) << 32 | UInt64(trailing) << 40
        }
        return UnsafePointer(table)
    }()

    /// `digitTable`, read through the writer.
    let digits = JSONWriter.digitTable

    /// The `,"origin":…,"source":"file:` the walk writer printed last, kept from walk to walk.
    @exclusivity(unchecked) var origins = OriginText()

    /// What the walk writer printed from a walk's family to its `reply_to` key, by kind
    /// (`WalkPrefixText.kind`).
    @exclusivity(unchecked) var prefixes = KeptText(slots: WalkPrefixText.kinds, room: WalkPrefixText.room)

    /// The seconds of the last time the text timeline printed, kept from walk to walk.
    @exclusivity(unchecked) var textSeconds = SecondsText()

    /// The milliseconds of the last kernel time the walk writer printed, kept from walk to walk.
    @exclusivity(unchecked) var seconds = WalkJSON.SecondsMemo()

    /// The last flow protocol the walk writer printed, quoted, kept from walk to walk.
    @exclusivity(unchecked) var proto = WalkJSON.ProtoText()

    public init(capacity: Int = 1 << 17) {
        self.capacity = max(capacity, 64)
        base = UnsafeMutablePointer<UInt8>.allocate(capacity: self.capacity)
    }

    deinit {
        base.deallocate()
        placesStorage?.deallocate()
        textPlacesStorage?.deallocate()
        origins.runs.deallocate()
        prefixes.deallocate()
    }

    /// The bytes written since the last `removeAll`.
    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A copy of the bytes written (tests and small outputs).
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    public func removeAll() {
        count = 0
        depth = 0
    }

    // MARK: - Structure

    public func beginObject() {
        separator()
        byte(UInt8(ascii: "{"))
        depth += 1
    }

    public func beginObject(_ key: StaticString) {
        self.key(key)
        byte(UInt8(ascii: "{"))
        depth += 1
    }

    public func endObject() {
        byte(UInt8(ascii: "}"))
        depth -= 1
    }

    public func beginArray(_ key: StaticString) {
        self.key(key)
        byte(UInt8(ascii: "["))
        depth += 1
    }

    public func endArray() {
        byte(UInt8(ascii: "]"))
        depth -= 1
    }

    /// Ends a JSON line.
    public func newline() { byte(10) }

    /// `"name":`, after a comma unless it opens its object.
    @inline(__always) public func key(_ name: StaticString) {
        let n = name.utf8CodeUnitCount
        reserve(n + 4)
        separator()
        base[count] = UInt8(ascii: "\"")
        JSONWriter.copy(base + count + 1, name.utf8Start, n)
        base[count + n + 1] = UInt8(ascii: "\"")
        base[count + n + 2] = UInt8(ascii: ":")
        count += n + 3
    }

    /// Copies `n` bytes; short runs (keys, names) with a few word moves instead of a call to memmove.
    @inline(__always) static func copy(_ dst: UnsafeMutablePointer<UInt8>, _ src: UnsafePointer<UInt8>, _ n: Int) {
        let d = UnsafeMutableRawPointer(dst)
        let s = UnsafeRawPointer(src)
        if n >= 8 && n <= 16 {
            // Two words that may overlap cover 8...16 bytes.
            d.storeBytes(of: s.loadUnaligned(as: UInt64.self), as: UInt64.self)
            (d + n - 8).storeBytes(of: (s + n - 8).loadUnaligned(as: UInt64.self), as: UInt64.self)
        } else if n >= 4 && n < 8 {
            d.storeBytes(of: s.loadUnaligned(as: UInt32.self), as: UInt32.self)
            (d + n - 4).storeBytes(of: (s + n - 4).loadUnaligned(as: UInt32.self), as: UInt32.self)
        } else if n < 4 {
            for i in 0..<n { dst[i] = src[i] }
        } else if n <= 32 {
            // Four words cover 17...32 bytes (file names, addresses).
            d.storeBytes(of: s.loadUnaligned(as: UInt64.self), as: UInt64.self)
            (d + 8).storeBytes(of: (s + 8).loadUnaligned(as: UInt64.self), as: UInt64.self)
            (d + n - 16).storeBytes(of: (s + n - 16).loadUnaligned(as: UInt64.self), as: UInt64.self)
            (d + n - 8).storeBytes(of: (s + n - 8).loadUnaligned(as: UInt64.self), as: UInt64.self)
        } else {
            // A plain memcpy call: `update(from:count:)` first looks which way the runs overlap.
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n)
        }
    }

    /// A comma unless the last byte opened an object or array (or the value starts a line).
    @inline(__always) private func separator() {
        guard depth > 0 else { return }
        let last = base[count - 1]
        if last != UInt8(ascii: "{") && last != UInt8(ascii: "[") { byte(UInt8(ascii: ",")) }
    }

    // MARK: - Fields

    public func field(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    public func field<T: BinaryInteger>(_ name: StaticString, _ value: T?) {
        key(name)
        if let value { integer(Int64(value)) } else { null() }
    }

    public func field(_ name: StaticString, _ value: Double?) {
        key(name)
        if let value, value.isFinite { double(value) } else { null() }
    }

    public func field(_ name: StaticString, _ value: Bool) {
        key(name)
        if value { raw("true") } else { raw("false") }
    }

    public func field(_ name: StaticString, _ value: IPAddress?) {
        key(name)
        if let value { address(value) } else { null() }
    }

    // MARK: - Keys known to follow a value

    /// `,"name":` spelled out by the caller, for keys that never open their object: one copy, no
    /// look at the last byte.
    @inline(__always) public func nextKey(_ commaKeyColon: StaticString) { raw(commaKeyColon) }

    @inline(__always) public func value(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    @inline(__always) public func value<T: BinaryInteger>(_ value: T?) {
        if let value { integer(Int64(value)) } else { null() }
    }

    @inline(__always) public func value(_ value: Double?) {
        if let value, value.isFinite { double(value) } else { null() }
    }

    @inline(__always) public func value(_ value: IPAddress?) {
        if let value { address(value) } else { null() }
    }

    @inline(__always) public func value(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    /// A bare string element inside an array.
    public func element(_ value: String) {
        separator()
        string(value)
    }

    /// A bare integer element inside an array.
    public func element(_ value: Int) {
        separator()
        integer(Int64(value))
    }

    // MARK: - Values

    public func null() { raw("null") }

    /// A quoted, escaped string.
    public func string(_ s: String) {
        byte(UInt8(ascii: "\""))
        stringBody(s)
        byte(UInt8(ascii: "\""))
    }

    /// The escaped bytes of `s`, without quotes (for values assembled from several parts).
    public func stringBody(_ s: String) {
        s.withUTF8Bytes { escaped($0) }
    }

    /// A quoted ASCII literal that needs no escaping.
    public func string(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        reserve(n + 2)
        base[count] = UInt8(ascii: "\"")
        JSONWriter.copy(base + count + 1, s.utf8Start, n)
        base[count + n + 1] = UInt8(ascii: "\"")
        count += n + 2
    }

    /// Bytes copied as they are (literals, already valid JSON).
    @inline(__always) public func raw(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        reserve(n)
        JSONWriter.copy(base + count, s.utf8Start, n)
        count += n
    }

    @inline(__always) public func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    /// Copies `bytes`, escaping what JSON requires.
    private func escaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        var o = out()
        o.escaped(bytes)
        commit(o)
    }

    public func integer(_ v: Int64) {
        if v < 0 { byte(UInt8(ascii: "-")) }
        unsigned(v.magnitude)
    }

    /// Decimal digits of `v`.
    public func unsigned(_ v: UInt64) {
        reserve(28)
        count += JSONOut.unsigned(v, at: base + count)
    }

    /// `v` as 8 lowercase hex digits, zero-padded.
    public func hex8(_ v: UInt32) {
        reserve(8)
        for k in 0..<8 {
            base[count + k] = JSONEscape.hexDigit(UInt8(truncatingIfNeeded: v >> UInt32(28 - 4 * k)) & 15)
        }
        count += 8
    }

    /// A quoted address in the canonical form of `IPAddress.description`.
    public func address(_ a: IPAddress) {
        byte(UInt8(ascii: "\""))
        addressBody(a)
        byte(UInt8(ascii: "\""))
    }

    /// The address text without quotes; the same bytes as `a.description`.
    public func addressBody(_ a: IPAddress) {
        var o = out()
        o.addressBody(a)
        commit(o)
    }

    /// TCP flag names in nf_log order, joined by spaces (the text of `flags.names`), quoted.
    public func tcpFlags(_ flags: TCPFlags) {
        var o = out()
        o.tcpFlags(flags)
        commit(o)
    }

    /// The text Swift's `description` gives for a finite double.
    public func double(_ v: Double) {
        var o = out()
        o.double(v)
        commit(o)
    }

    /// Bytes of a String copied as they are (no escaping: only for text known to be valid JSON).
    func rawText(_ s: String) {
        var copy = s
        copy.withUTF8 { b in
            reserve(b.count)
            if let p = b.baseAddress { (base + count).update(from: p, count: b.count) }
            count += b.count
        }
    }

    /// Room for `n` bytes at the end; `body` writes at most `n` there and returns how many (the text
    /// timeline's bytes go into this buffer too).
    @inline(__always) func append(reserving n: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        reserve(n)
        count += body(base + count)
    }

    /// Whether the last byte written is a space (a text line's to trim).
    @inline(__always) var endsInSpace: Bool { count > 0 && base[count - 1] == UInt8(ascii: " ") }

    /// Forgets what was written after the first `n` bytes (a text line losing its trailing spaces).
    @inline(__always) func truncate(to n: Int) {
        if n < count { count = n }
    }

    // MARK: - Unchecked positions

    /// A position at the end of what is written, with `JSONOut.slack` bytes of room.
    @inline(__always) func out() -> JSONOut {
        reserve(JSONOut.slack)
        return JSONOut(p: base + count, end: base + capacity, base: base, writer: self)
    }

    /// Takes what was written through `o` (the last position handed out) as written.
    @inline(__always) func commit(_ o: JSONOut) {
        assert(o.p <= base + capacity, "a JSONOut wrote past its room")
        count = o.p - base
    }

    /// Moves `o` to a bigger buffer with `room` bytes free after it.
    func grow(_ o: inout JSONOut, room: Int) {
        commit(o)
        reserve(room)
        o.p = base + count
        o.end = base + capacity
        o.base = base
    }

    @inline(__always) private func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private func grow(_ needed: Int) {
        var size = capacity * 2
        while size < needed { size *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = size
    }
}

/// Whole seconds and their digits as `JSONOut.seconds` printed them last.
struct SecondsText {
    var seconds: UInt64 = .max
    var text: (UInt64, UInt64) = (0, 0)
    var count = 0
}
