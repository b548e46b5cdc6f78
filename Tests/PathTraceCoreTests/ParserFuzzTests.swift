import PathTraceCore
import TestSupport
import Testing

/// Property test: random mutations of real trace lines go through the parser and the stitcher
/// without a crash, and every line is accounted for (an event, a packet-only line, or a skip).
@Suite struct ParserFuzzTests {
    /// xorshift64*: deterministic, so a failure is reproducible from the seed.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    static func corpus() throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        for file in [
            "seed/001-libvirt-nat.dmesg", "real-captures/05-docker-bridge-c2c-ebtables-physdev.log",
            "real-captures/07-docker-container-to-external-masquerade.log",
            "real-captures/08-vxlan-udp-local-out-and-in.log",
            "real-captures/15-xtables-monitor-k8s-clusterip-output-dnat.log",
        ] {
            guard let text = try? Fixtures.text(file) else { continue }
            for line in text.split(separator: "\n") { lines.append(Array(line.utf8)) }
        }
        return lines
    }

    static func mutate(_ line: [UInt8], _ rng: inout Rng, pool: [[UInt8]]) -> [UInt8] {
        var bytes = line
        for _ in 0...rng.below(4) {
            switch rng.below(8) {
            case 0 where !bytes.isEmpty: bytes.removeSubrange(rng.below(bytes.count)...)
            case 1 where !bytes.isEmpty: bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
            case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(bytes.count + 1))
            case 3 where !bytes.isEmpty:
                let start = rng.below(bytes.count)
                bytes.removeSubrange(start..<min(bytes.count, start + rng.below(40) + 1))
            case 4:
                let other = pool[rng.below(pool.count)]
                if !other.isEmpty {
                    let cut = rng.below(other.count)
                    bytes.insert(contentsOf: other[cut...], at: rng.below(bytes.count + 1))
                }
            case 5:
                let digits = Array("99999999999999999999".utf8)
                bytes.insert(contentsOf: digits, at: rng.below(bytes.count + 1))
            case 6 where !bytes.isEmpty:
                let at = rng.below(bytes.count)
                if let eq = bytes[at...].firstIndex(of: UInt8(ascii: "=")) {
                    bytes.insert(UInt8(ascii: " "), at: eq + 1)
                }
            default:
                bytes.append(contentsOf: [UInt8(ascii: "["), UInt8(ascii: "("), 0xff, 0x00])
            }
        }
        return bytes
    }

    @Test func hundredThousandMutationsAreAccountedFor() throws {
        let pool = try Self.corpus()
        try #require(pool.count > 100)
        var rng = Rng(state: 0x9E37_79B9_7F4A_7C15)
        var parser = TraceLineParser(file: "fuzz")
        var released = 0
        var correlator = Correlator { _ in released += 1 }
        var events = 0
        var unaccounted: [Int] = []
        for i in 1...100_000 {
            let line = Self.mutate(pool[rng.below(pool.count)], &rng, pool: pool)
            var skipped = 0
            var emitted = 0
            line.withUnsafeBufferPointer { buf in
                emitted = parser.parse(
                    line: buf, lineNumber: i,
                    emit: { e in
                        events += 1
                        correlator.add(e)
                    }, onSkip: { _ in skipped += 1 })
            }
            let blank = line.allSatisfy { $0 == 32 || $0 == 9 || $0 == 13 }
            let packetOnly = Self.isPacketOnlyLine(line)
            if emitted == 0 && skipped == 0 && !blank && !packetOnly { unaccounted.append(i) }
            if emitted > 0 && skipped > 0 { unaccounted.append(i) }
        }
        correlator.finish()
        #expect(unaccounted.isEmpty, "lines neither parsed nor skipped: \(unaccounted.prefix(10))")
        #expect(correlator.stats.events == events)
        #expect(released == correlator.stats.walks)
        #expect(events > 10_000)
    }

    /// `nft monitor` packet lines and `xtables-monitor` PACKET lines describe a packet without being a step.
    static func isPacketOnlyLine(_ line: [UInt8]) -> Bool {
        let text = String(decoding: line, as: UTF8.self)
        return text.contains("PACKET:") || text.contains("packet:") || text.contains("conntrack:")
            || text.hasPrefix("trace id ")
    }

    @Test func truncatedAndOverlongInputNeverCrashes() throws {
        let pool = try Self.corpus()
        var parser = TraceLineParser(file: "edge")
        var correlator = Correlator { _ in }
        var line = [UInt8]()
        for _ in 0..<3000 { line += pool[0] }
        var glued = [UInt8]()
        while glued.count < TraceLineParser.maxLineLength - 400 { glued += pool[0] }
        for candidate in [line, glued, [UInt8](repeating: 0xff, count: 1 << 20), [0], Array("TRACE: ".utf8)] {
            candidate.withUnsafeBufferPointer { buf in
                parser.parse(line: buf, lineNumber: 1, emit: { correlator.add($0) }, onSkip: { _ in })
            }
        }
        for cut in 0..<pool[0].count {
            Array(pool[0][..<cut]).withUnsafeBufferPointer { buf in
                parser.parse(line: buf, lineNumber: cut, emit: { correlator.add($0) }, onSkip: { _ in })
            }
        }
        correlator.finish()
    }
}
