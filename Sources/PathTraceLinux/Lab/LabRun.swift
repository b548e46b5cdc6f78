#if os(Linux)
import Foundation
import PathTraceCore

/// `lab run`: builds a lab, starts its server, traces its namespace live while its traffic is sent,
/// checks the walks against the lab file and tears everything down, whatever happens.
public struct LabRun {
    public let spec: LabSpec
    /// nil: each namespace's backend is chosen from its ruleset.
    public var backend: TraceBackend?
    /// Progress for the user, one line each.
    public var onMessage: @Sendable (String) -> Void = { _ in }
    /// Seconds to wait after the traffic for the last walks.
    public var settle = 1.5
    /// Each path across the lab's namespaces, once it has ended.
    public var onJourney: (Journey) -> Void = { _ in }
    /// Every trace event, with its namespace and rule text (what `--save` writes).
    public var onEvent: ((TraceEvent) -> Void)?
    /// Keeps the packets' bytes as the kernel handed them over (for `--pcap`).
    public var keepPacketBytes = false

    public init(spec: LabSpec, backend: TraceBackend? = nil) {
        self.spec = spec
        self.backend = backend
    }

    public struct Result: Sendable {
        public var summary: LiveSummary
        public var walks: [PacketWalk]
        /// Where the walks differ from the lab file's; empty when the trace shows what it expects.
        public var problems: [String]
        public var backends: [TraceBackend]
        public var journeys: [Journey]
        /// The topology snapshot the trace took of the lab's traced namespaces.
        public var topology: Topology?
    }

    /// Runs the lab; every walk goes to `onWalk` as it is traced, the result to `report` before the lab
    /// is torn down (so the user reads it in that order).
    @discardableResult
    public func run(onWalk: @escaping (PacketWalk) -> Void, report: (Result) -> Void = { _ in }) throws -> Result {
        let builder = LabBuilder(spec: spec)
        // A lab that is already up (someone exploring it) is refused and left as it is; up() removes
        // what it made itself when a step fails.
        try builder.up()
        defer {
            let removed = builder.down()
            onMessage("lab \(spec.name) torn down (\(removed.joined(separator: " ")))")
        }
        onMessage("lab \(spec.name) is up: \(spec.description)")
        let server = try LabTraffic.startServer(spec, idle: 10)
        defer { server?.stop() }

        var targets: [LiveTrace.Target] = []
        // One trace per namespace (one collector per netlink group there): the flows a lab traces in the
        // same namespace share its rules.
        var namespaces: [String] = []
        for t in spec.allTraces where !namespaces.contains(t.ns) { namespaces.append(t.ns) }
        for ns in namespaces {
            let flows = spec.allTraces.filter { $0.ns == ns }.map(Self.filter)
            let target = LiveTrace.Target.deciding(
                .named(spec.netns(ns)), requested: backend, filter: WalkFilter.loosest(flows), shown: flows)
            for line in target.choice.messages { onMessage("\(spec.netns(ns)): \(line)") }
            targets.append(target)
        }
        // A lab sends a few packets in a burst, each crossing several traced namespaces: no rate limit to hide one.
        var configuration = LiveTrace.Configuration(
            targets: targets, filter: WalkFilter(), rate: TraceRate("1000/s") ?? .default, duration: 30)
        configuration.keepPacketBytes = keepPacketBytes
        let trace = LiveTrace(configuration)
        trace.onMessage = onMessage
        var journeys: [Journey] = []
        let onJourney = onJourney
        trace.onJourney = { journey in
            journeys.append(journey)
            onJourney(journey)
        }
        trace.onEvent = onEvent
        let spec = spec
        let settle = settle
        let onMessage = onMessage
        trace.onReady = { trace in
            do {
                for outcome in try LabTraffic.exchange(spec) {
                    let text = outcome.text.trimmingCharacters(in: .whitespacesAndNewlines)
                    let t = outcome.traffic
                    let what = "\(t.proto) from \(spec.netns(t.ns)) to \(t.to)\(t.port.map { ":\($0)" } ?? "")"
                    if outcome.answered {
                        onMessage("traffic answered: \(text)")
                    } else {
                        onMessage("\(what): no answer\(t.failureExpected ? " (as the lab expects)" : ""): \(text)")
                    }
                }
            } catch {
                onMessage("the lab's traffic failed: \(error)")
            }
            Thread.sleep(forTimeInterval: settle)
            trace.stop()
        }
        var walks: [PacketWalk] = []
        let summary = try trace.run { walk in
            walks.append(walk)
            onWalk(walk)
        }
        // NFLOG rules show which chains a packet entered, not which rule matched: no NAT to check.
        let backends = targets.map(\.backend)
        let problems = LabCheck.compare(spec, walks, checkNat: !backends.contains(.nflog))
        let result = Result(
            summary: summary, walks: walks, problems: problems, backends: backends, journeys: journeys,
            topology: trace.snapshot)
        report(result)
        return result
    }

    /// The walk filter of one of the lab's trace targets (values were checked when the lab was read).
    static func filter(_ t: LabSpec.TraceTarget) -> WalkFilter {
        var filter = WalkFilter()
        filter.dport = t.dport.flatMap { PortRange(String($0)) }
        filter.sport = t.sport.flatMap { PortRange(String($0)) }
        filter.proto = t.proto.flatMap(IPProtocol.number)
        filter.src = t.src.flatMap(IPNetwork.init)
        filter.dst = t.dst.flatMap(IPNetwork.init)
        return filter
    }
}
#endif
