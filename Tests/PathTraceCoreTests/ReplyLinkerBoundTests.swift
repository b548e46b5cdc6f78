import Testing

@testable import PathTraceCore

/// The reply linker remembers `maxConnections` connections and forgets the oldest past that: a reply
/// to a connection still remembered is tied to the walk that opened it, and one to a forgotten
/// connection is not (its tables forget at random slots, so the newer entries must survive).
@Suite struct ReplyLinkerBoundTests {
    /// The SYN from 10.0.0.5 port `40000 + n`, DNAT'd from 10.0.0.1:8080 to 172.17.0.2:80.
    static func opener(_ n: Int) -> PacketWalk {
        var walk = walk(n, src: "10.0.0.5", sport: UInt16(40000 + n), dst: "10.0.0.1", dport: 8080, chain: "PREROUTING")
        walk.nat = [
            NatRewrite(
                type: .dnat, field: "dst", before: "10.0.0.1:8080", after: "172.17.0.2:80", at: "nat:PREROUTING",
                evidence: .observed)
        ]
        return walk
    }

    /// The answer of opener `n`'s connection, seen before conntrack de-NATs it.
    static func reply(_ packet: Int, to n: Int) -> PacketWalk {
        walk(packet, src: "172.17.0.2", sport: 80, dst: "10.0.0.5", dport: UInt16(40000 + n), chain: "FORWARD")
    }

    static func walk(_ packet: Int, src: String, sport: UInt16, dst: String, dport: UInt16, chain: String) -> PacketWalk
    {
        var e = TraceEvent(
            source: SourcePosition(file: "t", line: packet), origin: .kernelTrace, family: .ipv4, table: "filter",
            chain: chain, kind: .policy)
        var h = PacketHeader()
        h.proto = IPProtocol.tcp
        h.src = IPAddress(src)
        h.dst = IPAddress(dst)
        h.sport = sport
        h.dport = dport
        e.header = h
        var walk = PacketWalk(packet: packet, family: .ipv4)
        walk.steps = [WalkStep(event: e, hook: Hook(chainName: chain), verdict: .accept, verdictInferred: false)]
        return walk
    }

    @Test func aReplyIsLinkedWhileItsConnectionIsRememberedOnly() {
        final class Released { var walks: [Int: PacketWalk] = [:] }
        let released = Released()
        var linker = ReplyLinker { walk in released.walks[walk.packet] = walk }
        // Each opener remembers two tuples (before and after its DNAT): the last four openers are kept.
        linker.maxConnections = 8
        for n in 1...20 { linker.add(Self.opener(n), lastHeaderIndex: 0, eventIndex: n) }
        let replies = [(21, 20), (22, 17), (23, 16), (24, 1)]
        for (packet, n) in replies { linker.add(Self.reply(packet, to: n), lastHeaderIndex: 0, eventIndex: packet) }
        linker.flush(eventIndex: 25, force: true)
        #expect(released.walks.count == 24)
        #expect(released.walks[21]?.replyTo == 20)
        #expect(released.walks[22]?.replyTo == 17)
        #expect(released.walks[23]?.replyTo == nil)
        #expect(released.walks[24]?.replyTo == nil)
    }
}
