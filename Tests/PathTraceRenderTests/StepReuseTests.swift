import Foundation
import PathTraceRender
import Testing

@testable import PathTraceCore

/// The JSON walk writer copies what it printed before: a step's place (hook to interfaces) from any
/// earlier walk, a header and the origin and file from the step before. A walk must print the same
/// bytes whatever was printed before it, and every field that differs must show.
@Suite struct StepReuseTests {
    static func step(
        table: Name = "filter", chain: Name = "FORWARD", hook: Hook? = .forward, kind: StepKind = .rule,
        rule: RuleRef? = .number(3), verdict: StepVerdict? = .accept, inferred: Bool = false,
        ruleText: String? = nil, inIface: String? = "eth0", outIface: String? = "eth1", physIn: String? = nil,
        family: Family = .ipv4, src: String = "10.0.0.1", file: String = "trace.log", line: Int = 1
    ) -> WalkStep {
        var e = TraceEvent(
            source: SourcePosition(file: file, line: line), origin: .kernelTrace, family: family, table: table,
            chain: chain, kind: kind)
        e.rule = rule
        e.ruleText = ruleText
        e.inIface = inIface
        e.outIface = outIface
        e.physIn = physIn
        e.time = 100.25
        var h = PacketHeader()
        h.src = IPAddress(src)
        h.dst = IPAddress("10.0.0.2")
        h.proto = IPProtocol.udp
        h.sport = 5000
        h.dport = 53
        h.ttl = 64
        e.header = h
        return WalkStep(event: e, hook: hook, verdict: verdict, verdictInferred: inferred)
    }

    static func line(_ steps: [WalkStep], to w: JSONWriter) -> String {
        var walk = PacketWalk(packet: 1, family: .ipv4)
        walk.steps = steps
        let before = w.count
        WalkJSON.write(walk, to: w)
        return String(decoding: w.bytes[before...], as: UTF8.self)
    }

    static func steps(_ line: String) throws -> [[String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return try #require(object["steps"] as? [[String: Any]])
    }

    /// Each variant differs from the first step in one field of its place; printed after it by the same
    /// writer, it gives the bytes a fresh writer gives, and shows its own value.
    @Test func aPlaceThatDiffersInOneFieldIsPrintedAgain() throws {
        let variants: [(WalkStep, String, Any?)] = [
            (Self.step(), "rule", 3),
            (Self.step(table: "mangle"), "table", "mangle"),
            (Self.step(chain: "MY-CHAIN"), "chain", "MY-CHAIN"),
            (Self.step(hook: .postrouting), "hook", "POSTROUTING"),
            (Self.step(hook: nil), "hook", nil),
            (Self.step(kind: .policy), "kind", "policy"),
            (Self.step(rule: .number(4)), "rule", 4),
            (Self.step(rule: .handle(3)), "handle", 3),
            (Self.step(verdict: .drop), "verdict", "drop"),
            (Self.step(verdict: .jump("MY-CHAIN")), "verdict", "jump MY-CHAIN"),
            (Self.step(verdict: .goto("MY-CHAIN")), "verdict", "goto MY-CHAIN"),
            (Self.step(inferred: true), "verdict_inferred", true),
            (Self.step(ruleText: "-A FORWARD -j ACCEPT"), "rule_text", "-A FORWARD -j ACCEPT"),
            (Self.step(inIface: "eth2"), "in", "eth2"),
            (Self.step(inIface: nil), "in", nil),
            (Self.step(outIface: "eth0"), "out", "eth0"),
            (Self.step(physIn: "veth0"), "physin", "veth0"),
            (Self.step(family: .bridge), "family", "bridge"),
        ]
        let shared = JSONWriter(capacity: 64)
        for (variant, key, value) in variants {
            let first = StepReuseTests.line([Self.step()], to: shared)
            #expect(first == StepReuseTests.line([Self.step()], to: JSONWriter()))
            let again = StepReuseTests.line([variant], to: shared)
            #expect(again == StepReuseTests.line([variant], to: JSONWriter()), "\(key)")
            let printed = try StepReuseTests.steps(again)[0][key]
            if let flag = value as? Bool {
                #expect(printed as? Bool == flag, "\(key)")
            } else if let value {
                #expect("\(printed ?? "absent")" == "\(value)", "\(key)")
            } else {
                #expect(printed is NSNull, "\(key)")
            }
        }
    }

    /// A NAT rewrite changes the source between two steps of a walk: the second step's header is its
    /// own, and a third step like the first shows the first's source again.
    @Test func aRewrittenSourceIsPrintedAgain() throws {
        let line = StepReuseTests.line(
            [Self.step(line: 1), Self.step(src: "192.0.2.7", line: 2), Self.step(line: 3)], to: JSONWriter())
        let steps = try StepReuseTests.steps(line)
        #expect(steps.map { $0["src"] as? String } == ["10.0.0.1", "192.0.2.7", "10.0.0.1"])
        #expect(steps.map { $0["source"] as? String } == ["trace.log:1", "trace.log:2", "trace.log:3"])
        #expect(steps.map { $0["time"] as? Double } == [100.25, 100.25, 100.25])
    }

    /// Names past the name table's capacity (boxed) are not cached by slot: each shows its own text.
    @Test func boxedNamesShowTheirOwnText() throws {
        func boxed(_ s: String) -> Name {
            var s = s
            return s.withUTF8 { Name(boxing: UnsafeRawBufferPointer($0)) }
        }
        let w = JSONWriter()
        let a = try StepReuseTests.steps(StepReuseTests.line([Self.step(chain: boxed("BOXED-A"))], to: w))
        let b = try StepReuseTests.steps(StepReuseTests.line([Self.step(chain: boxed("BOXED-B"))], to: w))
        #expect(a[0]["chain"] as? String == "BOXED-A")
        #expect(b[0]["chain"] as? String == "BOXED-B")
        let files = try StepReuseTests.steps(
            StepReuseTests.line([Self.step(file: "a.log", line: 1), Self.step(file: "b.log", line: 2)], to: w))
        #expect(files.map { $0["source"] as? String } == ["a.log:1", "b.log:2"])
    }

    /// A routed packet's next step has one TTL less: that step shows its own TTL (and a fresh
    /// writer's bytes), and a step after it with the first TTL shows that one again.
    @Test func aLowerTTLIsPrintedInTheRepeatedHeader() throws {
        var routed = Self.step(line: 2)
        routed.event.header?.ttl = 63
        var low = Self.step(line: 3)
        low.event.header?.ttl = 9
        let steps = [Self.step(line: 1), routed, low, Self.step(line: 4)]
        let w = JSONWriter()
        _ = StepReuseTests.line([Self.step(line: 7)], to: w)
        let line = StepReuseTests.line(steps, to: w)
        #expect(line == StepReuseTests.line(steps, to: JSONWriter()))
        let printed = try StepReuseTests.steps(line)
        #expect(printed.map { $0["ttl"] as? Int } == [64, 63, 9, 64])
        #expect(printed.map { $0["src"] as? String } == Array(repeating: "10.0.0.1", count: 4))
    }

    /// Each variant's header differs from the step before in one field (after a step of the first
    /// header, and after a routed step whose TTL alone differs): it shows its own value, the bytes a
    /// fresh writer gives, and the step after it, with the first header, shows the first's again.
    @Test func aHeaderThatDiffersInOneFieldIsPrintedAgain() throws {
        func variant(_ change: (inout PacketHeader) -> Void) -> WalkStep {
            var s = Self.step(line: 3)
            change(&s.event.header!)
            return s
        }
        let variants: [(WalkStep, String, Any?)] = [
            (variant { $0.src = IPAddress("10.0.0.9") }, "src", "10.0.0.9"),
            (variant { $0.dst = IPAddress("2001:db8::2") }, "dst", "2001:db8::2"),
            (variant { $0.sport = 5001 }, "sport", 5001),
            (variant { $0.dport = nil }, "dport", nil),
            (variant { $0.ttl = 62 }, "ttl", 62),
            (variant { $0.ipID = 7 }, "id", 7),
            (variant { $0.length = 1500 }, "len", 1500),
            (variant { $0.tcpSeq = 4_000_000_000 }, "seq", 4_000_000_000),
            (variant { $0.tcpFlags = [.syn, .ack] }, "tcp_flags", "ACK SYN"),
            (variant { $0.mark = 0x10 }, "mark", 16),
            (variant { $0.uid = 1000 }, "uid", 1000),
            (variant { $0.icmpType = 8 }, "icmp_type", 8),
        ]
        var routed = Self.step(line: 2)
        routed.event.header?.ttl = 63
        for (step, key, value) in variants {
            for before in [Self.step(line: 2), routed] {
                let steps = [Self.step(line: 1), before, step, Self.step(line: 4)]
                let w = JSONWriter()
                _ = StepReuseTests.line([Self.step(line: 7)], to: w)
                let line = StepReuseTests.line(steps, to: w)
                #expect(line == StepReuseTests.line(steps, to: JSONWriter()), "\(key)")
                let printed = try StepReuseTests.steps(line)
                if let value {
                    #expect("\(printed[2][key] ?? "absent")" == "\(value)", "\(key)")
                } else {
                    #expect(printed[2][key] is NSNull, "\(key)")
                }
                #expect(printed[1]["ttl"] as? Int == before.event.header?.ttl.map(Int.init), "\(key)")
                #expect(printed[3]["src"] as? String == "10.0.0.1", "\(key)")
                #expect(printed[3]["dport"] as? Int == 53, "\(key)")
                #expect(printed[3]["ttl"] as? Int == 64, "\(key)")
            }
        }
    }

    /// The header of the step the flow comes from shows the flow's addresses and ports; a step before
    /// it (an ebtables line, without the IP header's own fields) shows its own.
    @Test func theFlowStepsHeaderShowsTheFlowsEndpoints() throws {
        var bridge = Self.step(src: "2001:db8::1", line: 1)
        bridge.event.header?.dst = IPAddress("2001:db8:ffff::abcd")
        bridge.event.header?.sport = nil
        bridge.event.header?.ttl = nil
        var first = Self.step(src: "192.0.2.250", line: 2)
        first.event.header?.ipID = 1
        first.event.header?.dport = 65535
        let line = StepReuseTests.line([bridge, first, Self.step(line: 3)], to: JSONWriter())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let flow = try #require(object["flow"] as? [String: Any])
        #expect(flow["src"] as? String == "192.0.2.250")
        #expect(flow["dst"] as? String == "10.0.0.2")
        #expect(flow["sport"] as? Int == 5000)
        #expect(flow["dport"] as? Int == 65535)
        let steps = try StepReuseTests.steps(line)
        #expect(steps.map { $0["src"] as? String } == ["2001:db8::1", "192.0.2.250", "10.0.0.1"])
        #expect(steps.map { $0["dst"] as? String } == ["2001:db8:ffff::abcd", "10.0.0.2", "10.0.0.2"])
        #expect(steps[0]["sport"] is NSNull)
        #expect(steps.dropFirst().map { $0["sport"] as? Int } == [5000, 5000])
        #expect(steps.map { $0["dport"] as? Int } == [53, 65535, 53])
        #expect(steps.map { $0["id"] as? Int } == [nil, 1, nil])
    }

    /// The NAT rewrites of walks printed one after the other show their own field, place and
    /// direction, also where a text is canonically equal to the one before but not the same bytes.
    @Test func aNatRewriteShowsItsOwnTexts() throws {
        func walk(field: String, at: String, direction: String) -> PacketWalk {
            var walk = PacketWalk(packet: 1, family: .ipv4)
            walk.steps = [Self.step()]
            var nat = NatRewrite(
                type: .snat, field: field, before: "10.0.0.1:5000", after: nil, at: at, evidence: .chain)
            nat.direction = direction
            walk.nat = [nat]
            return walk
        }
        let w = JSONWriter()
        let walks = [
            walk(field: "src", at: "nat:POSTROUTING", direction: "original"),
            walk(field: "src", at: "nat:POSTROUTING", direction: "original"),
            walk(field: "dst", at: "nat:K", direction: "reply"),
            walk(field: "dst", at: "nat:\u{212A}", direction: "reply"),
            walk(field: "src", at: "nat:\"odd\"", direction: "original"),
        ]
        var lines: [String] = []
        for walk in walks {
            let before = w.count
            WalkJSON.write(walk, to: w)
            lines.append(String(decoding: w.bytes[before...], as: UTF8.self))
        }
        for (walk, line) in zip(walks, lines) {
            let fresh = JSONWriter()
            WalkJSON.write(walk, to: fresh)
            #expect(line == String(decoding: fresh.bytes, as: UTF8.self))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let nat = try #require((object["nat"] as? [[String: Any]])?.first)
            #expect(nat["field"] as? String == walk.nat[0].field)
            #expect((nat["at"] as? String)?.utf8.elementsEqual(walk.nat[0].at.utf8) == true)
            #expect(nat["direction"] as? String == walk.nat[0].direction)
        }
    }
}
