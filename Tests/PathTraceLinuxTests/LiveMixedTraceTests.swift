import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import Testing

/// The mechanism a mixed-ruleset session rests on, checked on the running kernel in a `ptl…` router
/// namespace that holds an iptables-legacy filter table and a native nft table at once: one marking
/// rule, `meta nftrace set 1` or `-j TRACE`, sets the packet's trace flag, and with it nf_tables reports
/// the packet on NFNLGRP_NFTRACE and x_tables through nf_log (nfnetlink_log group 0) — both at once.
/// (`-j TRACE` reaches nf_tables only while some `meta nftrace set` rule exists in the kernel: see below.)
@Suite(.serialized, .offPool, .enabled(if: Live.available, "needs root, CAP_NET_ADMIN, iproute2, iptables, nftables"))
struct LiveMixedTraceTests {
    /// The user's two rulesets on the router: a legacy FORWARD rule and an nft forward chain.
    static let userNft = """
        table inet ptmix {
            chain fw { type filter hook forward priority filter + 10; policy accept; tcp dport 8080 counter; }
        }

        """

    enum Marker: String, CaseIterable { case nftrace, trace }

    /// The user's nft table for the whole-trace test: a counter for 8080, a drop for 8081.
    static let userNftWithDrop = """
        table inet ptmix {
            chain fw {
                type filter hook forward priority filter + 10; policy accept;
                tcp dport 8080 counter
                tcp dport 8081 drop
            }
        }

        """

    /// Counters move with the traffic: they are not the ruleset.
    static func withoutCounters(_ s: Live.Snapshot) -> Live.Snapshot {
        var s = s
        for keyPath in [\Live.Snapshot.iptables, \Live.Snapshot.ip6tables] {
            s[keyPath: keyPath] = s[keyPath: keyPath].split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(":") ? String($0.prefix { $0 != "[" }) : String($0) }.joined(separator: "\n")
        }
        s.nft = s.nft.replacing(/packets \d+ bytes \d+/, with: "")
        return s
    }

    static func label(_ step: WalkStep) -> String { "\(step.event.table):\(step.event.chain)" }

    /// `auto` on a router with a legacy filter table and a native nft table picks `mixed`; the SYN's one
    /// walk lists legacy steps and the nft chain's step in hook and priority order; a drop in the nft chain
    /// is the walk's verdict, with its rule; afterwards the namespace is as it was.
    @Test(.liveLab) func autoTracesBothRulesetsInOneWalk() throws {
        let lab = try #require(LiveLabTrait.current)
        let r = lab.router
        try lab.exec(r, ["iptables-legacy", "-w", "-A", "FORWARD", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT"])
        // A raw table (loaded by listing it): where legacy TRACE starts a walk.
        try lab.exec(r, ["iptables-legacy", "-w", "-t", "raw", "-S"])
        try Live.run(["nft", "-f", "-"], in: r, stdin: Self.userNftWithDrop)
        let before = try Live.snapshot(r)

        var filter = WalkFilter()
        filter.proto = IPProtocol.tcp
        filter.dport = PortRange("8080:8081")
        let target = LiveTrace.Target.deciding(.named(r), requested: nil, filter: filter)
        #expect(target.backend == .mixed)
        #expect(
            target.choice.messages.first?.hasPrefix(
                "backend mixed (iptables-legacy rules beside nft tables: inet ptmix") == true)
        var configuration = LiveTrace.Configuration(targets: [target], filter: filter, rate: .default, duration: 20)
        configuration.recordSessions = false
        configuration.probeTopology = false
        let trace = LiveTrace(configuration)
        trace.onReady = { trace in
            _ = try? lab.sendSYN(port: 8080)
            _ = try? lab.sendSYN(port: 8081, timeoutMs: 300)
            Thread.sleep(forTimeInterval: 0.8)
            trace.stop()
        }
        var walks: [PacketWalk] = []
        let summary = try trace.run { walks.append($0) }
        #expect(summary.cleanlyRemoved)
        #expect(summary.lost == 0)

        func syn(_ port: UInt16) -> PacketWalk? {
            walks.first {
                $0.steps.first?.event.header?.dport == port && $0.steps.first?.event.header?.tcpFlags == .syn
            }
        }
        let accepted = try #require(syn(8080), "\(walks.map { $0.steps.map(Self.label) })")
        let chains = accepted.steps.map(Self.label)
        print("mixed walk 8080:", accepted.steps.map(MixedStepOrderLabel.line))
        let raw = try #require(chains.firstIndex(of: "raw:PREROUTING"), "\(chains)")
        let legacyFilter = try #require(chains.firstIndex(of: "filter:FORWARD"), "\(chains)")
        let nftChain = try #require(chains.firstIndex(of: "ptmix:fw"), "\(chains)")
        #expect(chains.first?.hasPrefix("pathtrace_") == true)
        #expect(raw < legacyFilter && legacyFilter < nftChain)
        #expect(accepted.path == .forward && accepted.verdict == .accept)
        #expect(
            accepted.steps[legacyFilter].event.ruleText == "-A FORWARD -p tcp -m tcp --dport 8080 -j ACCEPT")
        // Only the SYN opened a walk for 8080 in the forward direction: one walk, not a split one.
        #expect(walks.filter { $0.steps.first?.event.header?.dport == 8080 }.count == 1)

        let dropped = try #require(syn(8081), "\(walks.map { $0.steps.map(Self.label) })")
        print("mixed walk 8081:", dropped.steps.map(MixedStepOrderLabel.line))
        #expect(dropped.verdict == .drop)
        #expect(dropped.steps.last.map(Self.label) == "ptmix:fw")
        #expect(dropped.steps.last?.verdict == .drop)
        #expect(dropped.steps.last?.event.ruleText?.contains("tcp dport 8081 drop") == true)
        #expect(dropped.steps.contains { Self.label($0) == "filter:FORWARD" })

        #expect(Self.withoutCounters(try Live.snapshot(r)) == Self.withoutCounters(before))
    }

    @Test(.liveLab, arguments: Marker.allCases)
    func oneMarkReachesBothTracers(_ marker: Marker) throws {
        let lab = try #require(LiveLabTrait.current)
        let r = lab.router
        try lab.exec(r, ["iptables-legacy", "-w", "-A", "FORWARD", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT"])
        try Live.run(["nft", "-f", "-"], in: r, stdin: Self.userNft)
        switch marker {
        case .nftrace:
            try Live.run(
                ["nft", "-f", "-"], in: r,
                stdin: """
                    table inet ptmark {
                        chain pre { type filter hook prerouting priority raw - 1; tcp dport 8080 meta nftrace set 1; }
                    }

                    """)
        case .trace:
            try lab.exec(
                r,
                [
                    "iptables-legacy", "-w", "-t", "raw", "-A", "PREROUTING", "-p", "tcp", "--dport", "8080", "-j",
                    "TRACE",
                ])
            // nf_tables builds trace messages only while the kernel-wide static key nft_trace_enabled is on,
            // and only a `meta nftrace set` rule (anywhere, in any namespace) turns it on: without one,
            // a packet marked by -j TRACE alone shows no nft steps. This rule is never reached.
            try Live.run(
                ["nft", "-f", "-"], in: r,
                stdin: "table inet ptkey {\n\tchain k { meta mark 0x5a5a5a5a meta nftrace set 1; }\n}\n")
        }
        // Legacy TRACE lines go to whichever logger is bound: nfnetlink_log, for group 0.
        try Live.run(["tee", "/proc/sys/net/netfilter/nf_log/2"], in: r, stdin: "nfnetlink_log\n")

        let nftEvents = EventSink()
        let logEvents = EventSink()
        let nft = NftTraceCollector(options: .init(netns: .named(r)))
        let nflog = NflogCollector(options: .init(group: 0, netns: .named(r)))
        try nft.start { nftEvents.add($0) }
        defer { nft.stop() }
        try nflog.start { logEvents.add($0) }
        defer { nflog.stop() }
        #expect(try lab.sendSYN() == ECONNREFUSED)
        _ = LiveLab.wait(timeout: 2) {
            logEvents.events.contains { $0.chain == "FORWARD" } && nftEvents.events.contains { $0.table == "ptmix" }
        }
        nft.stop()
        nflog.stop()

        func isSYN(_ e: TraceEvent) -> Bool { e.header?.dport == 8080 && e.header?.tcpFlags == .syn }
        // nf_tables: the user's nft chain, for the SYN (and the marking chain, when nft marked it).
        let nftSteps = Set(nftEvents.events.filter(isSYN).map { "\($0.table):\($0.chain)" })
        #expect(nftSteps.contains("ptmix:fw"), "\(nftSteps)")
        if marker == .nftrace { #expect(nftSteps.contains("ptmark:pre")) }
        // x_tables: the legacy filter table's FORWARD (and raw, where TRACE marked it), for the same SYN.
        let legacySteps = logEvents.events.filter(isSYN).map { "\($0.table):\($0.chain):\($0.kind.rawValue)" }
        #expect(legacySteps.contains("filter:FORWARD:rule"), "\(legacySteps)")
        if marker == .trace { #expect(legacySteps.first == "raw:PREROUTING:policy") }
        let ids = Set(logEvents.events.filter(isSYN).compactMap(\.header?.ipID))
        #expect(ids.count == 1 && ids == Set(nftEvents.events.filter(isSYN).compactMap(\.header?.ipID)))
    }
}

/// One step as a line, for the test's log.
enum MixedStepOrderLabel {
    static func line(_ s: WalkStep) -> String {
        var rule = s.event.kind.rawValue
        switch s.event.rule {
        case .number(let n)?: rule += " \(n)"
        case .handle(let h)?: rule += " #\(h)"
        case nil: break
        }
        return "\(s.hook?.rawValue ?? "?") \(s.event.table):\(s.event.chain) \(rule) \(s.verdict?.description ?? "-")"
    }
}
