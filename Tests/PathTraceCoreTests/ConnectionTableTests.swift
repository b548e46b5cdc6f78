import Testing

@testable import PathTraceCore

/// The reply linker's remembered connections and open-addressing tables: what was stored is found again
/// after the table grew and after other entries were removed (a removal moves later entries back into the
/// gap).
@Suite struct ConnectionTableTests {
    static func key(_ n: Int) -> ReplyLinker.FlowKey {
        ReplyLinker.FlowKey(
            proto: 6, src: IPAddress(v4: 0x0A00_0000 | UInt32(n)), sport: UInt16(1024 + n % 5000),
            dst: IPAddress(v4: 0xC0A8_0001), dport: 443)
    }

    @Test func connectionsAreFoundAfterGrowingAndRemovals() {
        var remembered = RememberedConnections()
        remembered.capacity = 2000
        for n in 1...3000 {
            let forgotten = remembered.remember(Self.key(n).words, n, translated: n % 2 == 0)
            #expect(forgotten == (n > 2000 ? n - 2000 : nil))
        }
        // The first 1000 were forgotten, oldest first, each from its own side's index (a removal moves
        // later entries back into the gap): the rest are found on their side only.
        for n in 1...3000 {
            let side = n % 2 == 0
            #expect(remembered.opener(Self.key(n).words, translated: side) == (n <= 1000 ? nil : n))
            #expect(remembered.opener(Self.key(n).words, translated: !side) == nil)
        }
        // The reversed tuple is another connection.
        #expect(remembered.opener(Self.key(2002).reversed.words, translated: true) == nil)
        #expect(remembered.remember(Self.key(5000).words, 5000, translated: false) == 1001)
        #expect(remembered.opener(Self.key(5000).words, translated: false) == 5000)
    }

    /// A tuple remembered again is found with its newer packet, until its older record is forgotten: the
    /// index is by tuple (as the Dictionary it replaced), so that forgets it.
    @Test func aTupleRememberedAgainIsForgottenWithItsOldestRecord() {
        var remembered = RememberedConnections()
        remembered.capacity = 4
        _ = remembered.remember(Self.key(1).words, 1, translated: false)
        _ = remembered.remember(Self.key(2).words, 2, translated: false)
        _ = remembered.remember(Self.key(1).words, 3, translated: false)
        _ = remembered.remember(Self.key(1).words, 4, translated: true)
        #expect(remembered.opener(Self.key(1).words, translated: false) == 3)
        #expect(remembered.opener(Self.key(1).words, translated: true) == 4)
        #expect(remembered.remember(Self.key(5).words, 5, translated: false) == 1)
        #expect(remembered.opener(Self.key(1).words, translated: false) == nil)
        #expect(remembered.opener(Self.key(1).words, translated: true) == 4)
        #expect(remembered.opener(Self.key(2).words, translated: false) == 2)
        // The oldest record's own tuple, remembered on its side as it is forgotten, stays forgotten.
        #expect(remembered.remember(Self.key(2).words, 6, translated: false) == 2)
        #expect(remembered.opener(Self.key(2).words, translated: false) == nil)
        #expect(remembered.opener(Self.key(5).words, translated: false) == 5)
    }

    /// The reversed tuple swaps the ends, family and ports with them, as building it from the fields would.
    @Test func aReversedKeySwapsTheEnds() {
        let v4 = IPAddress(v4: 0x0A00_0002), v6 = IPAddress(v6: 0x2001_0db8_0000_0000, 7)
        for (src, sport, dst, dport) in [(v4, UInt16?(40000), v6, UInt16?(nil)), (v6, nil, v4, 53), (v4, 1, v4, 2)] {
            let key = ReplyLinker.FlowKey(proto: 17, src: src, sport: sport, dst: dst, dport: dport)
            let built = ReplyLinker.FlowKey(proto: 17, src: dst, sport: dport, dst: src, dport: sport)
            #expect(key.reversed == built && key.reversed.words == built.words)
            #expect(key.reversed.src == dst && key.reversed.sport == dport && key.reversed.dport == sport)
            #expect(key.reversed.reversed == key)
        }
    }

    @Test func openersAreFoundAfterGrowingAndRemovals() {
        var table = PacketTable<String>()
        for n in 1...2000 { table[PacketNumber(n)] = "opener \(n)" }
        for n in stride(from: 2, through: 2000, by: 2) { table[PacketNumber(n)] = nil }
        #expect(table.count == 1000)
        for n in 1...2000 {
            #expect(table[PacketNumber(n)] == (n % 2 == 1 ? "opener \(n)" : nil))
        }
        table[PacketNumber(3)] = "again"
        #expect(table[PacketNumber(3)] == "again")
        #expect(table[PacketNumber(4000)] == nil)
    }

    /// Packet numbers hash to themselves: numbers a multiple of the table's size apart share a home
    /// slot, and removing the oldest (as the linker forgets them) must leave the newer ones findable.
    @Test func openersSharingHomeSlotsSurviveRemovalOfTheOldest() {
        var table = PacketTable<Int>()
        let wide = 1 << 20
        for n in 1...40 { table[PacketNumber(n * wide + n % 4)] = n }
        for n in 1...20 { table[PacketNumber(n * wide + n % 4)] = nil }
        #expect(table.count == 20)
        for n in 1...40 {
            #expect(table[PacketNumber(n * wide + n % 4)] == (n > 20 ? n : nil))
        }
    }
}
