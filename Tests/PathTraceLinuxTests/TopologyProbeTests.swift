import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import TestSupport
import Testing

/// The topology probe on the real kernel, in `pt…` namespaces only: the libvirt-nat lab read back and
/// checked against its file, a veth pair inside one namespace, and a process namespace found through
/// its veth peer.
@Suite(.serialized, .offPool, .enabled(if: Live.available, "needs root, CAP_NET_ADMIN, iproute2, iptables, nftables"))
struct TopologyProbeTests {
    static func spec() throws -> LabSpec {
        try Fixtures.lab("libvirt-nat", prefix: "pttp\(ProcessInfo.processInfo.processIdentifier % 100_000)")
    }

    @Test func libvirtNatLabMatchesItsFile() throws {
        let spec = try Self.spec()
        let builder = LabBuilder(spec: spec)
        defer { builder.down() }
        try builder.up()
        let (vm, host, wan) = (spec.netns("vm"), spec.netns("host"), spec.netns("wan"))
        let topology = try TopologyProbe().snapshot(namespaces: [.named(vm), .named(host), .named(wan)])
        #expect(topology.namespaces.map(\.name) == [vm, host, wan])
        #expect(LabTopologyCheck.differences(spec, topology) == [])
        #expect(topology.role(netns: host, ifname: "vnet0") == "port of virbr0, veth ⇄ \(vm):eth0")
        #expect(topology.role(netns: host, ifname: "virbr0") == "bridge (ports vnet0)")
        #expect(topology.role(netns: host, ifname: "bond0") == "veth ⇄ \(wan):eth0")
        #expect(topology.role(netns: vm, ifname: "lo") == "loopback")
        #expect(topology.link(netns: host, ifname: "virbr0")?.mac == "52:54:00:da:ec:4f")
        #expect(topology.link(netns: host, ifname: "vnet0")?.state == "up")
        // Peers come with the nsid the kernel gave their namespace as seen from this one.
        #expect(topology.link(netns: vm, ifname: "eth0")?.peer?.nsid != nil)
        let proxy = try #require(IPAddress("10.44.32.217"))
        let route = topology.route(netns: host, to: proxy)
        #expect(route?.gateway == "10.44.0.254" && route?.dev == "bond0")
        #expect(topology.route(netns: wan, to: try #require(IPAddress("192.168.122.17"))) == nil)
        #expect(topology.sysctl(netns: host, key: "net.ipv4.ip_forward") == "1")
        #expect(topology.sysctl(netns: vm, key: "net.ipv4.ip_forward") == "0")
        #expect(topology.sysctl(netns: host, key: "net.ipv4.conf.virbr0.rp_filter") != nil)
        let hostNS = try #require(topology.namespace(host))
        #expect(hostNS.rulesets.map(\.backend) == ["iptables-legacy"])
        #expect(hostNS.rulesets.first?.text.contains("-A POSTROUTING -s 192.168.122.0/24") == true)
        #expect(hostNS.policyRules == nil)
        #expect(hostNS.notes.isEmpty, "\(hostNS.notes)")
        #expect(topology.namespace(vm)?.rulesets.isEmpty == true)
        #expect(topology.cables.map(\.summary) == ["\(vm):eth0 ⇄ \(host):vnet0", "\(host):bond0 ⇄ \(wan):eth0"])
        // Read alone, the host still knows its peers' devices by index and nsid, not by name.
        let alone = try TopologyProbe().snapshot(namespaces: [.named(host)])
        let peer = try #require(alone.link(netns: host, ifname: "bond0")?.peer)
        #expect(peer.netns == nil && peer.ifname == nil && peer.ifindex != nil && peer.nsid != nil)
        #expect(alone.cables.isEmpty)
    }

    /// Every lab file in Fixtures/labs.
    static let labNames: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.url("labs").path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }()

    @Test(arguments: labNames) func everyLabReadsBackAsItsFileSays(_ name: String) throws {
        let spec = try Fixtures.lab(name, prefix: "pttq\(ProcessInfo.processInfo.processIdentifier % 100_000)")
        let builder = LabBuilder(spec: spec)
        defer { builder.down() }
        try builder.up()
        let topology = try TopologyProbe().snapshot(namespaces: spec.namespaces.map { .named(spec.netns($0)) })
        #expect(LabTopologyCheck.differences(spec, topology) == [])
        #expect(topology.cables.count == spec.veths.count)
    }

    @Test(.liveNetns) func aVethPairInsideOneNamespace() throws {
        let ns = LiveNetnsTrait.name
        try Live.run(["ip", "link", "add", "pta", "type", "veth", "peer", "name", "ptb"], in: ns)
        try Live.run(["sysctl", "-qw", "net.ipv4.conf.pta.rp_filter=2"], in: ns)
        let topology = try TopologyProbe().snapshot(namespaces: [.named(ns)])
        let pta = try #require(topology.link(netns: ns, ifname: "pta"))
        #expect(pta.peer?.nsid == nil)
        #expect(topology.peer(netns: ns, ifname: "pta")?.ifname == "ptb")
        #expect(topology.peer(netns: ns, ifname: "ptb")?.ifname == "pta")
        #expect(topology.role(netns: ns, ifname: "pta") == "veth ⇄ \(ns):ptb")
        #expect(
            topology.cables.map(\.summary) == ["\(ns):ptb ⇄ \(ns):pta"]
                || topology.cables.map(\.summary) == ["\(ns):pta ⇄ \(ns):ptb"])
        #expect(topology.sysctl(netns: ns, key: "net.ipv4.conf.pta.rp_filter") == "2")
        #expect(topology.sysctl(netns: ns, key: "net.ipv4.conf.ptb.rp_filter") != "2")
    }

    @Test(.liveNetns) func aProcessNamespaceIsFoundThroughItsVethPeer() throws {
        let ns = LiveNetnsTrait.name
        let ownInode = try #require(Self.inode("/proc/self/ns/net"))
        let sleeper = try Live.runner.start(["unshare", "--net", "sleep", "60"], in: .current)
        defer { _ = sleeper.stop(grace: 0.5) }
        let pid = sleeper.pid
        #expect(LiveLab.wait(timeout: 3) { Self.inode("/proc/\(pid)/ns/net").map { $0 != ownInode } ?? false })
        try Live.run([
            "ip", "link", "add", "name", "ptqa", "netns", ns, "type", "veth", "peer", "name", "ptqb", "netns",
            String(pid),
        ])
        let probe = TopologyProbe()
        let target = try ProbeTarget.resolve(.named(ns))
        let topology = try probe.snapshot(targets: [target], followPeers: true)
        let label = "pid \(pid) (sleep)"
        #expect(topology.namespaces.map(\.name) == [ns, label])
        #expect(topology.namespace(label)?.pid == Int(pid))
        #expect(topology.namespace(label)?.inode == Self.inode("/proc/\(pid)/ns/net"))
        #expect(topology.peer(netns: ns, ifname: "ptqa")?.netns == label)
        #expect(topology.peer(netns: label, ifname: "ptqb")?.netns == ns)
        #expect(topology.cables.map(\.summary) == ["\(ns):ptqa ⇄ \(label):ptqb"])
        // pid:N names the same namespace directly.
        let direct = try probe.snapshot(namespaces: [.process(pid)])
        #expect(direct.namespaces.map(\.name) == [label])
    }

    @Test func anUnknownNamespaceIsNamed() throws {
        #expect(throws: LinuxError.noSuchNamespace("ptnonexistent")) {
            try TopologyProbe().snapshot(namespaces: [.named("ptnonexistent")])
        }
    }

    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }
}
