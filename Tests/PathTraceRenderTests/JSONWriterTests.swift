import Foundation
import PathTraceCore
import PathTraceRender
import Testing

/// The writer prints numbers, addresses and strings itself: each must match the text the model's
/// own `description` (and the old String-based writer) gave, byte for byte.
@Suite struct JSONWriterTests {
    static func text(_ body: (JSONWriter) -> Void) -> String {
        let w = JSONWriter(capacity: 8)
        body(w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test func doublesPrintAsTheirDescription() {
        var rng = SystemRandomNumberGenerator()
        var values: [Double] = [
            1, 0.5, 0.25, 1.0 / 3, 2.0 / 3, 0.1, 0.001, 0.0001, 1e-5, 1e14, 1e15, 9e15, 1e16, 5121056.357116,
            5121056.000003, 2895.050119, 0, -0.0, -1.5, 123456789012345.67, 4503599627370497,
        ]
        for _ in 0..<200_000 {
            let whole = Double(UInt64.random(in: 0..<100_000_000_000, using: &rng))
            values.append(whole + Double(UInt64.random(in: 0..<1_000_000, using: &rng)) / 1e6)
            values.append(1 / Double(Int.random(in: 1...100_000, using: &rng)))
            values.append(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)))
        }
        for v in values where v.isFinite {
            #expect(Self.text { $0.double(v) } == v.description, "\(v)")
        }
    }

    /// The String-based formatter `IPAddress.description` used before it wrote bytes: the reference.
    static func reference(_ a: IPAddress) -> String {
        if !a.isV6 {
            let v = a.v4
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for k in 0..<4 { groups[k] = UInt16(truncatingIfNeeded: a.high >> (48 - 16 * UInt64(k))) }
        for k in 0..<4 { groups[4 + k] = UInt16(truncatingIfNeeded: a.low >> (48 - 16 * UInt64(k))) }
        var bestStart = -1
        var bestLen = 0
        var k = 0
        while k < 8 {
            if groups[k] == 0 {
                var e = k
                while e < 8 && groups[e] == 0 { e += 1 }
                if e - k > bestLen && e - k >= 2 {
                    bestStart = k
                    bestLen = e - k
                }
                k = e
            } else {
                k += 1
            }
        }
        func hex(_ g: UInt16) -> String { String(g, radix: 16) }
        if bestStart < 0 { return groups.map(hex).joined(separator: ":") }
        let head = groups[0..<bestStart].map(hex).joined(separator: ":")
        let tail = groups[(bestStart + bestLen)...].map(hex).joined(separator: ":")
        return head + "::" + tail
    }

    @Test func addressesPrintAsTheirDescription() {
        var rng = SystemRandomNumberGenerator()
        var addresses = [
            "::", "::1", "1::", "fe80::1", "2001:db8::8:800:200c:417a", "1:0:0:1:0:0:0:1", "0.0.0.0",
            "255.255.255.255", "10.44.0.1", "::ffff:192.168.1.1", "1:2:3:4:5:6:7:8", "1:0:2:0:3:0:4:0",
        ].compactMap(IPAddress.init)
        for _ in 0..<50_000 {
            addresses.append(IPAddress(v4: UInt32.random(in: 0...UInt32.max, using: &rng)))
            // Sparse groups so zero runs of every length and place occur.
            var words: [UInt64] = [0, 0]
            for k in 0..<8 where Bool.random(using: &rng) {
                words[k / 4] |= UInt64(UInt16.random(in: 0...UInt16.max, using: &rng)) << UInt64(48 - 16 * (k % 4))
            }
            addresses.append(IPAddress(v6: words[0], words[1]))
        }
        for a in addresses {
            let expected = Self.reference(a)
            #expect(a.description == expected)
            #expect(Self.text { $0.addressBody(a) } == expected)
            for port in [nil, 0, 7, 80, 3128, 65535] as [UInt16?] {
                let endpoint = Endpoint(address: a, port: port)
                let text = port.map { a.isV6 ? "[\(expected)]:\($0)" : "\(expected):\($0)" } ?? expected
                #expect(endpoint.description == text)
            }
        }
    }

    @Test func stringsAreEscaped() {
        #expect(Self.text { $0.string("a\"b\\c\nd\re\tf\u{1}g é") } == #""a\"b\\c\nd\re\tf\u0001g é""#)
        #expect(
            Self.text { $0.string("plain-text longer than the small-string limit") }
                == "\"plain-text longer than the small-string limit\"")
    }

    @Test func objectsGetCommasBetweenMembers() {
        let s = Self.text { w in
            w.beginObject()
            w.field("a", 1 as Int?)
            w.beginArray("b")
            w.element("x")
            w.element("y")
            w.endArray()
            w.beginObject("c")
            w.field("d", nil as String?)
            w.field("e", true)
            w.endObject()
            w.endObject()
            w.newline()
            w.beginObject()
            w.field("hex", -12 as Int?)
            w.endObject()
        }
        #expect(s == "{\"a\":1,\"b\":[\"x\",\"y\"],\"c\":{\"d\":null,\"e\":true}}\n{\"hex\":-12}")
    }

    @Test func tcpFlagsJoinTheirNames() {
        for raw in 0..<512 {
            let flags = TCPFlags(rawValue: UInt16(raw))
            #expect(Self.text { $0.tcpFlags(flags) } == "\"" + flags.names.joined(separator: " ") + "\"")
        }
    }
}

@Suite struct JSONNamesTests {
    static func text(_ s: StaticString) -> String { s.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }

    @Test func namesAreTheRawValues() {
        for v in Family.allCases { #expect(Self.text(JSONNames.name(v)) == v.rawValue) }
        for v in Hook.allCases { #expect(Self.text(JSONNames.name(v)) == v.rawValue) }
        for v in [PathClass.input, .forward, .output, .bridged, .incomplete] {
            #expect(Self.text(JSONNames.name(v)) == v.rawValue)
        }
        for v in [WalkVerdict.accept, .drop, .queue, .unknown] { #expect(Self.text(JSONNames.name(v)) == v.rawValue) }
        for v in [StepKind.rule, .return, .policy, .log] { #expect(Self.text(JSONNames.name(v)) == v.rawValue) }
        for v in [EventOrigin.kernelTrace, .logTarget, .ebtablesLog, .nftMonitor, .xtablesMonitor, .netlink] {
            #expect(Self.text(JSONNames.name(v)) == v.rawValue)
        }
    }
}

/// What the walk writer prints in place of the model's own text: integers, names with every byte JSON
/// escapes, and a header it copies from the step before.
@Suite struct JSONWriterFastPathTests {
    @Test func integersPrintAsTheirDescription() {
        var rng = SystemRandomNumberGenerator()
        var values: [UInt64] = [0, 9, 10, 99, 100, 65535, 99_999_999, 100_000_000, 4_294_967_295, .max, .max - 1]
        var power: UInt64 = 1
        for _ in 0..<19 {
            power *= 10
            values += [power - 1, power, power + 1]
        }
        for _ in 0..<100_000 {
            let digits = UInt64.random(in: 0...63, using: &rng)
            values.append(UInt64.random(in: 0...UInt64.max, using: &rng) >> digits)
        }
        for v in values {
            #expect(JSONWriterTests.text { $0.unsigned(v) } == String(v), "\(v)")
        }
        for v in [Int64.min, -1, -10, -123_456_789, 0, 42] {
            #expect(JSONWriterTests.text { $0.integer(v) } == String(v))
        }
    }

    @Test func everyByteJSONEscapesIsEscapedWhereverItIs() {
        let plain = "abcdefghijklmnopqrstuvwxyz0123456789-_./:é"
        for length in 0...40 {
            let head = String(plain.prefix(length))
            #expect(JSONWriterTests.text { $0.string(head) } == "\"\(head)\"")
            for at in 0...length {
                for (byte, escaped) in [("\"", "\\\""), ("\\", "\\\\"), ("\n", "\\n"), ("\u{1f}", "\\u001f")] {
                    let s = String(head.prefix(at)) + byte + String(head.dropFirst(at))
                    let want = "\"" + String(head.prefix(at)) + escaped + String(head.dropFirst(at)) + "\""
                    #expect(JSONWriterTests.text { $0.string(s) } == want, "\(s.debugDescription)")
                }
            }
        }
    }

    @Test func protocolAndNatNamesAreTheModels() {
        for n in 0...255 {
            let name = JSONNames.proto(UInt8(n)).map(JSONNamesTests.text) ?? String(n)
            #expect(name == IPProtocol.name(UInt8(n)))
        }
        for v in [NatType.dnat, .snat, .masquerade, .redirect] {
            #expect(JSONNamesTests.text(JSONNames.name(v)) == v.rawValue)
        }
        for v in [NatEvidence.observed, .reply, .conntrack, .rule, .chain] {
            #expect(JSONNamesTests.text(JSONNames.name(v)) == v.rawValue)
        }
    }

    /// A flow's protocol is copied from the walk before when it is the same: walk after walk through one
    /// writer, each flow names its own (a number when it has no name, a name longer than a word).
    @Test func eachFlowNamesItsOwnProtocol() throws {
        let protocols: [UInt8?] = [
            IPProtocol.tcp, IPProtocol.tcp, IPProtocol.udp, 200, 200, IPProtocol.udplite, IPProtocol.udplite,
            IPProtocol.icmp, nil, IPProtocol.tcp,
        ]
        let w = JSONWriter(capacity: 64)
        for (n, proto) in protocols.enumerated() {
            var e = TraceEvent(
                source: SourcePosition(file: "trace.log", line: n + 1), origin: .kernelTrace, family: .ipv4,
                table: "filter", chain: "INPUT", kind: .rule)
            var h = PacketHeader()
            h.src = IPAddress("10.0.0.1")
            h.dst = IPAddress("10.0.0.2")
            h.proto = proto
            e.header = h
            var walk = PacketWalk(packet: n, family: .ipv4)
            walk.steps = [WalkStep(event: e, hook: .input, verdict: nil, verdictInferred: true)]
            WalkJSON.write(walk, to: w)
        }
        let lines = String(decoding: w.bytes, as: UTF8.self).split(separator: "\n")
        let names = try lines.map { line -> String? in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let flow = try #require(object["flow"] as? [String: Any])
            return flow["proto"] as? String
        }
        #expect(names == protocols.map { $0.map { IPProtocol.name($0) } })
    }

    /// The header of a step that shows the same packet as the one before is copied; any field that
    /// differs makes it printed again, and a later step like the first is not taken for the second.
    @Test func aRepeatedHeaderIsTheSameAndAChangedOneIsNew() throws {
        func step(ttl: UInt8, flags: TCPFlags, mark: UInt32?) -> WalkStep {
            var e = TraceEvent(
                source: SourcePosition(file: "trace.log", line: Int(ttl)), origin: .kernelTrace, family: .ipv4,
                table: "filter", chain: "FORWARD", kind: .rule)
            var h = PacketHeader()
            h.src = IPAddress("192.168.122.254")
            h.dst = IPAddress("2001:db8::1")
            h.proto = IPProtocol.tcp
            h.sport = 15959
            h.dport = 3128
            h.ttl = ttl
            h.tcpFlags = flags
            h.mark = mark
            e.header = h
            return WalkStep(event: e, hook: .forward, verdict: nil, verdictInferred: true)
        }
        var walk = PacketWalk(packet: 7, family: .ipv4)
        walk.steps = [
            step(ttl: 64, flags: [.syn], mark: nil), step(ttl: 64, flags: [.syn], mark: nil),
            step(ttl: 63, flags: [.syn], mark: nil), step(ttl: 63, flags: [.syn, .ack], mark: nil),
            step(ttl: 63, flags: [.syn, .ack], mark: 0), step(ttl: 64, flags: [.syn], mark: nil),
        ]
        let w = JSONWriter(capacity: 64)
        WalkJSON.write(walk, to: w)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(w.bytes)) as? [String: Any])
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.map { $0["ttl"] as? Int } == [64, 64, 63, 63, 63, 64])
        #expect(steps.map { $0["tcp_flags"] as? String } == ["SYN", "SYN", "SYN", "ACK SYN", "ACK SYN", "SYN"])
        #expect(steps.map { $0["mark"] as? Int } == [nil, nil, nil, nil, 0, nil])
        #expect(steps.allSatisfy { $0["src"] as? String == "192.168.122.254" && $0["dst"] as? String == "2001:db8::1" })
        #expect(steps.map { $0["source"] as? String } == [64, 64, 63, 63, 63, 64].map { "trace.log:\($0)" })
    }

    /// A step's kernel time, source line and ports are written from digit tables and memos kept from
    /// walk to walk: each must read as the model's own text, across the tables' bounds and when the
    /// next walk comes from another file.
    @Test func timesLinesAndPortsAreTheModelsText() throws {
        let times: [Double] = [
            5121056.000003, 5121056.1, 5121056.12, 5121056.123, 5121056.1234, 5121056.100001, 5121057, 0.001,
            12.100001, 7.0001, 999.999999, 1000.000999,
        ]
        let lines = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 10_000, 100_000, 999_999, 1_000_000, 1_234_567]
        let ports: [UInt16] = [0, 7, 80, 443, 999, 1000, 8080, 65535]
        let w = JSONWriter(capacity: 64)
        for (n, file) in ["a.log", "b.log", "a.log"].enumerated() {
            var walk = PacketWalk(packet: n + 1, family: .ipv4)
            walk.steps = lines.indices.map { i in
                var e = TraceEvent(
                    source: SourcePosition(file: file, line: lines[i]), origin: .kernelTrace, family: .ipv4,
                    table: "filter", chain: "INPUT", kind: .rule)
                e.time = times[i % times.count]
                var h = PacketHeader()
                h.src = IPAddress("10.0.0.1")
                h.dst = IPAddress("10.0.0.2")
                h.sport = ports[i % ports.count]
                h.dport = ports[(i + 3) % ports.count]
                e.header = h
                return WalkStep(event: e, hook: .input, verdict: nil, verdictInferred: true)
            }
            WalkJSON.write(walk, to: w)
        }
        let text = String(decoding: w.bytes, as: UTF8.self)
        let walks = text.split(separator: "\n")
        #expect(walks.count == 3)
        for (n, line) in walks.enumerated() {
            let file = ["a.log", "b.log", "a.log"][n]
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["packet"] as? Int == n + 1)
            let steps = try #require(object["steps"] as? [[String: Any]])
            #expect(steps.map { $0["source"] as? String } == lines.map { "\(file):\($0)" })
            #expect(steps.map { $0["sport"] as? Int } == lines.indices.map { Int(ports[$0 % ports.count]) })
            #expect(steps.map { $0["dport"] as? Int } == lines.indices.map { Int(ports[($0 + 3) % ports.count]) })
            // The times' text itself (a number parser would hide trailing digits).
            for i in lines.indices {
                #expect(line.contains("{\"time\":\(times[i % times.count].description),"), "\(times[i % times.count])")
            }
        }
    }

    /// A step's time copies the seconds and milliseconds of the time before when they are the same:
    /// each must still read as the model's own text, with the trailing zeros of its microseconds or of
    /// its milliseconds trimmed, within a walk and from one walk to the next.
    @Test func timesInOneMillisecondReadAsTheModelsText() throws {
        let walks: [[Double]] = [
            [5121056.000003, 5121056.000021, 5121056.00002, 5121056.0001, 5121056.000999, 5121056.001],
            [5121056.001005, 5121056.00101, 5121056.0011, 5121056.1, 5121056.100001, 5121056.1001],
            [5121056.1001, 5121057.100001, 7.0001, 7.000101, 7.1, 7.100001, 0.001, 0.001001],
        ]
        let w = JSONWriter(capacity: 64)
        for (n, times) in walks.enumerated() {
            var walk = PacketWalk(packet: n + 1, family: .ipv4)
            walk.steps = times.indices.map { i in
                var e = TraceEvent(
                    source: SourcePosition(file: "t.log", line: i + 1), origin: .kernelTrace, family: .ipv4,
                    table: "filter", chain: "INPUT", kind: .rule)
                e.time = times[i]
                return WalkStep(event: e, hook: .input, verdict: nil, verdictInferred: true)
            }
            WalkJSON.write(walk, to: w)
        }
        let lines = String(decoding: w.bytes, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == walks.count)
        for (line, times) in zip(lines, walks) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let steps = try #require(object["steps"] as? [[String: Any]])
            #expect(steps.count == times.count)
            // In order, by their text: a number parser would hide a wrong trailing digit.
            var rest = Substring(line)
            for time in times {
                let range = try #require(rest.range(of: "{\"time\":\(time.description),"), "\(time)")
                rest = rest[range.upperBound...]
            }
        }
    }

    @Test func numbersThatAreNotFiniteAreNull() {
        var walk = PacketWalk(packet: 1, family: .ipv4)
        walk.confidence = .nan
        let w = JSONWriter()
        WalkJSON.write(walk, to: w)
        #expect(String(decoding: w.bytes, as: UTF8.self).contains(",\"confidence\":null,"))
    }
}
