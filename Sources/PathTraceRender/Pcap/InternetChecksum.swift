/// The one's-complement sum of RFC 1071 that IPv4, TCP, UDP, ICMP and ICMPv6 carry.
struct InternetChecksum {
    private var sum: UInt64 = 0

    mutating func add(_ word: UInt16) { sum &+= UInt64(word) }

    mutating func add(_ value: UInt32) {
        add(UInt16(truncatingIfNeeded: value >> 16))
        add(UInt16(truncatingIfNeeded: value))
    }

    /// Adds bytes as big-endian 16-bit words; an odd last byte is padded with zero.
    mutating func add(_ bytes: ArraySlice<UInt8>) {
        var i = bytes.startIndex
        while i + 1 < bytes.endIndex {
            sum &+= UInt64(bytes[i]) << 8 | UInt64(bytes[i + 1])
            i += 2
        }
        if i < bytes.endIndex { sum &+= UInt64(bytes[i]) << 8 }
    }

    /// The folded sum, not yet complemented: 0xFFFF over data whose checksum field is right.
    var folded: UInt16 {
        var s = sum
        while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
        return UInt16(s)
    }

    /// The value to store in a checksum field that was zero while summing.
    var value: UInt16 { ~folded }
}
