import Testing

@testable import PathTraceCore

/// The stitcher's compact per-walk state gives the answers its plain forms gave: the frame paths'
/// tables, a walk's finished units, and the header identity kept as integers.
@Suite struct StitcherStateTests {
    static let stages: [FramePaths.Stage] = [Netfilter.Layer.ip, .bridge].flatMap { layer in
        Hook.allCases.map { FramePaths.Stage(layer, $0) }
    }

    @Test func progressFollowsThePathsOrder() {
        // Every stage a path has, then every next stage: the paths still open are those on which
        // the next stage comes later, searched by hand.
        for start in Self.stages {
            guard let progress = FramePaths.Progress(at: start) else {
                #expect(!FramePaths.all.contains { $0.contains(start) })
                continue
            }
            for next in Self.stages where next != start {
                var mask: UInt8 = 0
                for (i, path) in FramePaths.all.enumerated() where progress.paths & (1 << UInt8(i)) != 0 {
                    if let here = path.firstIndex(of: start), let there = path.firstIndex(of: next), there > here {
                        mask |= 1 << UInt8(i)
                    }
                }
                #expect(progress.advanced(to: next)?.paths == (mask == 0 ? nil : mask), "\(start) -> \(next)")
            }
        }
        // Bridged and then routed out through a bridge: IP FORWARD after bridge PREROUTING, not back.
        let forwarded = FramePaths.Progress(at: FramePaths.Stage(.bridge, .prerouting))?
            .advanced(to: FramePaths.Stage(.ip, .forward))
        #expect(forwarded != nil)
        #expect(forwarded?.advanced(to: FramePaths.Stage(.ip, .prerouting)) == nil)
    }

    static func boxed(_ s: String) -> Name {
        var s = s
        return s.withUTF8 { Name(boxing: UnsafeRawBufferPointer($0)) }
    }

    @Test func finishedUnitsKeepMoreThanThreeAndBoxedNames() {
        var units = FinishedUnits()
        let kept = [
            ChainUnit(table: .raw), ChainUnit(table: .mangle), ChainUnit(table: "fw4", chain: "input"),
            ChainUnit(table: .filter), ChainUnit(table: Self.boxed("a table past the name table")),
            ChainUnit(table: .nat, chain: Self.boxed("a chain past the name table")),
        ]
        for unit in kept { units.insert(unit) }
        units.insert(ChainUnit(table: .raw))
        // `contains` is mutating (it reads a walk's set in place), so each answer is taken first.
        for unit in kept {
            let found = units.contains(unit)
            #expect(found, "\(unit.label)")
        }
        // A table alone is not the same unit as the table with a chain, even the empty one.
        let withEmptyChain = units.contains(ChainUnit(table: .raw, chain: .empty))
        let otherChain = units.contains(ChainUnit(table: "fw4", chain: "output"))
        let otherBoxedChain = units.contains(ChainUnit(table: .nat, chain: Self.boxed("another chain")))
        #expect(!withEmptyChain && !otherChain && !otherBoxedChain)
        units.removeAll()
        for unit in kept {
            let found = units.contains(unit)
            #expect(!found, "\(unit.label)")
        }
        units.insert(ChainUnit(table: .security))
        let security = units.contains(ChainUnit(table: .security))
        let raw = units.contains(ChainUnit(table: .raw))
        #expect(security && !raw)
    }

    @Test func headerIdentityGivesBackTheHeadersFields() {
        var h = PacketHeader()
        h.src = IPAddress("2001:db8::1")
        h.dst = IPAddress("10.0.0.2")
        h.proto = IPProtocol.icmp
        h.icmpType = 8
        h.icmpID = 77
        h.icmpSeq = 3
        h.ttl = 63
        h.length = 84
        let id = HeaderIdentity(h)
        #expect(id.src == h.src && id.dst == h.dst && id.src?.isV6 == true && id.dst?.isV6 == false)
        #expect(id.proto == 1 && id.icmpType == 8 && id.icmpSeq == 3 && id.ttl == 63 && id.length == 84)
        // An echo's id stands for both ports in NAT; it has no TCP/UDP ports or IP id.
        #expect(id.natSourcePort == 77 && id.natDestinationPort == 77 && id.sport == nil && id.ipID == nil)
        #expect(id.tcpSeq == nil && id.icmpCode == nil && !id.isWeak)

        var other = id
        #expect(other.sameSource(as: id) && other.sameDestination(as: id) && other.invariantsAgree(with: id))
        other.src = IPAddress("2001:db8::2")
        #expect(!other.sameSource(as: id) && other.sameDestination(as: id))
        other.src = id.src
        other.natDestinationPort = nil
        #expect(other.sameSource(as: id) && !other.sameDestination(as: id))
        // Fields one side lacks do not disagree; fields both show must be equal.
        other.length = nil
        other.ipID = 5
        #expect(other.invariantsAgree(with: id))
        other.icmpSeq = 4
        #expect(!other.invariantsAgree(with: id))
    }

    @Test func walkIndexFindsWhatStaysAfterRemovals() {
        // Keys that differ in one field only, enough to grow the table several times and to make
        // probe runs that removals must shift back.
        var keys: [WalkIndex.Key] = []
        for i in 0..<3000 {
            let length = UInt32(60 + i / 7)
            keys.append(WalkIndex.Key(InvariantKey(proto: 6, ipID: UInt32(i % 7), length: length, seq: UInt32(i % 3))))
        }
        var index = WalkIndex()
        let walks = keys.indices.map { OpenWalk(packet: $0 + 1, eventIndex: $0) }
        for (key, walk) in zip(keys, walks) { index[key] = walk }
        #expect(index.count == keys.count)
        for i in keys.indices where i % 3 != 0 { index[keys[i]] = nil }
        #expect(index.count == keys.count / 3)
        for i in keys.indices {
            #expect(index[keys[i]]?.packet == (i % 3 == 0 ? i + 1 : nil), "key \(i)")
        }
        // Replacing keeps one entry per key.
        index[keys[0]] = walks[1]
        #expect(index[keys[0]] === walks[1])
        #expect(index.count == keys.count / 3)
        for i in keys.indices where i % 3 == 0 { index[keys[i]] = nil }
        #expect(index.count == 0)
        #expect(index[keys[0]] == nil)
    }

    @Test func walkIndexPushAndReplaceFirstKeepEachKeysFirstWalk() {
        // The stitcher's chains: a new walk goes in front of its key's chain and a closing one leaves
        // it, each with one probe; enough keys to grow the table and make removals shift probe runs.
        let keys = (0..<2000).map {
            WalkIndex.Key(proto: 17, ipID: UInt32($0 % 5), length: UInt32(40 + $0 / 5), seq: 0)
        }
        var index = WalkIndex()
        let first = keys.indices.map { OpenWalk(packet: $0 + 1, eventIndex: $0) }
        let second = keys.indices.map { OpenWalk(packet: keys.count + $0 + 1, eventIndex: $0) }
        for i in keys.indices {
            let previous = index.push(first[i], keys[i])
            #expect(previous == nil, "key \(i)")
        }
        for i in keys.indices {
            let previous = index.push(second[i], keys[i])
            #expect(previous === first[i], "key \(i)")
        }
        #expect(index.count == keys.count)
        // Only the first walk of a chain leaves it this way.
        let notFirst = index.replaceFirst(first[0], keys[0], with: nil)
        #expect(!notFirst)
        #expect(index[keys[0]] === second[0])
        // The first leaves: its successor becomes the first, or the key goes when there is none.
        for i in keys.indices {
            let left = index.replaceFirst(second[i], keys[i], with: i % 2 == 0 ? first[i] : nil)
            #expect(left, "key \(i)")
        }
        #expect(index.count == keys.count / 2)
        for i in keys.indices {
            #expect(index[keys[i]] === (i % 2 == 0 ? first[i] : nil), "key \(i)")
            let gone = index.replaceFirst(second[i], keys[i], with: nil)
            #expect(!gone, "key \(i)")
        }
    }
}
