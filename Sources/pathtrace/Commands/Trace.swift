import ArgumentParser
import Foundation
import PathTraceCore
import PathTraceLinux
import PathTraceRender

struct Trace: ParsableCommand {
    // Unlike the other commands, no explicit `commandName` (see Replay's): ArgumentParser's man page
    // would then mark this default subcommand optional in the synopsis, a change to docs/pathtrace.1.
    static let configuration = CommandConfiguration(
        abstract: "Trace live packets: install tagged TRACE rules, show each packet's walk, remove them.",
        discussion: """
            Examples:
              pathtrace --dport 3128                          # the default subcommand
              pathtrace --netns ptlv-host --proto icmp --count 3
              pathtrace --src 192.168.122.0/24 --backend legacy --duration 30s --format json
              pathtrace --netns ptdn-vm2 --netns ptdn-vm1 --netns ptdn-host --dport 8080
                                                              # several namespaces: one journey per packet
              pathtrace --all --proto icmp --duration 10s     # this namespace and every named one

            Each walk names the devices it used (a topology snapshot is taken at the start); a walk that \
            stops short says why (vanished: ip_forward, rp_filter, rule_drop, …) with the fact that shows \
            it and a command that would change it. Walks of one packet in neighbouring namespaces are \
            joined along veth cables and bridges into a journey.

            Rules are tagged (nft table pathtrace_<id>, or iptables comment pathtrace:<id>), rate-limited \
            (--rate, default 100/s; --rate 0 lifts the limit) and removed on exit, Ctrl-C, SIGTERM or \
            SIGHUP; sysctls changed are restored. What a killed session left is recorded under \
            /run/pathtrace and removed by `pathtrace cleanup` (and by the next start).

            Backends: nft (nftables trace over netlink), legacy (iptables-legacy TRACE read from \
            nfnetlink_log group 0), nflog (an NFLOG rule at the head of every chain: chain order only), \
            kmsg (the same TRACE rules, lines read from /dev/kmsg as dmesg shows them; outside the initial \
            namespace the kernel prints them only with net.netfilter.nf_log_all_netns=1, and the kernel \
            log mixes every namespace's lines); auto picks what the namespace's ruleset uses.
            """)

    enum Backend: String, ExpressibleByArgument, CaseIterable {
        case auto, nft, legacy, nflog, kmsg, mixed
    }

    @OptionGroup(title: "Filter") var filter: FilterOptions
    @Option(
        help: ArgumentHelp(
            "Trace inside this network namespace: a name under /run/netns, or pid:N for a process's. Repeatable: "
                + "each namespace is traced with the backend its own ruleset uses.", valueName: "name"
        ))
    var netns: [String] = []
    @Flag(
        help: ArgumentHelp(
            "Trace the namespace pathtrace runs in and every named one (under /run/netns) at once; walks of one "
                + "packet in neighbouring namespaces join into journeys."))
    var all = false
    @Option(help: "auto, nft, legacy, nflog, kmsg or mixed.") var backend: Backend = .auto
    @Option(help: "Stop after N walks.") var count: Int?
    @Option(help: ArgumentHelp("Stop after this long: 30s, 2m, 500ms.", valueName: "time")) var duration: String?
    @Option(help: ArgumentHelp("Trace at most this many packets a second (0 = no limit).", valueName: "N/s"))
    var rate: String = "100/s"
    @Option(
        help: ArgumentHelp(
            "Also write every trace event to FILE; `pathtrace replay FILE` shows the same walks.", valueName: "file"))
    var save: String?
    @OptionGroup(title: "Output") var output: OutputOptions

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count: expected a positive number, got \(count)") }
        if let duration, Trace.seconds(duration) == nil {
            throw ValidationError("--duration: expected a time like 30s, 2m or 500ms, got '\(duration)'")
        }
        if TraceRate(rate) == nil {
            throw ValidationError(
                "--rate: expected packets a second like 100/s (0 to \(TraceRate.maximum)), got '\(rate)'")
        }
        for name in netns where (try? TraceNamespace(name: name)) == nil {
            throw ValidationError("--netns: expected a namespace name under /run/netns or pid:N, got '\(name)'")
        }
    }

    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let v = Double(text.dropLast(suffix.count)), v > 0, v.isFinite { return v * scale }
        }
        return nil
    }

    func run() throws {
        let walkFilter = try filter.makeFilter()
        var namespaces = try netns.isEmpty ? [TraceNamespace.current] : netns.map { try TraceNamespace(name: $0) }
        if all {
            for ns in ProbeTarget.allTraceable() where !namespaces.contains(ns) { namespaces.append(ns) }
        }
        for (name, namespace) in zip(netns, namespaces) where !namespace.exists {
            throw CLIFailure.usage("--netns: no network namespace '\(name)'")
        }
        try requireNetAdmin()
        guard let rate = TraceRate(rate) else { return }
        if rate.isUnlimited {
            FileOutput.stderr.write("pathtrace: warning: --rate 0: every matching packet is traced\n")
        }
        // What a killed earlier session left goes first.
        let stale = SessionCleanup.cleanup()
        if !stale.sessions.isEmpty { FileOutput.stderr.write(stale.summary + "\n") }

        let saveFile = try save.map(EventFile.init(path:))
        defer { saveFile?.close() }
        let live = try LiveOutput(output)
        let targets = namespaces.map { namespace in
            let target = LiveTrace.Target.deciding(namespace, requested: backend.fixed, filter: walkFilter)
            let which = namespaces.count > 1 ? "\(namespace.name ?? "this namespace"): " : ""
            for line in target.choice.messages { LiveOutput.message(which + line) }
            return target
        }
        var configuration = LiveTrace.Configuration(
            targets: targets, filter: walkFilter, rate: rate, count: count, duration: duration.flatMap(Trace.seconds))
        configuration.keepPacketBytes = output.pcap != nil
        let trace = LiveTrace(configuration)
        if let saveFile { trace.onEvent = saveFile.write }
        trace.onMessage = LiveOutput.message
        trace.onJourney = live.journey
        live.finish(try LiveOutput.mappingErrors { try trace.run(onWalk: live.walk) })
    }
}

extension Trace.Backend {
    /// The backend asked for; nil for `auto`.
    var fixed: TraceBackend? { TraceBackend(rawValue: rawValue) }
}
