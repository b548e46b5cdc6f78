import PathTraceCore
import Testing

/// The hook entries are the kernel's: `enum nf_ip_hook_priorities` and `enum nf_br_hook_priorities`.
@Suite struct NetfilterTests {
    func entries(_ hook: Hook, _ layer: Netfilter.Layer) -> [String] {
        Netfilter.entries(at: hook, layer: layer).map { e in
            let name = e.kind == .conntrackConfirm ? "confirm" : e.name + (e.natRole.map { "(\($0))" } ?? "")
            return "\(name) \(e.priority)"
        }
    }

    @Test func ipHooksInPriorityOrder() {
        let max = Int(Int32.max)
        #expect(entries(.prerouting, .ip) == ["raw -300", "conntrack -200", "mangle -150", "nat(dst) -100"])
        #expect(entries(.input, .ip) == ["mangle -150", "filter 0", "security 50", "nat(src) 100", "confirm \(max)"])
        #expect(entries(.forward, .ip) == ["mangle -150", "filter 0", "security 50"])
        #expect(
            entries(.output, .ip) == [
                "raw -300", "conntrack -200", "mangle -150", "nat(dst) -100", "filter 0", "security 50",
            ])
        #expect(entries(.postrouting, .ip) == ["mangle -150", "nat(src) 100", "confirm \(max)"])
    }

    @Test func bridgeHooksAndBrNetfilter() {
        let (min, max) = (Int(Int32.min), Int(Int32.max))
        #expect(entries(.prerouting, .bridge) == ["broute \(min)", "nat(dst) -300", "br_netfilter 0"])
        #expect(entries(.brouting, .bridge) == entries(.prerouting, .bridge))
        #expect(entries(.input, .bridge) == ["filter -200"])
        #expect(entries(.forward, .bridge) == ["filter -200", "br_netfilter 0"])
        #expect(entries(.output, .bridge) == ["nat(dst) 100", "filter 200"])
        #expect(entries(.postrouting, .bridge) == ["nat(src) 300", "br_netfilter \(max)"])
        #expect(Netfilter.brNetfilterHandOff(from: .prerouting) == .prerouting)
        #expect(Netfilter.brNetfilterHandOff(from: .forward) == .forward)
        #expect(Netfilter.brNetfilterHandOff(from: .postrouting) == .postrouting)
        #expect(Netfilter.brNetfilterHandOff(from: .input) == nil)
    }

    @Test func tableEntriesAgreeWithTheStitchersPriorities() {
        for hook in Hook.allCases {
            for e in Netfilter.entries(at: hook, layer: .ip) where e.kind == .table {
                #expect(Netfilter.priority(table: e.name, hook: hook) == e.priority)
            }
        }
    }
}
