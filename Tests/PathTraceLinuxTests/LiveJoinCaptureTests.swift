import Foundation
import PathTraceCore
import TestSupport
import Testing

/// Records the issue 8 captures again (`scripts/capture-join-fixtures.sh`, in `ptj…` namespaces it
/// creates and deletes) and checks the fresh ones as `JoinAndVerdictCaptureTests` checks the committed
/// ones: the kernel still changes the trace id at FORWARD, and the walks still join.
@Suite(
    .serialized,
    .enabled(
        if: Live.available && FileManager.default.fileExists(atPath: "/proc/sys/net/bridge")
            && FileManager.default.isExecutableFile(atPath: CLI.binary.path),
        "needs root, br_netfilter, iptables-nft, xtables-monitor and a built pathtrace"))
struct LiveJoinCaptureTests {
    static func replay(_ directory: URL, _ name: String) throws -> ReplayResult {
        let bytes = try Data(contentsOf: directory.appendingPathComponent(name))
        return try ReplayHarness.run(sources: [MemorySource(name: name, bytes: Array(bytes))])
    }

    @Test func freshCapturesJoinAcrossTheTraceIDChangeAndKeepVerdictsToTheEvidence() throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ptj-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = Fixtures.root.deletingLastPathComponent().appendingPathComponent(
            "scripts/capture-join-fixtures.sh")
        let run = try Tool.run(["PATHTRACE=\(CLI.binary.path)", "bash", script.path, directory.path])
        #expect(run.status == 0, "\(run.stderr)")

        for name in ["docker-bridge-xtables-monitor.txt", "docker-bridge-nft-monitor.txt"] {
            let r = try Self.replay(directory, name)
            #expect(r.walks.count >= 10, "\(name)")
            #expect(r.stats.incomplete == 0, "\(name)")
            #expect(r.walks.allSatisfy { $0.path == .forward && $0.verdict == .accept }, "\(name)")
            for proto in [IPProtocol.tcp, IPProtocol.icmp] {
                let first = try #require(r.walks.first { $0.firstHeader?.proto == proto && $0.replyTo == nil })
                #expect(Set(first.steps.compactMap(\.event.traceID)).count == 2, "\(name) \(proto)")
                let masq = try #require(first.nat.first, "\(name) \(proto)")
                #expect(masq.type == .masquerade && masq.evidence == .reply)
                #expect(masq.after?.hasPrefix("10.78.0.1") == true)
            }
        }

        let legacy = try Self.replay(directory, "verdicts-legacy.events.jsonl")
        let syn = try #require(legacy.walks.first { $0.firstHeader?.dport == 8080 })
        #expect(syn.verdict == .drop)
        #expect(syn.notes.contains { $0.contains("nat:INPUT would have printed next") }, "\(syn.notes)")
        let reply = try #require(legacy.walks.first { $0.firstHeader?.icmpType == 0 })
        #expect(reply.verdict == .unknown)
    }
}
