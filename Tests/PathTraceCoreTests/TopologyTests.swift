import Foundation
import PathTraceCore
import TestSupport
import Testing

/// The topology model's lookups (what the timeline will name), its JSON contract and the lab check.
@Suite struct TopologyTests {
    let topology = SampleTopology.libvirtNat()

    @Test func rolesNameWhatEachInterfaceIs() {
        #expect(topology.role(netns: "ptlv-host", ifname: "virbr0") == "bridge (ports vnet0)")
        #expect(topology.role(netns: "ptlv-host", ifname: "bond0") == "veth ⇄ ptlv-wan:eth0")
        #expect(topology.role(netns: "ptlv-host", ifname: "vnet0") == "port of virbr0, veth ⇄ ptlv-vm:eth0")
        #expect(topology.role(netns: "ptlv-vm", ifname: "lo") == "loopback")
        #expect(topology.role(netns: "ptlv-vm", ifname: "nope") == nil)
        #expect(topology.role(netns: "nope", ifname: "lo") == nil)
        var other = topology
        other.namespaces[0].links.append(TopologyLink(ifindex: 9, name: "tun0", kind: "tun", state: "unknown"))
        other.namespaces[0].links.append(
            TopologyLink(ifindex: 10, name: "eth0.10", kind: "vlan", state: "up", vlanID: 10, link: "eth0"))
        other.namespaces[0].links.append(
            TopologyLink(
                ifindex: 11, name: "v9", kind: "veth", state: "up",
                peer: TopologyEnd(netns: nil, ifname: nil, ifindex: 4, nsid: 7)))
        #expect(other.role(netns: "ptlv-vm", ifname: "tun0") == "tun")
        #expect(other.role(netns: "ptlv-vm", ifname: "eth0.10") == "vlan 10 on eth0")
        #expect(other.role(netns: "ptlv-vm", ifname: "v9") == "veth ⇄ nsid 7 ifindex 4")
    }

    @Test func addressesSysctlsAndPeers() {
        #expect(topology.addresses(netns: "ptlv-wan", ifname: "eth0") == ["10.44.0.254/24", "10.44.32.217/24"])
        #expect(topology.addresses(netns: "ptlv-wan", ifname: "nope").isEmpty)
        #expect(topology.sysctl(netns: "ptlv-host", key: "net.ipv4.ip_forward") == "1")
        #expect(topology.sysctl(netns: "ptlv-host", key: "net.ipv4.conf.virbr0.rp_filter") == "2")
        #expect(topology.sysctl(netns: "ptlv-vm", key: "net.bridge.bridge-nf-call-iptables") == nil)
        let peer = topology.peer(netns: "ptlv-vm", ifname: "eth0")
        #expect(peer?.netns == "ptlv-host" && peer?.ifname == "vnet0")
        #expect(topology.peer(netns: "ptlv-host", ifname: "virbr0") == nil)
    }

    @Test func routeLookupTakesTheLongestPrefix() throws {
        let proxy = try #require(IPAddress("10.44.32.217"))
        #expect(topology.route(netns: "ptlv-host", to: proxy)?.gateway == "10.44.0.254")
        let vm = try #require(IPAddress("192.168.122.17"))
        #expect(topology.route(netns: "ptlv-host", to: vm)?.dev == "virbr0")
        // The wan namespace has no default route: nothing beyond its two subnets.
        #expect(topology.route(netns: "ptlv-wan", to: try #require(IPAddress("8.8.8.8"))) == nil)
        #expect(topology.route(netns: "ptlv-wan", to: proxy)?.dst == "10.44.32.0/24")
        // IPv4 routes never answer for IPv6 and the other way round.
        #expect(topology.route(netns: "ptlv-host", to: try #require(IPAddress("2001:db8::1"))) == nil)
        #expect(topology.route(netns: "ptlv-vm", to: try #require(IPAddress("fe80::1")))?.dev == "eth0")
        var metric = topology
        metric.namespaces[1].routes.append(
            TopologyRoute(family: "ipv4", dst: "default", gateway: "10.44.0.253", dev: "bond0", metric: 10))
        metric.namespaces[1].routes[0].metric = 20
        #expect(metric.route(netns: "ptlv-host", to: proxy)?.gateway == "10.44.0.253")
    }

    @Test func cablesAreOnePerPair() {
        #expect(
            topology.cables.map(\.summary) == ["ptlv-vm:eth0 ⇄ ptlv-host:vnet0", "ptlv-host:bond0 ⇄ ptlv-wan:eth0"])
    }

    @Test func jsonRoundTripsAndKeepsTheContractKeys() throws {
        let data = try TopologyFile.encode(topology)
        #expect(try Topology.decode(data, source: "test") == topology)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["format"] as? Int == 1)
        let namespaces = try #require(object["namespaces"] as? [[String: Any]])
        let host = namespaces[1]
        for key in ["name", "inode", "initial", "pid", "links", "routes", "sysctls", "rulesets"] {
            #expect(host[key] != nil, "namespace key \(key)")
        }
        let link = try #require((host["links"] as? [[String: Any]])?[1])
        for key in ["ifindex", "name", "kind", "state", "mac", "mtu", "master", "peer", "ports", "vlan_id", "link"] {
            #expect(link[key] != nil, "link key \(key)")
        }
        #expect(link["vlan_id"] is NSNull)
        let route = try #require((host["routes"] as? [[String: Any]])?[0])
        for key in ["family", "dst", "gateway", "dev", "table", "type", "scope", "prefsrc", "metric"] {
            #expect(route[key] != nil, "route key \(key)")
        }
        // Saved and loaded through a file as replay --topology will.
        let path = NSTemporaryDirectory() + "pathtrace-topology-\(UUID()).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try TopologyFile.save(topology, to: path)
        #expect(try TopologyFile.load(path) == topology)
    }

    @Test func aNewerFormatIsRefused() throws {
        let newer = Data(#"{"format": 2, "namespaces": [], "cables": [], "future": true}"#.utf8)
        #expect(throws: TopologyError.newerFormat(source: "f.json", format: 2, known: 1)) {
            try Topology.decode(newer, source: "f.json")
        }
        let error = TopologyError.newerFormat(source: "f.json", format: 2, known: 1)
        #expect(error.description.contains("format 2 is newer"))
        #expect(throws: TopologyError.self) { try Topology.decode(Data("[]".utf8), source: "x") }
        #expect(throws: TopologyError.self) { try Topology.decode(Data(#"{"namespaces": []}"#.utf8), source: "x") }
        #expect(throws: TopologyError.self) { try TopologyFile.load("/nonexistent/topology.json") }
        // Keys a later version adds are ignored by this one.
        let extra = Data(#"{"format": 1, "namespaces": [{"name": "a", "inode": 1, "color": "red"}], "x": 1}"#.utf8)
        #expect(try Topology.decode(extra, source: "x").namespaces.first?.name == "a")
    }

    @Test func labCheckAcceptsTheLabAndNamesEachDifference() throws {
        let spec = try LabSpec.decode(try Data(contentsOf: Fixtures.url("labs/libvirt-nat.json")), source: "lab")
        #expect(LabTopologyCheck.differences(spec, topology) == [])
        var broken = topology
        broken.namespaces[1].links[1].peer = TopologyEnd(netns: "ptlv-wan", ifname: "eth0")
        broken.namespaces[1].links[3].ports = []
        broken.namespaces[1].routes.removeFirst()
        broken.namespaces[1].sysctls["net.ipv4.ip_forward"] = "0"
        broken.namespaces[1].rulesets = []
        broken.namespaces[2].links[1].addresses = ["10.44.0.254/24"]
        broken.namespaces.removeFirst()
        let differences = LabTopologyCheck.differences(spec, broken)
        #expect(
            differences == [
                "namespace ptlv-vm missing",
                "ptlv-host:vnet0 peer is ptlv-wan:eth0, not ptlv-vm:eth0",
                "ptlv-host:virbr0 lacks port vnet0",
                "ptlv-wan:eth0 lacks address 10.44.32.217/24",
                "ptlv-host lacks route default via 10.44.0.254",
                "ptlv-host net.ipv4.ip_forward=0, not 1",
                "ptlv-host has no iptables-legacy ruleset",
            ])
    }
}
