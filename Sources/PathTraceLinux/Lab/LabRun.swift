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
    }

    /// Runs the lab; every walk goes to `onWalk` as it is traced, the result to `report` before the lab
    /// is torn down (so the user reads it in that order).
    @discardableResult
    public func run(onWalk: @escaping (PacketWalk) -> Void, report: (Result) -> Void = { _ in }) throws -> Result {
        let builder = LabBuilder(spec: spec)
        defer {
            let removed = builder.down()
            onMessage("lab \(spec.name) torn down (\(removed.joined(separator: " ")))")
        }
        try builder.up()
        onMessage("lab \(spec.name) is up: \(spec.description)")
        let server = try LabTraffic.startServer(spec, idle: 10)
        defer { server?.stop() }

        var filter = WalkFilter()
        filter.dport = spec.trace.dport.flatMap { PortRange(String($0)) }
        filter.proto = spec.trace.proto.flatMap(IPProtocol.number)
        let namespace = TraceNamespace.named(spec.netns(spec.trace.ns))
        let choice = BackendChoice.choose(backend, in: namespace)
        if let reason = choice.reason { onMessage("backend \(choice.backend.rawValue) (\(reason))") }
        let trace = LiveTrace(
            .init(targets: [.init(namespace: namespace, backend: choice.backend)], filter: filter, duration: 30))
        trace.onMessage = onMessage
        let spec = spec
        let settle = settle
        let onMessage = onMessage
        trace.onReady = { trace in
            do {
                for answer in try LabTraffic.send(spec) {
                    onMessage("traffic answered: \(answer.trimmingCharacters(in: .whitespacesAndNewlines))")
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
        let problems = LabCheck.compare(spec.expect, walks, checkNat: choice.backend != .nflog)
        let result = Result(summary: summary, walks: walks, problems: problems, backends: [choice.backend])
        report(result)
        return result
    }
}
#endif
