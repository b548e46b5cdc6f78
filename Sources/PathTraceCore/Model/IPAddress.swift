/// An IPv4 or IPv6 address held in 16 bytes, printed in its canonical short form.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The high and low 64 bits; an IPv4 address lives in the low 32 bits of `low`.
    public let high: UInt64
    public let low: UInt64
    public let isV6: Bool

    @inlinable @inline(__always) public init(v4 value: UInt32) {
        high = 0
        low = UInt64(value)
        isV6 = false
    }

    @inlinable @inline(__always) public init(v6 high: UInt64, _ low: UInt64) {
        self.high = high
        self.low = low
        isV6 = true
    }

    /// The parts as `PacketHeader` stores them (`low` holds an IPv4 address, `high` is then 0).
    @inlinable @inline(__always) init(high: UInt64, low: UInt64, isV6: Bool) {
        self.high = high
        self.low = low
        self.isV6 = isV6
    }

    /// Parses a dotted quad or any textual IPv6 form (full, compressed, with an embedded dotted quad).
    public init?(_ text: String) {
        var copy = text
        let parsed: IPAddress? = copy.withUTF8 { IPAddress.parse($0) }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Parses bytes without allocating; the hot path of every text parser.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        if bytes.isEmpty || bytes.count > 45 { return nil }
        var hasColon = false
        for b in bytes where b == UInt8(ascii: ":") {
            hasColon = true
            break
        }
        return hasColon ? parseV6(bytes) : parseV4(bytes[...]).map { IPAddress(v4: $0) }
    }

    static func parseV4(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> UInt32? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var parts = 0
        for b in bytes {
            if b >= 48 && b <= 57 {
                octet = octet * 10 + UInt32(b - 48)
                digits += 1
                if digits > 3 || octet > 255 { return nil }
            } else if b == UInt8(ascii: ".") {
                if digits == 0 || parts == 3 { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                parts += 1
            } else {
                return nil
            }
        }
        if digits == 0 || parts != 3 { return nil }
        return value << 8 | octet
    }

    static func parseV6(_ bytes: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        var groups = [UInt16](repeating: 0, count: 8)
        var count = 0
        var gap = -1
        var i = 0
        let n = bytes.count
        if n >= 2 && bytes[0] == UInt8(ascii: ":") && bytes[1] == UInt8(ascii: ":") {
            gap = 0
            i = 2
            if n == 2 { return IPAddress(v6: 0, 0) }
        } else if n >= 1 && bytes[0] == UInt8(ascii: ":") {
            return nil
        }
        while i < n {
            if count >= 8 { return nil }
            var value: UInt32 = 0
            var digits = 0
            let start = i
            while i < n, let h = hexValue(bytes[i]) {
                value = value << 4 | UInt32(h)
                digits += 1
                i += 1
                if digits > 4 { return nil }
            }
            if i < n && bytes[i] == UInt8(ascii: ".") {
                guard count <= 6, let v4 = parseV4(bytes[start..<n]) else { return nil }
                groups[count] = UInt16(v4 >> 16)
                groups[count + 1] = UInt16(v4 & 0xFFFF)
                count += 2
                i = n
                break
            }
            if digits == 0 { return nil }
            groups[count] = UInt16(value)
            count += 1
            if i == n { break }
            guard bytes[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            if i < n && bytes[i] == UInt8(ascii: ":") {
                if gap >= 0 { return nil }
                gap = count
                i += 1
                if i == n { break }
            } else if i == n {
                return nil
            }
        }
        if gap >= 0 {
            let tail = count - gap
            if count == 8 { return nil }
            var out = [UInt16](repeating: 0, count: 8)
            for k in 0..<gap { out[k] = groups[k] }
            for k in 0..<tail { out[8 - tail + k] = groups[gap + k] }
            groups = out
        } else if count != 8 {
            return nil
        }
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for k in 0..<4 { hi = hi << 16 | UInt64(groups[k]) }
        for k in 4..<8 { lo = lo << 16 | UInt64(groups[k]) }
        return IPAddress(v6: hi, lo)
    }

    @inline(__always) static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 48...57: return b - 48
        case 97...102: return b - 87
        case 65...70: return b - 55
        default: return nil
        }
    }

    /// The IPv4 value; meaningless for IPv6.
    public var v4: UInt32 { UInt32(truncatingIfNeeded: low) }

    /// fe80::/10 or 169.254.0.0/16: an address MASQUERADE never picks.
    public var isLinkLocal: Bool {
        isV6 ? high >> 54 == 0x3FA : v4 >> 16 == 0xA9FE
    }

    /// The canonical short form (RFC 5952 for IPv6), built in place without intermediate strings.
    public var description: String {
        String(unsafeUninitializedCapacity: IPAddress.maxTextLength) { writeText(to: $0.address(0)) }
    }

    /// The most bytes `writeText` writes (a full IPv6 address).
    public static let maxTextLength = 39

    /// Writes `description`'s bytes at `p` (room for `maxTextLength`) and returns how many.
    public func writeText(to p: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        if !isV6 {
            let v = v4
            n = IPAddress.writeDecimal(UInt8(truncatingIfNeeded: v >> 24), to: p)
            for shift: UInt32 in stride(from: 16, through: 0, by: -8) {
                p[n] = UInt8(ascii: ".")
                n += 1 + IPAddress.writeDecimal(UInt8(truncatingIfNeeded: v >> shift), to: p + n + 1)
            }
            return n
        }
        @inline(__always) func group(_ k: Int) -> UInt16 {
            UInt16(truncatingIfNeeded: (k < 4 ? high : low) >> UInt64(48 - 16 * (k & 3)))
        }
        // RFC 5952: compress the longest run (length >= 2) of zero groups, the first on a tie.
        var bestStart = -1
        var bestLen = 0
        var k = 0
        while k < 8 {
            if group(k) == 0 {
                var e = k
                while e < 8 && group(e) == 0 { e += 1 }
                if e - k > bestLen && e - k >= 2 {
                    bestStart = k
                    bestLen = e - k
                }
                k = e
            } else {
                k += 1
            }
        }
        k = 0
        while k < 8 {
            if k == bestStart {
                p[n] = UInt8(ascii: ":")
                p[n + 1] = UInt8(ascii: ":")
                n += 2
                k += bestLen
                continue
            }
            if k > 0 && k != bestStart + bestLen {
                p[n] = UInt8(ascii: ":")
                n += 1
            }
            // The group in lowercase hex without leading zeros.
            let g = group(k)
            var shift: UInt16 = 12
            while shift > 0 && g >> shift == 0 { shift -= 4 }
            while true {
                let d = UInt8(truncatingIfNeeded: g >> shift) & 15
                p[n] = d < 10 ? 48 + d : 87 + d
                n += 1
                if shift == 0 { break }
                shift -= 4
            }
            k += 1
        }
        return n
    }

    /// Decimal digits of `v` at `p`; returns how many.
    @inline(__always) static func writeDecimal(_ v: UInt8, to p: UnsafeMutablePointer<UInt8>) -> Int {
        if v >= 100 {
            p[0] = 48 + v / 100
            p[1] = 48 + v / 10 % 10
            p[2] = 48 + v % 10
            return 3
        }
        if v >= 10 {
            p[0] = 48 + v / 10
            p[1] = 48 + v % 10
            return 2
        }
        p[0] = 48 + v
        return 1
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        (a.isV6 ? 1 : 0, a.high, a.low) < (b.isV6 ? 1 : 0, b.high, b.low)
    }
}

/// An address prefix such as `192.168.122.0/24`.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let addr = IPAddress(String(parts[0])) else { return nil }
        let maxPrefix = addr.isV6 ? 128 : 32
        if parts.count == 2 {
            guard let p = Int(parts[1]), p >= 0, p <= maxPrefix else { return nil }
            prefix = p
        } else {
            prefix = maxPrefix
        }
        address = addr
    }

    public func contains(_ other: IPAddress) -> Bool {
        guard other.isV6 == address.isV6 else { return false }
        if !address.isV6 {
            if prefix == 0 { return true }
            let mask: UInt32 = prefix >= 32 ? .max : ~(UInt32.max >> UInt32(prefix))
            return other.v4 & mask == address.v4 & mask
        }
        func masked(_ hi: UInt64, _ lo: UInt64) -> (UInt64, UInt64) {
            let hiBits = min(prefix, 64)
            let loBits = max(prefix - 64, 0)
            let hm: UInt64 = hiBits == 0 ? 0 : (hiBits >= 64 ? .max : ~(UInt64.max >> UInt64(hiBits)))
            let lm: UInt64 = loBits == 0 ? 0 : (loBits >= 64 ? .max : ~(UInt64.max >> UInt64(loBits)))
            return (hi & hm, lo & lm)
        }
        return masked(other.high, other.low) == masked(address.high, address.low)
    }

    public var description: String { "\(address)/\(prefix)" }
}
