import Foundation
import PathTraceCore
import PathTraceLinux
import PathTraceRender

#if canImport(Glibc)
import Glibc
#endif

/// One live tracing session: collector first, then rules, then walks until count, duration or a
/// signal; rules removed and sysctls restored on every way out.
final class LiveSession: @unchecked Sendable {
    let namespace: TraceNamespace
    let backend: TraceBackend
    let filter: WalkFilter
    let rate: TraceRate
    let count: Int?
    let duration: Double?
    let output: OutputOptions
    let stop = StopFlag()
    let events = EventQueue()
    /// Called once the rules are in and the collector listens (a lab sends its traffic then).
    var onReady: (@Sendable (StopFlag) -> Void)?
    /// Called with every walk shown.
    var onWalk: ((PacketWalk) -> Void)?
    /// `--save`: every event, as replay reads it back.
    var saveFile: EventFile?

    init(
        namespace: TraceNamespace, backend: TraceBackend, filter: WalkFilter, rate: TraceRate, count: Int?,
        duration: Double?, output: OutputOptions
    ) {
        self.namespace = namespace
        self.backend = backend
        self.filter = filter
        self.rate = rate
        self.count = count
        self.duration = duration
        self.output = output
    }

    func run() throws {
        let session = SessionID.random()
        let installer = RuleInstaller(
            namespace: namespace, store: SessionStateStore(id: session))
        let report = RemovalBox()
        // Created before anything is installed, on the main thread (see TeardownGuard).
        let guardian = TeardownGuard(afterSignal: { [stop] _ in stop.set() }) {
            report.value = installer.removeAll()
        }
        defer { guardian.run() }

        let collector = try startCollector()
        defer { collector.stop() }

        let chains = backend == .nflog ? try installer.discoverChains(families: families) : []
        let plan: TraceRulePlan
        do {
            plan = try TraceRulePlan.make(
                filter: filter, backend: backend, rate: rate, session: session, families: families, nflogGroup: 7,
                chains: chains, replies: true)
        } catch {
            throw CLIFailure.usage("\(error)")
        }
        do {
            try installer.install(plan)
        } catch let error as RulesError {
            throw CLIFailure(message: "\(error)", code: 1)
        }
        // DNAT/REDIRECT seen in a walk: its replies come from the translated end; trace them too.
        let follower = NatReplyFollower(plan: plan, rate: rate, installer: installer)
        let where_ = namespace.name.map { "netns \($0)" } ?? "this namespace"
        FileOutput.stderr.write(
            "pathtrace: tracing in \(where_) with \(backend.rawValue), \(plan.rules.count) rule(s), rate \(rate); Ctrl-C stops\n"
        )

        let out = FileOutput.stdout
        let timeline = TextTimeline(options: output.renderOptions(out))
        var shown = 0
        let writer = JSONWriter()
        let lookup = follower.adjusting(snapshotRuleset())
        var correlator = Correlator(lookup: lookup) { [filter, output, stop, count] walk in
            var walk = walk
            walk.netns = self.namespace.name
            // Replies are traced too (their de-NAT is the evidence for MASQUERADE), and shown.
            guard filter.matches(walk) || filter.reversed.matches(walk) || follower.isFollowedReply(walk) else {
                return
            }
            if let line = follower.observe(walk) { FileOutput.stderr.write("pathtrace: \(line)\n") }
            if let count, shown >= count { return }
            shown += 1
            self.onWalk?(walk)
            if output.format == .json {
                writer.removeAll()
                WalkJSON.write(walk, to: writer, verbose: output.verbose)
                out.write(raw: writer.buffer)
            } else {
                out.write(timeline.render(walk) + "\n")
            }
            out.flush()
            if let count, shown >= count { stop.set() }
        }
        let started = Date().timeIntervalSince1970
        if let onReady { Thread.detachNewThread { [stop] in onReady(stop) } }
        while !stop.isSet {
            for event in events.drain() {
                saveFile?.write(LiveSession.withRuleText(event, lookup))
                correlator.add(event)
            }
            let now = Date().timeIntervalSince1970
            correlator.tick(now: now)
            if let duration, now - started >= duration { break }
            if let failure = collector.failure {
                FileOutput.stderr.write("pathtrace: the collector stopped: \(failure)\n")
                break
            }
            usleep(20_000)
        }
        guardian.run()
        collector.stop()
        for event in events.drain() {
            saveFile?.write(LiveSession.withRuleText(event, lookup))
            correlator.add(event)
        }
        correlator.finish()
        out.flush()
        let stats = correlator.stats
        let counters = collector.counters
        var summary = "pathtrace: \(plural(stats.events, "event")), \(plural(stats.walks, "walk"))"
        summary += " (\(stats.incomplete) incomplete), \(shown) shown, \(counters.lost) lost"
        if counters.overruns > 0 {
            summary += ", \(plural(counters.overruns, "receive buffer overrun")) (each dropped one or more events)"
        }
        FileOutput.stderr.write(summary + "\n")
        if let r = report.value {
            FileOutput.stderr.write(
                "pathtrace: removed \(plural(r.removed.count, "rule")), restored \(plural(r.restored.count, "sysctl"))\n"
            )
            for failure in r.failures { FileOutput.stderr.write("pathtrace: FAILED to remove \(failure)\n") }
        }
        for line in choice?.exitMessages ?? [] { FileOutput.stderr.write("pathtrace: \(line)\n") }
    }

    /// A saved event carries its rule's text, so a replay of the file without the ruleset shows the same NAT.
    static func withRuleText(_ event: TraceEvent, _ lookup: RuleLookup?) -> TraceEvent {
        guard event.ruleText == nil, event.kind == .rule, let ref = event.rule, let lookup,
            let text = lookup.resolve(table: event.table, chain: event.chain, rule: ref, family: event.family)?.text
        else { return event }
        var e = event
        e.ruleText = text
        return e
    }

    /// The families to trace and what the session leaves behind (BackendChoice), decided before it starts.
    var choice: BackendChoice?
    var families: [TraceFamily] { choice?.families ?? TraceFamily.allCases }

    func startCollector() throws -> any TraceCollector {
        let collector: any TraceCollector
        switch backend {
        case .nft:
            // A large socket buffer rides out bursts while the main thread is busy with walks.
            collector = NftTraceCollector(options: .init(netns: namespace, receiveBufferBytes: 64 << 20))
        case .kmsg:
            try requireKernelLogReach()
            collector = KmsgCollector()
        case .legacy, .nflog:
            collector = NflogCollector(
                options: .init(
                    group: backend == .legacy ? 0 : 7, netns: namespace, receiveBufferBytes: 64 << 20,
                    ownMarkBits: backend == .nflog ? TraceRulePlan.nflogMarkBit : 0))
        }
        do {
            try collector.start { [events] in events.push($0) }
            return collector
        } catch let error as LinuxError {
            if case .permissionDenied = error {
                throw CLIFailure(message: "this needs CAP_NET_ADMIN (run as root); nothing was changed", code: 4)
            }
            throw CLIFailure(message: "cannot listen for trace events: \(error)", code: 1)
        }
    }

    /// The kmsg backend sees nothing from a namespace whose TRACE lines the kernel does not print:
    /// refuse before anything is installed rather than trace in silence.
    func requireKernelLogReach() throws {
        let file = namespace.path ?? "/proc/self/ns/net"
        let which = namespace.name.map { "netns \($0)" } ?? "this namespace"
        switch KernelLogReach.check(namespaceFile: file) {
        case .reaches: return
        case .blockedByAllNetns:
            throw CLIFailure(
                message: """
                    --backend kmsg: the kernel prints TRACE lines of \(which) only when \
                    net.netfilter.nf_log_all_netns is 1 in the initial namespace, and it is 0; nothing was changed.
                      pathtrace does not set it: it sends every namespace's LOG and TRACE lines to the host's log.
                      Use --backend legacy (the same TRACE rules, read over nfnetlink_log), or set it yourself:
                      sysctl -w net.netfilter.nf_log_all_netns=1
                    """, code: 1)
        case .unknown(let why):
            throw CLIFailure(
                message: "--backend kmsg: cannot tell whether \(which)'s TRACE lines reach the kernel log (\(why)); "
                    + "nothing was changed; use --backend legacy", code: 1)
        }
    }

    /// The namespace's ruleset now, so steps show their rule's text and nft chains their hook.
    func snapshotRuleset() -> RuleLookup? {
        let runner = SystemCommandRunner()
        let argv = backend == .nft ? ["nft", "-a", "list", "ruleset"] : ["iptables-legacy-save"]
        guard let text = try? runner.run(PlannedCommand(argv), in: namespace).stdout, !text.isEmpty else { return nil }
        return try? RulesetParser.parse(text, sourceName: argv.joined(separator: " "))
    }
}

/// Events from the collector thread to the main loop.
final class EventQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [TraceEvent] = []

    func push(_ e: TraceEvent) {
        lock.lock()
        items.append(e)
        lock.unlock()
    }

    func drain() -> [TraceEvent] {
        lock.lock()
        defer { lock.unlock() }
        let out = items
        items.removeAll(keepingCapacity: true)
        return out
    }
}

/// Set from a signal handler's queue, read by the main loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set_ = false
    func set() {
        lock.lock()
        set_ = true
        lock.unlock()
    }
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return set_
    }
}

/// The teardown's report, written on the teardown queue.
final class RemovalBox: @unchecked Sendable {
    var value: RemovalReport?
}

/// The `--save` file: opened (and so checked) before anything is installed.
final class EventFile: @unchecked Sendable {
    let output: FileOutput
    let writer = JSONWriter(capacity: 4096)

    init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CLIFailure.unreadable("--save: cannot write \(path): \(String(cString: strerror(errno)))")
        }
        output = FileOutput(fd: fd)
    }

    func write(_ event: TraceEvent) {
        writer.removeAll()
        SavedEvents.write(event, to: writer)
        output.write(raw: writer.buffer)
    }

    func close() {
        output.flush()
        _ = Glibc.close(output.fd)
    }
}
