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

    /// The key of `h`, or of the event's frame when `h` has no addresses; nil when it shows neither
    /// addresses nor MACs.
    init?(_ h: HeaderIdentity?, of event: borrowing TraceEvent) {
        if let h, h.src != nil || h.dst != nil {
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
