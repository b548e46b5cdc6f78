/// Compares the walks a lab run showed with the walks the lab file expects (in order, first ones).
public enum LabCheck {
    public static func compare(_ expected: [LabSpec.ExpectedWalk], _ walks: [PacketWalk], checkNat: Bool = true)
        -> [String]
    {
        var problems: [String] = []
        for (i, want) in expected.enumerated() {
            guard i < walks.count else {
                problems.append("expected walk \(i + 1) (\(want.chains.joined(separator: " → "))) was not traced")
                continue
            }
            let walk = walks[i]
            // pathtrace's own nft table is not the lab's, and nft prints a chain once per rule it passes.
            var chains: [String] = []
            for step in walk.steps where !step.event.table.hasPrefix("pathtrace_") {
                let name = "\(step.event.table):\(step.event.chain)"
                if chains.last != name { chains.append(name) }
            }
            if chains != want.chains {
                problems.append(
                    "walk \(i + 1): chains \(chains.joined(separator: " → ")), expected \(want.chains.joined(separator: " → "))"
                )
            }
            if walk.path.rawValue != want.path {
                problems.append("walk \(i + 1): path \(walk.path.rawValue), expected \(want.path)")
            }
            if walk.verdict.rawValue != want.verdict {
                problems.append("walk \(i + 1): verdict \(walk.verdict.rawValue), expected \(want.verdict)")
            }
            for nat in checkNat ? want.nat ?? [] : [] {
                let hit = walk.nat.contains {
                    $0.type.rawValue == nat.type && $0.field == nat.field && $0.before == nat.before
                }
                if !hit { problems.append("walk \(i + 1): no \(nat.type) of \(nat.field) \(nat.before)") }
            }
        }
        return problems
    }
}
