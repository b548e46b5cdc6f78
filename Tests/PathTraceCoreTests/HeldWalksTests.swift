import Testing

@testable import PathTraceCore

/// The reply linker's held walks: released in packet order, and a walk held for its NAT result is no
/// longer waiting once a reply filled the result in where it is held.
@Suite struct HeldWalksTests {
    static func walk(_ packet: Int, masqueradeAfter after: String? = nil) -> PacketWalk {
        var walk = PacketWalk(packet: packet, family: .ipv4)
        walk.nat = [
            NatRewrite(
                type: .masquerade, field: "src", before: "192.168.0.2", after: after, at: "nat:POSTROUTING",
                evidence: .chain)
        ]
        return walk
    }

    @Test func aReplyFillingTheResultInEndsTheWait() throws {
        var held = HeldWalks()
        held.insert(HeldWalksTests.walk(1), closedAt: 10, closedTime: nil, at: 0)
        #expect(held.first.pending)
        #expect(held.first.closedAt == 10)
        held.modify(0) { walk in
            walk.nat[0].afterEndpoint = Endpoint(address: IPAddress("10.171.77.0")!, port: nil)
            walk.nat[0].evidence = .reply
        }
        #expect(!held.first.pending)
        let out = held.removeFirst()
        #expect(out.packet == 1)
        #expect(out.nat.first?.after == "10.171.77.0")
        #expect(held.isEmpty)
    }

    @Test func walksComeOutInPacketOrderAcrossGrowth() throws {
        var held = HeldWalks()
        // Packet 20 closes first: the ring grows past its first 16 slots, and packet 1 is still open.
        held.insert(HeldWalksTests.walk(20, masqueradeAfter: "10.0.0.1"), closedAt: 1, closedTime: nil, at: 19)
        #expect(!held.hasFirst)
        #expect(held.contains(19) && !held.contains(0))
        held.insert(HeldWalksTests.walk(1), closedAt: 2, closedTime: 7.5, at: 0)
        #expect(held.count == 2)
        #expect(held.first.closedTime == 7.5)
        #expect(held.removeFirst().packet == 1)
        var released: [Int] = []
        while !held.isEmpty {
            if let walk = held.popSlot() { released.append(walk.packet) }
        }
        #expect(released == [20])
        #expect(held.count == 0)
    }
}
