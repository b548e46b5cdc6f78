import Foundation
import PathTraceCore
import PathTraceRender
import TestSupport
import Testing

/// The three forms of `pathtrace topology`: text names roles and cables, JSON reads back, DOT renders.
@Suite struct TopologyRenderTests {
    let topology = SampleTopology.libvirtNat()

    @Test func textNamesRolesAddressesRoutesAndCables() {
        let text = TopologyText.render(topology)
        #expect(text.contains("netns ptlv-host  (inode 4026532246)\n"))
        #expect(text.contains("  vnet0   port of virbr0, veth ⇄ ptlv-vm:eth0  up\n"))
        #expect(text.contains("  virbr0  bridge (ports vnet0)  up  192.168.122.1/24  [rp_filter=2]\n"))
        #expect(text.contains("    default via 10.44.0.254 dev bond0\n"))
        #expect(text.contains("  sysctls: ip_forward=1 rp_filter(all)=0 bridge-nf-call-iptables=0\n"))
        #expect(text.contains("  rulesets: iptables-legacy (nat)\n"))
        #expect(text.contains("  rulesets: none loaded\n"))
        #expect(!text.contains("fe80"))
        #expect(
            text.hasSuffix(
                "cables between namespaces:\n  ptlv-vm:eth0 ⇄ ptlv-host:vnet0\n  ptlv-host:bond0 ⇄ ptlv-wan:eth0\n"))
    }

    @Test func jsonIsTheSnapshotFile() throws {
        let json = try TopologyJSON.render(topology)
        #expect(json.hasPrefix("{\n"))
        #expect(try Topology.decode(Data(json.utf8), source: "render") == topology)
    }

    @Test func dotQuotesEveryIDAndNestsBridgePorts() throws {
        var odd = topology
        odd.namespaces[0].name = "pid 42 (a \"b\")"
        odd.cables = Topology.cables(of: odd.namespaces)
        let dot = TopologyDot.render(odd)
        #expect(dot.hasPrefix("graph topology {\n"))
        #expect(dot.contains(#"subgraph "cluster_ns1_3" {"#))
        #expect(dot.contains(#"label="bridge virbr0";"#))
        #expect(dot.contains(#""pid 42 (a \"b\")/eth0" -- "ptlv-host/vnet0" [label="veth"];"#))
        #expect(dot.contains(#""ptlv-host/bond0" -- "ptlv-wan/eth0" [label="veth"];"#))
        let rendered = try Tool.run(["dot", "-Tsvg"], stdin: Data(dot.utf8))
        #expect(rendered.status == 0, "dot: \(rendered.stderr)")
        #expect(rendered.stdout.contains("<svg"))
    }
}
