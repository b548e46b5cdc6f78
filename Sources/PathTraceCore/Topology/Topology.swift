import Foundation

/// A snapshot of network namespaces: devices with their roles, addresses, routes, the sysctls that decide
/// a packet's fate and the rulesets in use, and the veth cables between them. Its JSON form
/// (`TopologyFile.encode`) is a contract: keys are only ever added, and `format` grows when a reader
/// must refuse a file.
public struct Topology: Codable, Sendable, Equatable {
    /// The JSON format this build writes and reads up to.
    public static let currentFormat = 1

    public var format: Int
    public var namespaces: [TopologyNamespace]
    /// One per veth pair whose two ends are known.
    public var cables: [TopologyCable]

    public init(format: Int = Topology.currentFormat, namespaces: [TopologyNamespace], cables: [TopologyCable]? = nil) {
        self.format = format
        self.namespaces = namespaces
        self.cables = cables ?? Topology.cables(of: namespaces)
    }

    enum CodingKeys: String, CodingKey {
        case format, namespaces, cables
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(Int.self, forKey: .format)
        namespaces = try c.decode([TopologyNamespace].self, forKey: .namespaces)
        cables = try c.decodeIfPresent([TopologyCable].self, forKey: .cables) ?? Topology.cables(of: namespaces)
    }

    /// Decodes a snapshot; refuses a `format` newer than `currentFormat`.
    public static func decode(_ data: Data, source: String) throws -> Topology {
        struct Header: Decodable { var format: Int? }
        guard let header = try? JSONDecoder().decode(Header.self, from: data) else {
            throw TopologyError.invalid(source: source, why: "not a JSON object")
        }
        guard let format = header.format else { throw TopologyError.invalid(source: source, why: "no \"format\"") }
        if format > currentFormat {
            throw TopologyError.newerFormat(source: source, format: format, known: currentFormat)
        }
        do {
            return try JSONDecoder().decode(Topology.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw TopologyError.invalid(source: source, why: "missing \"\(key.stringValue)\"")
        } catch {
            throw TopologyError.invalid(source: source, why: "not a topology snapshot")
        }
    }

    /// One cable per veth pair whose ends are both resolved, in the order the first end appears.
    public static func cables(of namespaces: [TopologyNamespace]) -> [TopologyCable] {
        var seen = Set<TopologyEnd>()
        var cables: [TopologyCable] = []
        for ns in namespaces {
            for link in ns.links where link.kind == "veth" {
                guard let peer = link.peer, let peerNS = peer.netns, let peerName = peer.ifname else { continue }
                let a = TopologyEnd(netns: ns.name, ifname: link.name)
                let b = TopologyEnd(netns: peerNS, ifname: peerName)
                if seen.contains(a) || seen.contains(b) { continue }
                seen.insert(a)
                seen.insert(b)
                cables.append(TopologyCable(a: a, b: b))
            }
        }
        return cables
    }

    // MARK: - Lookups the timeline uses

    /// The namespace labelled `netns`.
    public func namespace(_ netns: String) -> TopologyNamespace? { namespaces.first { $0.name == netns } }

    /// The device `ifname` in `netns`.
    public func link(netns: String, ifname: String) -> TopologyLink? { namespace(netns)?.link(ifname) }

    /// What a device is, in a few words: `bridge (ports vnet0)`, `veth ⇄ ptlv-wan:eth0`,
    /// `port of virbr0, veth ⇄ ptlv-vm:eth0`, `loopback`, `tun`, `vlan 10 on eth0`; nil for an unknown device.
    public func role(netns: String, ifname: String) -> String? {
        guard let link = link(netns: netns, ifname: ifname) else { return nil }
        var role: String
        switch link.kind {
        case "veth":
            if let peer = link.peer {
                role = "veth ⇄ \(peer.label)"
            } else {
                role = "veth (peer unknown)"
            }
        case "bridge", "bond":
            let ports = link.ports ?? []
            role = ports.isEmpty ? "\(link.kind) (no ports)" : "\(link.kind) (ports \(ports.joined(separator: " ")))"
        case "vlan":
            role = "vlan" + (link.vlanID.map { " \($0)" } ?? "") + (link.link.map { " on \($0)" } ?? "")
        default:
            role = link.kind
        }
        if let master = link.master { role = "port of \(master), " + role }
        return role
    }

    /// The addresses of `ifname` in `netns` (CIDR form), empty for an unknown device.
    public func addresses(netns: String, ifname: String) -> [String] {
        link(netns: netns, ifname: ifname)?.addresses ?? []
    }

    /// A sysctl's value in `netns` (`net.ipv4.ip_forward`, `net.ipv4.conf.eth0.rp_filter`), nil when not read.
    public func sysctl(netns: String, key: String) -> String? { namespace(netns)?.sysctls[key] }

    /// The other end of a veth, when it was resolved to a probed namespace.
    public func peer(netns: String, ifname: String) -> (netns: String, ifname: String)? {
        guard let peer = link(netns: netns, ifname: ifname)?.peer, let ns = peer.netns, let name = peer.ifname
        else { return nil }
        return (ns, name)
    }

    /// The main table's route to `address` in `netns` by longest prefix match (lowest metric among
    /// equals), nil when there is none ("no route").
    public func route(netns: String, to address: IPAddress) -> TopologyRoute? {
        guard let ns = namespace(netns) else { return nil }
        let family = address.isV6 ? "ipv6" : "ipv4"
        var best: (route: TopologyRoute, prefix: Int, metric: Int)?
        for route in ns.routes where route.family == family && route.table == "main" {
            guard let network = route.network, network.contains(address) else { continue }
            let metric = route.metric ?? 0
            if let b = best, b.prefix > network.prefix || (b.prefix == network.prefix && b.metric <= metric) {
                continue
            }
            best = (route, network.prefix, metric)
        }
        return best?.route
    }
}
