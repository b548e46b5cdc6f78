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
@Suite(.serialized, .enabled(if: Live.available, "needs root, CAP_NET_ADMIN, iproute2, iptables, nftables"))
struct LiveMixedTraceTests {
    /// The user's two rulesets on the router: a legacy FORWARD rule and an nft forward chain.
    static let userNft = """
        table inet ptmix {
            chain fw { type filter hook forward priority filter + 10; policy accept; tcp dport 8080 counter; }
        }

        """

    enum Marker: String, CaseIterable { case nftrace, trace }

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
