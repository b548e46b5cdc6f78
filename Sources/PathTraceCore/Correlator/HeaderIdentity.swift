/// The header fields joining and NAT detection compare, copied out of a header (no strings).
///
/// Kept as plain integers with a bit for each field that is there rather than as a dozen optionals:
/// the stitcher copies and compares identities several times per event, and the optionals' tags made
/// that a large part of its work (issue 10's replay benchmark). A missing field's value is zero.
struct HeaderIdentity {
    private var srcHigh: UInt64 = 0
    private var srcLow: UInt64 = 0
    private var dstHigh: UInt64 = 0
    private var dstLow: UInt64 = 0
    private var ipIDValue: UInt32 = 0
    private var lengthValue: UInt32 = 0
    private var tcpSeqValue: UInt32 = 0
    private var sportValue: UInt16 = 0
    private var dportValue: UInt16 = 0
    private var natSportValue: UInt16 = 0
    private var natDportValue: UInt16 = 0
    private var icmpSeqValue: UInt16 = 0
    private var protoValue: UInt8 = 0
    private var ttlValue: UInt8 = 0
    private var icmpTypeValue: UInt8 = 0
    private var icmpCodeValue: UInt8 = 0
    /// A bit per field that is there (`Bit`), and whether each address is IPv6.
    private var bits: UInt16 = 0

    private enum Bit {
        static let src: UInt16 = 1 << 0
        static let dst: UInt16 = 1 << 1
        static let sport: UInt16 = 1 << 2
        static let dport: UInt16 = 1 << 3
        static let natSport: UInt16 = 1 << 4
        static let natDport: UInt16 = 1 << 5
        static let proto: UInt16 = 1 << 6
        static let ttl: UInt16 = 1 << 7
        static let ipID: UInt16 = 1 << 8
        static let length: UInt16 = 1 << 9
        static let tcpSeq: UInt16 = 1 << 10
        static let icmpType: UInt16 = 1 << 11
        static let icmpCode: UInt16 = 1 << 12
        static let icmpSeq: UInt16 = 1 << 13
        static let srcV6: UInt16 = 1 << 14
        static let dstV6: UInt16 = 1 << 15
    }

    init(_ h: borrowing PacketHeader) {
        // Field by field into the integers (the setters' masking costs more, and every event makes one).
        var bits: UInt16 = 0
        if let a = h.src {
            srcHigh = a.high
            srcLow = a.low
            bits |= a.isV6 ? Bit.src | Bit.srcV6 : Bit.src
        }
        if let a = h.dst {
            dstHigh = a.high
            dstLow = a.low
            bits |= a.isV6 ? Bit.dst | Bit.dstV6 : Bit.dst
        }
        let proto = h.proto
        let icmpType = h.icmpType
        // The NAT ports as `PacketHeader.natSourcePort` gives them, from the fields read once.
        let echoID = PacketHeader.isEcho(proto: proto, icmpType: icmpType) ? h.icmpID : nil
        if let v = h.sport {
            sportValue = v
            natSportValue = v
            bits |= Bit.sport | Bit.natSport
        } else if let v = echoID {
            natSportValue = v
            bits |= Bit.natSport
        }
        if let v = h.dport {
            dportValue = v
            natDportValue = v
            bits |= Bit.dport | Bit.natDport
        } else if let v = echoID {
            natDportValue = v
            bits |= Bit.natDport
        }
        if let v = proto {
            protoValue = v
            bits |= Bit.proto
        }
        if let v = h.ttl {
            ttlValue = v
            bits |= Bit.ttl
        }
        if let v = h.ipID {
            ipIDValue = v
            bits |= Bit.ipID
        }
        if let v = h.length {
            lengthValue = v
            bits |= Bit.length
        }
        if let v = h.tcpSeq {
            tcpSeqValue = v
            bits |= Bit.tcpSeq
        }
        if let v = icmpType {
            icmpTypeValue = v
            bits |= Bit.icmpType
        }
        if let v = h.icmpCode {
            icmpCodeValue = v
            bits |= Bit.icmpCode
        }
        if let v = h.icmpSeq {
            icmpSeqValue = v
            bits |= Bit.icmpSeq
        }
        self.bits = bits
    }

    @inline(__always) private func has(_ bit: UInt16) -> Bool { bits & bit != 0 }

    @inline(__always) private mutating func mark(_ bit: UInt16, _ on: Bool) {
        bits = on ? bits | bit : bits & ~bit
    }

    private static func address(_ high: UInt64, _ low: UInt64, v6: Bool) -> IPAddress {
        v6 ? IPAddress(v6: high, low) : IPAddress(v4: UInt32(truncatingIfNeeded: low))
    }

    var src: IPAddress? {
        get { has(Bit.src) ? HeaderIdentity.address(srcHigh, srcLow, v6: has(Bit.srcV6)) : nil }
        set {
            srcHigh = newValue?.high ?? 0
            srcLow = newValue?.low ?? 0
            mark(Bit.src, newValue != nil)
            mark(Bit.srcV6, newValue?.isV6 ?? false)
        }
    }
    var dst: IPAddress? {
        get { has(Bit.dst) ? HeaderIdentity.address(dstHigh, dstLow, v6: has(Bit.dstV6)) : nil }
        set {
            dstHigh = newValue?.high ?? 0
            dstLow = newValue?.low ?? 0
            mark(Bit.dst, newValue != nil)
            mark(Bit.dstV6, newValue?.isV6 ?? false)
        }
    }
    var sport: UInt16? {
        get { has(Bit.sport) ? sportValue : nil }
        set {
            sportValue = newValue ?? 0
            mark(Bit.sport, newValue != nil)
        }
    }
    var dport: UInt16? {
        get { has(Bit.dport) ? dportValue : nil }
        set {
            dportValue = newValue ?? 0
            mark(Bit.dport, newValue != nil)
        }
    }
    var natSourcePort: UInt16? {
        get { has(Bit.natSport) ? natSportValue : nil }
        set {
            natSportValue = newValue ?? 0
            mark(Bit.natSport, newValue != nil)
        }
    }
    var natDestinationPort: UInt16? {
        get { has(Bit.natDport) ? natDportValue : nil }
        set {
            natDportValue = newValue ?? 0
            mark(Bit.natDport, newValue != nil)
        }
    }
    var proto: UInt8? {
        get { has(Bit.proto) ? protoValue : nil }
        set {
            protoValue = newValue ?? 0
            mark(Bit.proto, newValue != nil)
        }
    }
    var ttl: UInt8? {
        get { has(Bit.ttl) ? ttlValue : nil }
        set {
            ttlValue = newValue ?? 0
            mark(Bit.ttl, newValue != nil)
        }
    }
    var ipID: UInt32? {
        get { has(Bit.ipID) ? ipIDValue : nil }
        set {
            ipIDValue = newValue ?? 0
            mark(Bit.ipID, newValue != nil)
        }
    }
    var length: UInt32? {
        get { has(Bit.length) ? lengthValue : nil }
        set {
            lengthValue = newValue ?? 0
            mark(Bit.length, newValue != nil)
        }
    }
    var tcpSeq: UInt32? {
        get { has(Bit.tcpSeq) ? tcpSeqValue : nil }
        set {
            tcpSeqValue = newValue ?? 0
            mark(Bit.tcpSeq, newValue != nil)
        }
    }
    var icmpType: UInt8? {
        get { has(Bit.icmpType) ? icmpTypeValue : nil }
        set {
            icmpTypeValue = newValue ?? 0
            mark(Bit.icmpType, newValue != nil)
        }
    }
    var icmpCode: UInt8? {
        get { has(Bit.icmpCode) ? icmpCodeValue : nil }
        set {
            icmpCodeValue = newValue ?? 0
            mark(Bit.icmpCode, newValue != nil)
        }
    }
    var icmpSeq: UInt16? {
        get { has(Bit.icmpSeq) ? icmpSeqValue : nil }
        set {
            icmpSeqValue = newValue ?? 0
            mark(Bit.icmpSeq, newValue != nil)
        }
    }

    var sourceEndpoint: Endpoint? { src.map { Endpoint(address: $0, port: sport) } }
    var destinationEndpoint: Endpoint? { dst.map { Endpoint(address: $0, port: dport) } }

    /// Without the fields that tell one packet of a flow from the next (IP id, length, TCP sequence):
    /// an ebtables LOG line prints only addresses, protocol and ports.
    var isWeak: Bool { bits & (Bit.ipID | Bit.length | Bit.tcpSeq) == 0 }

    /// Whether the source address and the NAT source port are the same (both missing counts as same).
    func sameSource(as other: HeaderIdentity) -> Bool {
        let mask = Bit.src | Bit.srcV6 | Bit.natSport
        return bits & mask == other.bits & mask && srcHigh == other.srcHigh && srcLow == other.srcLow
            && natSportValue == other.natSportValue
    }

    /// Whether the destination address and the NAT destination port are the same.
    func sameDestination(as other: HeaderIdentity) -> Bool {
        let mask = Bit.dst | Bit.dstV6 | Bit.natDport
        return bits & mask == other.bits & mask && dstHigh == other.dstHigh && dstLow == other.dstLow
            && natDportValue == other.natDportValue
    }

    /// Whether the fields neither NAT nor forwarding change agree wherever both identities show them.
    @inline(__always) func invariantsAgree(with other: HeaderIdentity) -> Bool {
        let both = bits & other.bits
        func differ(_ bit: UInt16, _ x: UInt32, _ y: UInt32) -> Bool { both & bit != 0 && x != y }
        return
            !(differ(Bit.proto, UInt32(protoValue), UInt32(other.protoValue))
            || differ(Bit.ipID, ipIDValue, other.ipIDValue)
            || differ(Bit.length, lengthValue, other.lengthValue)
            || differ(Bit.tcpSeq, tcpSeqValue, other.tcpSeqValue)
            || differ(Bit.icmpType, UInt32(icmpTypeValue), UInt32(other.icmpTypeValue))
            || differ(Bit.icmpSeq, UInt32(icmpSeqValue), UInt32(other.icmpSeqValue))
            || differ(Bit.icmpCode, UInt32(icmpCodeValue), UInt32(other.icmpCodeValue)))
    }

    /// This identity with the fields `weak` shows put over it: what a packet whose earlier record
    /// showed `self` looks like at a record that shows only some of its fields.
    func overlaid(with weak: HeaderIdentity) -> HeaderIdentity {
        var h = self
        if let v = weak.src { h.src = v }
        if let v = weak.dst { h.dst = v }
        if let v = weak.proto { h.proto = v }
        if let v = weak.sport {
            h.sport = v
            h.natSourcePort = v
        }
        if let v = weak.dport {
            h.dport = v
            h.natDestinationPort = v
        }
        return h
    }
}
