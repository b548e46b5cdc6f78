import PathTraceCore

/// A hand-built snapshot of the libvirt-nat lab (namespaces `<prefix>-vm`, `-host`, `-wan`), as the probe
/// reports it, for tests that need a topology without root.
public enum SampleTopology {
    public static func libvirtNat(prefix: String = "ptlv") -> Topology {
        let vm = "\(prefix)-vm"
        let host = "\(prefix)-host"
        let wan = "\(prefix)-wan"
        func lo() -> TopologyLink {
            TopologyLink(
                ifindex: 1, name: "lo", kind: "loopback", state: "up", mac: "00:00:00:00:00:00", mtu: 65536,
                addresses: ["127.0.0.1/8", "::1/128"])
        }
        let vmNS = TopologyNamespace(
            name: vm, inode: 4_026_532_177,
            links: [
                lo(),
                TopologyLink(
                    ifindex: 2, name: "eth0", kind: "veth", state: "up", mac: "52:54:00:a4:5e:56", mtu: 1500,
                    peer: TopologyEnd(netns: host, ifname: "vnet0", ifindex: 2, nsid: 0),
                    addresses: ["192.168.122.17/24", "fe80::5054:ff:fea4:5e56/64"]),
            ],
            routes: [
                TopologyRoute(family: "ipv4", dst: "default", gateway: "192.168.122.1", dev: "eth0"),
                TopologyRoute(
                    family: "ipv4", dst: "192.168.122.0/24", dev: "eth0", type: "unicast", scope: "link",
                    prefsrc: "192.168.122.17"),
                TopologyRoute(family: "ipv6", dst: "fe80::/64", dev: "eth0", metric: 256),
            ],
            sysctls: ["net.ipv4.ip_forward": "0", "net.ipv4.conf.eth0.rp_filter": "0"])
        let hostNS = TopologyNamespace(
            name: host, inode: 4_026_532_246,
            links: [
                lo(),
                TopologyLink(
                    ifindex: 2, name: "vnet0", kind: "veth", state: "up", mac: "fe:54:00:a4:5e:56", mtu: 1500,
                    master: "virbr0", peer: TopologyEnd(netns: vm, ifname: "eth0", ifindex: 2, nsid: 0)),
                TopologyLink(
                    ifindex: 3, name: "bond0", kind: "veth", state: "up", mac: "02:00:0a:2c:00:01", mtu: 1500,
                    peer: TopologyEnd(netns: wan, ifname: "eth0", ifindex: 2, nsid: 1), addresses: ["10.44.0.1/24"]),
                TopologyLink(
                    ifindex: 4, name: "virbr0", kind: "bridge", state: "up", mac: "52:54:00:da:ec:4f", mtu: 1500,
                    ports: ["vnet0"], addresses: ["192.168.122.1/24"]),
            ],
            routes: [
                TopologyRoute(family: "ipv4", dst: "default", gateway: "10.44.0.254", dev: "bond0"),
                TopologyRoute(
                    family: "ipv4", dst: "10.44.0.0/24", dev: "bond0", scope: "link", prefsrc: "10.44.0.1"),
                TopologyRoute(
                    family: "ipv4", dst: "192.168.122.0/24", dev: "virbr0", scope: "link", prefsrc: "192.168.122.1"),
            ],
            sysctls: [
                "net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.virbr0.rp_filter": "2",
                "net.bridge.bridge-nf-call-iptables": "0",
            ],
            rulesets: [
                TopologyRuleset(
                    backend: "iptables-legacy", family: "ipv4",
                    text: "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -s 192.168.122.0/24 -j MASQUERADE\nCOMMIT\n")
            ])
        let wanNS = TopologyNamespace(
            name: wan, inode: 4_026_532_315,
            links: [
                lo(),
                TopologyLink(
                    ifindex: 2, name: "eth0", kind: "veth", state: "up", mac: "02:00:0a:2c:00:fe", mtu: 1500,
                    peer: TopologyEnd(netns: host, ifname: "bond0", ifindex: 3, nsid: 0),
                    addresses: ["10.44.0.254/24", "10.44.32.217/24"]),
            ],
            routes: [
                TopologyRoute(family: "ipv4", dst: "10.44.0.0/24", dev: "eth0", scope: "link"),
                TopologyRoute(family: "ipv4", dst: "10.44.32.0/24", dev: "eth0", scope: "link"),
            ],
            sysctls: ["net.ipv4.ip_forward": "0"])
        return Topology(namespaces: [vmNS, hostNS, wanNS])
    }
}
