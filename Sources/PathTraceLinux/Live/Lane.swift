#if os(Linux)
import Foundation
import PathTraceCore

/// One traced namespace of a live trace: its collector, rules, ruleset snapshot and correlator.
final class Lane: @unchecked Sendable {
    let target: LiveTrace.Target
    let installer: RuleInstaller
    let session = SessionID.random()
    /// One collector; two with `mixed` (nf_tables trace and legacy TRACE over nfnetlink_log).
    private(set) var collectors: [any TraceCollector] = []
    /// `mixed`: puts the two collectors' steps of a packet back in walk order before the correlator.
    var order: MixedStepOrder?
    private(set) var lookup: RuleLookup?
    private(set) var ruleCount = 0
    /// Adds reply rules for the translations walks show (DNAT, REDIRECT).
    private(set) var follower: NatReplyFollower?

    init(target: LiveTrace.Target, recordSessions: Bool) {
        self.target = target
        name = target.namespace.name
        installer = RuleInstaller(
            namespace: target.namespace, store: recordSessions ? SessionStateStore(id: session) : nil)
    }

    /// The namespace as walks name it (nil: the current one).
    let name: String?

    var where_: String { target.namespace.name.map { "netns \($0)" } ?? "this namespace" }

    /// Starts the collector; its events go to `queue` tagged with this lane's index.
    func start(lane index: Int, queue: EventQueue, keepPacketBytes: Bool = false) throws {
        let namespace = target.namespace
        var collectors: [any TraceCollector]
        // A large socket buffer rides out bursts while the loop is busy with walks.
        let nft = {
            NftTraceCollector(
                options: .init(netns: namespace, receiveBufferBytes: 64 << 20, keepPacketBytes: keepPacketBytes))
        }
        switch target.backend {
        case .nft:
            collectors = [nft()]
        case .kmsg:
            try requireKernelLogReach()
            collectors = [KmsgCollector()]
        case .legacy, .nflog:
            collectors = [
                NflogCollector(
                    options: .init(
                        group: target.backend == .legacy ? 0 : LiveTrace.nflogGroup, netns: namespace,
                        receiveBufferBytes: 64 << 20,
                        ownMarkBits: target.backend == .nflog ? TraceRulePlan.nflogMarkBit : 0,
                        keepPacketBytes: keepPacketBytes))
            ]
        case .mixed:
            // Both into the same queue with this lane's index: one correlator gets both kinds of steps.
            collectors = [
                nft(),
                NflogCollector(
                    options: .init(
                        group: 0, netns: namespace, receiveBufferBytes: 64 << 20, keepPacketBytes: keepPacketBytes)),
            ]
            order = MixedStepOrder()
        }
        for collector in collectors {
            do {
                try collector.startInBatches({ [queue] in queue.push(contentsOf: $0, lane: index) })
            } catch let error as LinuxError {
                for started in self.collectors { started.stop() }
                if case .permissionDenied = error { throw LiveTraceError.noNetAdmin }
                throw LiveTraceError.failed("cannot listen for trace events in \(where_): \(error)")
            }
            self.collectors.append(collector)
        }
    }

    /// The first failure of any of the lane's collectors.
    var failure: LinuxError? { collectors.lazy.compactMap(\.failure).first }

    func stopCollectors() { for collector in collectors { collector.stop() } }

    /// Plans and installs this namespace's tagged rules, after taking its ruleset snapshot.
    func install(_ configuration: LiveTrace.Configuration) throws {
        let backend = target.backend
        let filter = target.filter ?? configuration.filter
        let choice = target.choice
        let chains: [ChainRef]
        do {
            chains = backend == .nflog ? try installer.discoverChains(families: choice.families) : []
        } catch {
            throw LiveTraceError.failed("\(error)")
        }
        let plan: TraceRulePlan
        do {
            plan = try TraceRulePlan.make(
                filter: filter, backend: backend, rate: configuration.rate, session: session,
                families: choice.families, nflogGroup: LiveTrace.nflogGroup, chains: chains, replies: true)
        } catch {
            throw LiveTraceError.usage("\(error)")
        }
        do {
            try installer.install(plan)
        } catch {
            throw LiveTraceError.failed("\(error)")
        }
        ruleCount = plan.rules.count
        let follower = NatReplyFollower(plan: plan, rate: configuration.rate, installer: installer)
        self.follower = follower
        // After the install: pathtrace's own nft table then has its declared hook and priority; the
        // follower shifts legacy rule numbers past the reply rules it inserts at chain heads.
        lookup = follower.adjusting(RulesetSnapshot.take(for: backend, in: target.namespace))
    }

    /// A saved event carries its namespace and its rule's text, so a replay of the file without the
    /// ruleset shows the same walks and NAT.
    func saved(_ event: TraceEvent) -> TraceEvent {
        var e = event
        e.netns = name
        // mixed: an nft base chain's step carries its declared hook, so a replay without the ruleset
        // places it among the legacy steps as the live walk did.
        if order != nil, e.hook == nil, MixedStepOrder.isNftStep(e),
            let declared = lookup?.basePosition(table: e.table, chain: e.chain, family: e.family)
        {
            e.hook = declared.hook
        }
        guard event.ruleText == nil, event.kind == .rule, let ref = event.rule, let lookup,
            let text = lookup.resolve(table: event.table, chain: event.chain, rule: ref, family: event.family)?.text
        else { return e }
        e.ruleText = text
        return e
    }

    /// The kmsg backend sees nothing from a namespace whose TRACE lines the kernel does not print:
    /// refuse before anything is installed rather than trace in silence.
    private func requireKernelLogReach() throws {
        let file = target.namespace.path ?? "/proc/self/ns/net"
        let which = where_
        switch KernelLogReach.check(namespaceFile: file) {
        case .reaches: return
        case .blockedByAllNetns:
            throw LiveTraceError.failed(
                """
                --backend kmsg: the kernel prints TRACE lines of \(which) only when \
                net.netfilter.nf_log_all_netns is 1 in the initial namespace, and it is 0; nothing was changed.
                  pathtrace does not set it: it sends every namespace's LOG and TRACE lines to the host's log.
                  Use --backend legacy (the same TRACE rules, read over nfnetlink_log), or set it yourself:
                  sysctl -w net.netfilter.nf_log_all_netns=1
                """)
        case .unknown(let why):
            throw LiveTraceError.failed(
                "--backend kmsg: cannot tell whether \(which)'s TRACE lines reach the kernel log (\(why)); "
                    + "nothing was changed; use --backend legacy")
        }
    }
}
#endif
