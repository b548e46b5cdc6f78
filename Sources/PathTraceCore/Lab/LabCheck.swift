/// Compares the walks a lab run traced with the walks the lab file expects: per namespace, the first
/// walks of that namespace in packet order.
public enum LabCheck {
    /// Every difference, one line each; empty when the trace shows what the lab expects. `checkNat` off
    /// for backends that see chains but not which rule matched (nflog).
    public static func compare(_ spec: LabSpec, _ walks: [PacketWalk], checkNat: Bool = true) -> [String] {
        var problems: [String] = []
        var seen: [String: Int] = [:]
        for want in spec.expect {
            let netns = spec.netns(want.ns ?? spec.trace.ns)
            let index = seen[netns, default: 0]
            seen[netns] = index + 1
            let mine = walks.filter { ($0.netns ?? spec.netns(spec.trace.ns)) == netns }
            let label = "\(netns) walk \(index + 1)"
            guard index < mine.count else {
                problems.append("\(label) (\(want.chains.joined(separator: " → "))) was not traced")
                continue
            }
            problems += differences(want, mine[index], label: label, checkNat: checkNat)
        }
        return problems
    }

    static func differences(_ want: LabSpec.ExpectedWalk, _ walk: PacketWalk, label: String, checkNat: Bool)
        -> [String]
    {
        var problems: [String] = []
        // pathtrace's own nft table is not the lab's, and nft prints a chain once per rule it passes.
        var chains: [String] = []
        for step in walk.steps where !step.event.table.hasPrefix("pathtrace_") {
            // A bridge step and the IP step of the same table and chain name are two steps.
            var name = (step.event.family == .bridge ? "bridge " : "") + "\(step.event.table):\(step.event.chain)"
            if step.event.kind == .log && step.event.table.isEmpty { name = "LOG" }
            if chains.last != name { chains.append(name) }
        }
        if chains != want.chains {
            problems.append(
                "\(label): chains \(chains.joined(separator: " → ")), expected \(want.chains.joined(separator: " → "))")
        }
        if walk.path.rawValue != want.path {
            problems.append("\(label): path \(walk.path.rawValue), expected \(want.path)")
        }
        if walk.verdict.rawValue != want.verdict {
            problems.append("\(label): verdict \(walk.verdict.rawValue), expected \(want.verdict)")
        }
        for nat in checkNat ? want.nat ?? [] : [] {
            let hit = walk.nat.contains {
                $0.type.rawValue == nat.type && $0.field == nat.field && $0.before == nat.before
            }
            if !hit { problems.append("\(label): no \(nat.type) of \(nat.field) \(nat.before)") }
        }
        let causes = walk.vanished.map(\.cause.rawValue)
        for cause in want.vanished ?? [] where !causes.contains(cause) {
            let got = causes.isEmpty ? "none" : causes.joined(separator: ", ")
            problems.append("\(label): vanished \(got), expected \(cause)")
        }
        return problems
    }
}
