/// What the diagnosis needs of a namespace again and again, worked out once: its own addresses and the
/// hooks where its rulesets attach chains (the rulesets are text; parsing them per walk would cost).
public struct NamespaceFacts: Sendable {
    /// Every address of every device in the namespace.
    public let local: Set<IPAddress>
    /// The hooks some chain of the namespace's rulesets is attached to, pathtrace's own tables aside.
    public let hooksWithChains: Set<Hook>

    public init(_ ns: TopologyNamespace) {
        local = Set(ns.links.flatMap(\.addresses).compactMap { IPNetwork($0)?.address })
        hooksWithChains = NamespaceFacts.hooksWithChains(ns)
    }

    static func hooksWithChains(_ ns: TopologyNamespace) -> Set<Hook> {
        var hooks = Set<Hook>()
        for ruleset in ns.rulesets {
            if ruleset.backend == "nft" {
                var table = ""
                for line in ruleset.text.split(separator: "\n") {
                    let words = line.split(separator: " ")
                    if words.first == "table", words.count >= 3 { table = String(words[2]) }
                    if table.hasPrefix("pathtrace_") { continue }
                    if let i = words.firstIndex(of: "hook"), i + 1 < words.count,
                        let hook = Hook(chainName: String(words[i + 1]))
                    {
                        hooks.insert(hook)
                    }
                }
                continue
            }
            for line in ruleset.text.split(separator: "\n") where line.hasPrefix("*") {
                switch line.dropFirst() {
                case "raw": hooks.formUnion([.prerouting, .output])
                case "mangle": hooks.formUnion([.prerouting, .input, .forward, .output, .postrouting])
                case "nat": hooks.formUnion([.prerouting, .input, .output, .postrouting])
                case "filter", "security": hooks.formUnion([.input, .forward, .output])
                default: break
                }
            }
        }
        return hooks
    }

}
