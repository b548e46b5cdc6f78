/// The header fields joining and NAT detection compare, copied out of a header (no strings).
///
/// `PacketHeader`'s own stored values and presence bits (those of the fields compared), plus the two
/// NAT ports: made by copying words and masking the bits, where reading each field through its
/// optional accessor cost 120 instructions per event, and compared with word compares and masks
/// (issue 10's replay benchmark, scripts/icount.sh). A missing field's value is zero.
struct HeaderIdentity {
    private var srcHigh: UInt64 = 0
    private var srcLow: UInt64 = 0
    private var dstHigh: UInt64 = 0
    private var dstLow: UInt64 = 0
    private var ipIDValue: UInt32 = 0
    private var lengthValue: UInt32 = 0
    private var tcpSeqValue: UInt32 = 0
    /// `PacketHeader.Present`'s bits of the fields kept, and `Bit.natSport`/`Bit.natDport`.
    private var bits: UInt32 = 0
    private var sportValue: UInt16 = 0
    private var dportValue: UInt16 = 0
    private var natSportValue: UInt16 = 0
    private var natDportValue: UInt16 = 0
    private var icmpSeqValue: UInt16 = 0
    private var protoValue: UInt8 = 0
    private var ttlValue: UInt8 = 0
    private var icmpTypeValue: UInt8 = 0
    private var icmpCodeValue: UInt8 = 0

    private enum Bit {
        static let src = PacketHeader.Present.src.rawValue
        static let dst = PacketHeader.Present.dst.rawValue
        static let srcV6 = PacketHeader.Present.srcV6.rawValue
        static let dstV6 = PacketHeader.Present.dstV6.rawValue
        static let proto = PacketHeader.Present.proto.rawValue
        static let sport = PacketHeader.Present.sport.rawValue
        static let dport = PacketHeader.Present.dport.rawValue
        static let ipID = PacketHeader.Present.ipID.rawValue
        static let ttl = PacketHeader.Present.ttl.rawValue
        static let length = PacketHeader.Present.length.rawValue
        static let tcpSeq = PacketHeader.Present.tcpSeq.rawValue
        static let icmpType = PacketHeader.Present.icmpType.rawValue
        static let icmpCode = PacketHeader.Present.icmpCode.rawValue
        static let icmpSeq = PacketHeader.Present.icmpSeq.rawValue
        /// Above `PacketHeader.Present`'s bits.
        static let natSport: UInt32 = 1 << 30
        static let natDport: UInt32 = 1 << 31
        /// Made from a header (`exists`).
        static let header: UInt32 = 1 << 29
        /// The header's bits kept.
        static let kept =
            src | dst | srcV6 | dstV6 | proto | sport | dport | ipID | ttl | length | tcpSeq | icmpType | icmpCode
            | icmpSeq
    }

    /// None: no header (`exists` is false, every field missing).
    init() {}

    /// Whether this was made from a header (the stitcher passes identities as values, not optionals).
    @inline(__always) var exists: Bool { bits & Bit.header != 0 }

    @inline(__always) init(_ h: borrowing PacketHeader) {
        // Absent fields of a header are zero, as they are here: the values copy as they are.
        let present = h.present.rawValue
        srcHigh = h.srcHigh
        srcLow = h.srcLow
        dstHigh = h.dstHigh
        dstLow = h.dstLow
        ipIDValue = h.ipIDValue
        lengthValue = h.lengthValue
        tcpSeqValue = h.tcpSeqValue
        sportValue = h.sportValue
        dportValue = h.dportValue
        icmpSeqValue = h.icmpSeqValue
        protoValue = h.protoValue
        ttlValue = h.ttlValue
        icmpTypeValue = h.icmpTypeValue
        icmpCodeValue = h.icmpCodeValue
        var bits = present & Bit.kept | Bit.header
        // The NAT ports as `PacketHeader.natSourcePort` gives them: the ports, or an echo's id.
        let echoID =
            present & PacketHeader.Present.icmpID.rawValue != 0
            && PacketHeader.isEcho(
                proto: present & Bit.proto != 0 ? h.protoValue : nil,
                icmpType: present & Bit.icmpType != 0 ? h.icmpTypeValue : nil)
        if present & Bit.sport != 0 {
            natSportValue = h.sportValue
            bits |= Bit.natSport
        } else if echoID {
            natSportValue = h.icmpIDValue
            bits |= Bit.natSport
        }
        if present & Bit.dport != 0 {
            natDportValue = h.dportValue
            bits |= Bit.natDport
        } else if echoID {
            natDportValue = h.icmpIDValue
            bits |= Bit.natDport
        }
        self.bits = bits
    }

    @inline(__always) private func has(_ bit: UInt32) -> Bool { bits & bit != 0 }

    @inline(__always) private mutating func mark(_ bit: UInt32, _ on: Bool) {
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
    @inline(__always) func sameSource(as other: HeaderIdentity) -> Bool {
        let mask = Bit.src | Bit.srcV6 | Bit.natSport
        return bits & mask == other.bits & mask && srcHigh == other.srcHigh && srcLow == other.srcLow
            && natSportValue == other.natSportValue
    }

    /// Whether the destination address and the NAT destination port are the same.
    @inline(__always) func sameDestination(as other: HeaderIdentity) -> Bool {
        let mask = Bit.dst | Bit.dstV6 | Bit.natDport
        return bits & mask == other.bits & mask && dstHigh == other.dstHigh && dstLow == other.dstLow
            && natDportValue == other.natDportValue
    }

    /// Whether the fields neither NAT nor forwarding change agree wherever both identities show them.
    @inline(__always) func invariantsAgree(with other: HeaderIdentity) -> Bool {
        let both = bits & other.bits
        func differ(_ bit: UInt32, _ x: UInt32, _ y: UInt32) -> Bool { both & bit != 0 && x != y }
        return
            !(differ(Bit.proto, UInt32(protoValue), UInt32(other.protoValue))
            || differ(Bit.ipID, ipIDValue, other.ipIDValue)
            || differ(Bit.length, lengthValue, other.lengthValue)
            || differ(Bit.tcpSeq, tcpSeqValue, other.tcpSeqValue)
            || differ(Bit.icmpType, UInt32(icmpTypeValue), UInt32(other.icmpTypeValue))
            || differ(Bit.icmpSeq, UInt32(icmpSeqValue), UInt32(other.icmpSeqValue))
            || differ(Bit.icmpCode, UInt32(icmpCodeValue), UInt32(other.icmpCodeValue)))
    }

    /// `invariantsAgree`, told whether both identities have the same `indexKey` (the stitcher finds
    /// most candidates by it): without ICMP fields the key holds every field compared (protocol, IP
    /// id, length, TCP sequence; a missing one as zero, which is not compared), so they agree. That
    /// skips seven compares for nearly every candidate (callgrind, `replay --format json` of bench-out/t10.log).
    @inline(__always) func invariantsAgree(with other: HeaderIdentity, sameKey: Bool) -> Bool {
        if sameKey && (bits | other.bits) & (Bit.icmpType | Bit.icmpCode | Bit.icmpSeq) == 0 { return true }
        return invariantsAgree(with: other)
    }

    /// Whether both show addresses and the same flow (`FrameFlow`'s fields: addresses, protocol, ports).
    @inline(__always) func sameFlow(as other: HeaderIdentity) -> Bool {
        let mask = Bit.src | Bit.dst | Bit.srcV6 | Bit.dstV6 | Bit.proto | Bit.sport | Bit.dport
        return bits & (Bit.src | Bit.dst) != 0 && bits & mask == other.bits & mask && srcHigh == other.srcHigh
            && srcLow == other.srcLow && dstHigh == other.dstHigh && dstLow == other.dstLow
            && protoValue == other.protoValue && sportValue == other.sportValue && dportValue == other.dportValue
    }

    /// Whether the TTLs, where both show one, are equal.
    @inline(__always) func sameTTL(as other: HeaderIdentity) -> Bool {
        bits & other.bits & Bit.ttl == 0 || ttlValue == other.ttlValue
    }

    /// This identity with the fields `weak` shows put over it: what a packet whose earlier record
    /// showed `self` looks like at a record that shows only some of its fields.
    func overlaid(with weak: HeaderIdentity) -> HeaderIdentity {
        var h = self
        let w = weak.bits
        if w & Bit.src != 0 {
            h.srcHigh = weak.srcHigh
            h.srcLow = weak.srcLow
            h.bits = h.bits & ~Bit.srcV6 | w & (Bit.src | Bit.srcV6)
        }
        if w & Bit.dst != 0 {
            h.dstHigh = weak.dstHigh
            h.dstLow = weak.dstLow
            h.bits = h.bits & ~Bit.dstV6 | w & (Bit.dst | Bit.dstV6)
        }
        if w & Bit.proto != 0 {
            h.protoValue = weak.protoValue
            h.bits |= Bit.proto
        }
        if w & Bit.sport != 0 {
            h.sportValue = weak.sportValue
            h.natSportValue = weak.sportValue
            h.bits |= Bit.sport | Bit.natSport
        }
        if w & Bit.dport != 0 {
            h.dportValue = weak.dportValue
            h.natDportValue = weak.dportValue
            h.bits |= Bit.dport | Bit.natDport
        }
        return h
    }

    /// `invariantKey` packed as the stitcher's index keeps it (vacant when there is none).
    @inline(__always) var indexKey: WalkIndex.Key {
        guard let key = invariantKey else { return .vacant }
        return WalkIndex.Key(key)
    }

    /// The invariant key, as `InvariantKey(_:)` makes it.
    @inline(__always) var invariantKey: InvariantKey? {
        // xtables-monitor prints no protocol for ICMP: such a header is still keyed by its IP id and
        // length (protocol 0), so a walk whose trace id changed at FORWARD is found again.
        guard bits & (Bit.proto | Bit.ipID) != 0 else { return nil }
        let seq = has(Bit.tcpSeq) ? tcpSeqValue : UInt32(icmpSeqValue) | UInt32(icmpTypeValue) << 16
        return InvariantKey(proto: protoValue, ipID: ipIDValue, length: lengthValue, seq: seq)
    }
}
