/// A flow as an ebtables LOG line shows it: protocol, addresses and ports, or for a frame that is not
/// IP its MAC addresses and EtherType. Events without the IP invariants join walks by it.
struct FrameFlow: Hashable {
    var proto: UInt8?
    var src: IPAddress?
    var dst: IPAddress?
    var sport: UInt16?
    var dport: UInt16?
    var macSrc: Name?
    var macDst: Name?
    var macProto: UInt16?

    /// Two words of the fields, for a multiply-mix hash instead of SipHash over each optional: the
    /// stitcher looks every event's flow up once a walk lacks the IP invariants (callgrind on bench-out/t10.log).
    private var words: (UInt64, UInt64) {
        let ports =
            UInt64(proto ?? 0) | UInt64(sport ?? 0) << 8 | UInt64(dport ?? 0) << 24 | UInt64(macProto ?? 0) << 40
        var a = ports ^ (src?.high ?? 0) &* 0x9E37_79B9_7F4A_7C15
        var b = (src?.low ?? 0) ^ (dst?.low ?? 0) << 1 ^ (dst?.high ?? 0) &* 0xBF58_476D_1CE4_E5B9
        if let m = macSrc { a ^= UInt64(truncatingIfNeeded: m.hashValue) }
        if let m = macDst { b ^= UInt64(truncatingIfNeeded: m.hashValue) }
        return (a, b)
    }

    func hash(into hasher: inout Hasher) {
        let (a, b) = words
        hasher.combine(a)
        hasher.combine(b)
    }

    func _rawHashValue(seed: Int) -> Int {
        let (a, b) = words
        return FastHash.mix(a, b, seed: seed)
    }

    /// The key of `h`, or of the event's frame when `h` has no addresses; nil when it shows neither
    /// addresses nor MACs.
    init?(_ h: HeaderIdentity, of event: borrowing TraceEvent) {
        if h.src != nil || h.dst != nil {
            proto = h.proto
            src = h.src
            dst = h.dst
            sport = h.sport
            dport = h.dport
            return
        }
        guard event.hasHeader, event.headerValue.macSrcName != nil || event.headerValue.macDstName != nil else {
            return nil
        }
        macSrc = event.headerValue.macSrcName
        macDst = event.headerValue.macDstName
        macProto = event.headerValue.macProto
    }
}
