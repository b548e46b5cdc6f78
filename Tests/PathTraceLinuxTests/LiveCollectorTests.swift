import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import Testing

/// Live tests: real packets through a router namespace, traced by the collectors. They need root
/// (CAP_NET_ADMIN and CAP_SYS_ADMIN for namespaces) and touch nothing outside their `ptl…` namespaces.
@Suite(.serialized, .offPool, .enabled(if: geteuid() == 0, "needs root for namespaces and netlink"))
struct LiveCollectorTests {
    static let ruleset = """
        table inet pttest {
            chain pre { type filter hook prerouting priority raw - 1; tcp dport 8080 meta nftrace set 1; }
            chain fw { type filter hook forward priority filter; policy accept; }
            chain post { type filter hook postrouting priority filter; policy accept; }
        }

        """

    static func lab() throws -> LiveLab { try #require(LiveLabTrait.current) }

    /// Loads `ruleset` into the lab's router (the file it is read from is removed again).
    static func loadRuleset(_ lab: LiveLab) throws {
        let rules = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.router).nft")
        try ruleset.write(to: rules, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: rules) }
        try lab.exec(lab.router, ["nft", "-f", rules.path])
    }

    static func isSYN(_ e: TraceEvent) -> Bool {
        e.header?.dport == 8080 && e.header?.tcpFlags == .syn
    }

    /// Runs the events through the correlator the CLI uses.
    static func walks(_ events: [TraceEvent], lookup: RuleLookup?) -> [PacketWalk] {
        var walks: [PacketWalk] = []
        var correlator = Correlator(lookup: lookup) { walks.append($0) }
        for e in events { correlator.add(e) }
        correlator.finish()
        return walks
    }

    @Test(.liveLab) func nftTraceOfAForwardedSYN() throws {
        let lab = try Self.lab()
        try Self.loadRuleset(lab)

        // nft monitor trace alongside, for the same packet.
        let monitorOut = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.router).monitor")
        defer { try? FileManager.default.removeItem(at: monitorOut) }
        let monitor = try Live.runner.start(
            ["nft", "-a", "monitor", "trace"], in: .named(lab.router), output: monitorOut.path)
        defer { monitor.stop() }
        #expect(LiveLab.waitForSubscription(pid: monitor.pid, group: 9))

        let sink = EventSink()
        let collector = NftTraceCollector(options: .init(netns: .named(lab.router)))
        try collector.start { sink.add($0) }
        defer { collector.stop() }
        let result = try lab.sendSYN()
        #expect(result == ECONNREFUSED)
        collector.stop()
        #expect(collector.failure == nil)

        let syn = sink.events.filter { $0.traceID == sink.events.first(where: Self.isSYN)?.traceID }
        // Each base chain ends with an end-of-chain step (a handle-less RULE event on 6.18), then its policy.
        #expect(
            syn.map { "\($0.table):\($0.chain):\($0.kind.rawValue)" } == [
                "pttest:pre:rule", "pttest:pre:return", "pttest:pre:policy", "pttest:fw:return", "pttest:fw:policy",
                "pttest:post:return", "pttest:post:policy",
            ])
        guard syn.count == 7 else { return }
        #expect(syn.map(\.verdict) == [.continue, .continue, .accept, .continue, .accept, .continue, .accept])
        #expect(syn[0].rule.map { if case .handle = $0 { true } else { false } } == true)
        #expect(syn.dropFirst().allSatisfy { $0.rule == nil })
        #expect(syn.allSatisfy { $0.origin == .netlink && $0.family == .ipv4 && $0.tableFamily == "inet" })
        #expect(syn.allSatisfy { $0.source.file == "netlink" && $0.ruleText == nil })
        #expect(syn.map(\.source.line) == syn.map(\.source.line).sorted())
        for e in syn {
            let h = try #require(e.header)
            #expect(h.src == IPAddress(LiveLab.clientAddress))
            #expect(h.dst == IPAddress(LiveLab.serverAddress))
            #expect(h.proto == IPProtocol.tcp && h.dport == 8080 && h.tcpFlags == .syn)
            #expect(h.macSrc != nil && h.macProto == 0x0800)
            #expect(e.inIface == "r0")
        }
        #expect(syn.map(\.header?.ttl) == [64, 64, 64, 63, 63, 63, 63])
        #expect(syn.map(\.outIface) == [nil, nil, nil, "r1", "r1", "r1", "r1"])
        #expect(syn[1].header == syn[0].header)

        // nft monitor printed the same walk for the same trace id.
        #expect(
            LiveLab.wait(timeout: 3) {
                ((try? String(contentsOf: monitorOut, encoding: .utf8)) ?? "").contains("pttest post policy")
            })
        monitor.stop()
        let text = try String(contentsOf: monitorOut, encoding: .utf8)
        var parser = TraceLineParser(file: "monitor")
        var monitored: [TraceEvent] = []
        for (n, line) in text.split(separator: "\n").enumerated() {
            var bytes = Array(line.utf8)
            bytes.withUnsafeMutableBufferPointer { b in
                _ = parser.parse(
                    line: UnsafeBufferPointer(b), lineNumber: n + 1, emit: { monitored.append($0) }, onSkip: { _ in })
            }
        }
        let monitoredSYN = monitored.filter { $0.traceID == syn[0].traceID }
        // nft monitor prints nothing for the handle-less end-of-chain events; everything else matches.
        let printed = syn.filter { !($0.kind == .return && $0.rule == nil && $0.verdict == .continue) }
        #expect(
            monitoredSYN.map { "\($0.table):\($0.chain):\($0.kind)" }
                == printed.map { "\($0.table):\($0.chain):\($0.kind)" })
        #expect(monitoredSYN.map(\.verdict) == printed.map(\.verdict))
        #expect(monitoredSYN.map(\.rule) == printed.map(\.rule))
        #expect(monitoredSYN.map(\.header?.ttl) == printed.map(\.header?.ttl))
        #expect(monitoredSYN.map(\.header?.sport) == printed.map(\.header?.sport))
        #expect(monitoredSYN.map(\.header?.ipID) == printed.map(\.header?.ipID))
        #expect(monitoredSYN.map(\.inIface) == printed.map(\.inIface))

        // One forward walk, accepted, once the ruleset tells where the chains hook.
        let listing = try lab.exec(lab.router, ["nft", "-a", "list", "ruleset"])
        let lookup = try RulesetParser.parse(listing, sourceName: "nft list ruleset")
        let walks = Self.walks(syn, lookup: lookup)
        #expect(walks.count == 1)
        #expect(walks.first?.path == .forward)
        #expect(walks.first?.verdict == .accept)
        #expect(
            walks.first?.steps.map(\.hook) == [
                .prerouting, .prerouting, .prerouting, .forward, .forward, .postrouting, .postrouting,
            ])

        // Counters on light traffic: nothing lost.
        let c = collector.counters
        #expect(c.lost == 0 && c.overruns == 0 && c.malformed == 0)
        #expect(c.events == sink.events.count && c.messages == c.events)
    }

    @Test(.liveLab) func legacyTraceThroughNflogGroupZero() throws {
        let lab = try Self.lab()
        try lab.exec(
            lab.router,
            ["iptables-legacy", "-t", "raw", "-A", "PREROUTING", "-p", "tcp", "--dport", "8080", "-j", "TRACE"])
        // Instantiate mangle and filter in this namespace (legacy tables appear on first use).
        try lab.exec(lab.router, ["iptables-legacy", "-t", "mangle", "-S"])
        try lab.exec(lab.router, ["iptables-legacy", "-t", "filter", "-S"])

        let sink = EventSink()
        let collector = NflogCollector(options: .init(group: 0, netns: .named(lab.router)))
        try collector.start { sink.add($0) }
        defer { collector.stop() }

        // Route IPv4 TRACE to nfnetlink_log in the router namespace only; restore the old logger after.
        let old = try lab.exec(lab.router, ["sysctl", "-n", "net.netfilter.nf_log.2"]).trimmingSpaces()
        try lab.exec(lab.router, ["sysctl", "-q", "-w", "net.netfilter.nf_log.2=nfnetlink_log"])
        defer {
            _ = try? lab.exec(lab.router, ["sysctl", "-q", "-w", "net.netfilter.nf_log.2=\(old)"])
        }

        #expect(try lab.sendSYN() == ECONNREFUSED)
        collector.stop()
        #expect(collector.failure == nil)

        let syn = sink.events.filter(Self.isSYN)
        #expect(
            syn.map { "\($0.table):\($0.chain):\($0.kind.rawValue):\($0.rule.map(String.init(describing:)) ?? "")" }
                == [
                    "raw:PREROUTING:policy:rule 2", "mangle:PREROUTING:policy:rule 1", "mangle:FORWARD:policy:rule 1",
                    "filter:FORWARD:policy:rule 1", "mangle:POSTROUTING:policy:rule 1",
                ])
        guard syn.count == 5 else { return }
        #expect(syn.map(\.hook) == [.prerouting, .prerouting, .forward, .forward, .postrouting])
        #expect(syn.map(\.header?.ttl) == [64, 64, 63, 63, 63])
        #expect(syn.allSatisfy { $0.origin == .netlink && $0.family == .ipv4 && $0.verdict == nil })
        #expect(syn.allSatisfy { $0.header?.src == IPAddress(LiveLab.clientAddress) })
        #expect(syn.allSatisfy { $0.header?.dst == IPAddress(LiveLab.serverAddress) })
        #expect(Set(syn.compactMap(\.header?.ipID)).count == 1)
        #expect(
            syn.map(\.inIface) == ["r0", "r0", "r0", "r0", nil] || syn.map(\.inIface) == ["r0", "r0", "r0", "r0", "r0"])
        #expect(syn.map(\.outIface) == [nil, nil, "r1", "r1", "r1"])
        #expect(syn[0].header?.macSrc != nil)

        let walks = Self.walks(syn, lookup: nil)
        #expect(walks.count == 1)
        #expect(walks.first?.path == .forward)
        #expect(walks.first?.verdict == .accept)

        let c = collector.counters
        #expect(c.lost == 0 && c.overruns == 0)
        #expect(c.events == sink.events.count && c.messages == c.events)
    }

    @Test(.liveLab) func nflogRulesWithPathtraceAndUserPrefixes() throws {
        let lab = try Self.lab()
        let sink = EventSink()
        let collector = NflogCollector(options: .init(group: 7, netns: .named(lab.router)))
        try collector.start { sink.add($0) }
        defer { collector.stop() }
        let match = ["-p", "tcp", "--dport", "8080", "-j", "NFLOG", "--nflog-group", "7"]
        try lab.exec(
            lab.router,
            ["iptables-legacy", "-A", "FORWARD"] + match + [
                "--nflog-prefix", LogPrefix.pathtrace(table: "filter", chain: "FORWARD"),
            ])
        try lab.exec(lab.router, ["iptables-legacy", "-A", "FORWARD"] + match + ["--nflog-prefix", "user note"])

        #expect(try lab.sendSYN() == ECONNREFUSED)
        collector.stop()

        let events = sink.events
        #expect(events.count == 2)
        guard events.count == 2 else { return }
        let step = events[0]
        #expect(step.table == "filter" && step.chain == "FORWARD" && step.kind == .rule)
        #expect(step.hook == .forward && step.verdict == .continue && step.rule == nil)
        #expect(step.inIface == "r0" && step.outIface == "r1")
        #expect(step.header?.ttl == 63 && step.header?.dport == 8080 && step.header?.tcpFlags == .syn)
        let log = events[1]
        #expect(log.kind == .log && log.prefix == "user note" && log.table.isEmpty)
        #expect(log.header?.ipID == step.header?.ipID)
        #expect(log.source.line == step.source.line + 1)

        let c = collector.counters
        #expect(c.lost == 0 && c.overruns == 0 && c.events == 2 && c.messages == 2)
    }

    @Test(.liveLab) func overrunsAreCountedAndTheCollectorGoesOn() throws {
        let lab = try Self.lab()
        try Self.loadRuleset(lab)
        let sink = EventSink()
        // The smallest receive buffer the kernel allows: a packet's seven trace messages overflow it.
        let collector = NftTraceCollector(options: .init(netns: .named(lab.router), receiveBufferBytes: 1))
        try collector.start { sink.add($0) }
        defer { collector.stop() }
        for _ in 0..<5 { #expect(try lab.sendSYN() == ECONNREFUSED) }
        collector.stop()
        let c = collector.counters
        #expect(collector.failure == nil)
        #expect(c.overruns > 0 && c.lost == c.overruns)
        #expect(c.events == sink.events.count && c.events > 0 && c.events < 35)
    }

    /// The live pipeline takes the nft collector's events a receive at a time: every event comes, once,
    /// in the collector's order, and no batch is empty.
    @Test(.liveLab) func nftEventsInBatchesAreEveryEventInOrder() throws {
        let lab = try Self.lab()
        try Self.loadRuleset(lab)
        let sink = EventSink()
        let collector = NftTraceCollector(options: .init(netns: .named(lab.router)))
        try collector.startInBatches { sink.add(batch: $0) }
        defer { collector.stop() }
        for _ in 0..<3 { #expect(try lab.sendSYN() == ECONNREFUSED) }
        collector.stop()
        #expect(collector.failure == nil)
        let events = sink.events
        // Seven trace messages per SYN (see `nftTraceOfAForwardedSYN`), numbered by the collector.
        #expect(events.count == 21 && collector.counters.events == 21)
        #expect(events.map(\.source.line) == Array(1...events.count))
        #expect(!sink.batchSizes.isEmpty && !sink.batchSizes.contains(0))
        #expect(sink.batchSizes.reduce(0, +) == events.count)
        // Each SYN's seven steps, whichever batches they came in.
        let bySYN = Dictionary(grouping: events.filter { $0.traceID != nil }, by: { $0.traceID })
        #expect(bySYN.count == 3 && bySYN.values.allSatisfy { $0.count == 7 })
    }

    @Test(.liveLab) func secondListenerOnAGroupIsBusy() throws {
        let lab = try Self.lab()
        let first = NflogCollector(options: .init(group: 9, netns: .named(lab.router)))
        try first.start { _ in }
        defer { first.stop() }
        let second = NflogCollector(options: .init(group: 9, netns: .named(lab.router)))
        #expect(throws: LinuxError.groupBusy(group: 9)) { try second.start { _ in } }
    }

    @Test func missingNamespaceIsAClearError() throws {
        let name = "ptl-missing-\(getpid())"
        #expect(!TraceNamespace.named(name).exists)
        #expect(throws: LinuxError.noSuchNamespace(name)) { try Netns.run(in: .named(name)) { 1 } }
        let collector = NftTraceCollector(options: .init(netns: .named(name)))
        #expect(throws: LinuxError.noSuchNamespace(name)) { try collector.start { _ in } }
        collector.stop()
    }

    @Test(.liveLab) func stopEndsAnIdleCollectorPromptly() throws {
        let lab = try Self.lab()
        let collector = NftTraceCollector(options: .init(netns: .named(lab.router)))
        try collector.start { _ in }
        let start = Date()
        collector.stop()
        collector.stop()
        #expect(Date().timeIntervalSince(start) < 1)
        #expect(collector.counters == CollectorCounters())
    }
}
