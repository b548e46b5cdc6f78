/// One network device of a namespace, as rtnetlink describes it.
public struct TopologyLink: Codable, Sendable, Equatable {
    public var ifindex: Int
    public var name: String
    /// `veth` `bridge` `tun` `tap` `loopback` `vlan` `bond` `macvlan` `dummy` `physical` `other`:…
    /// (IFLA_INFO_KIND, or `physical` for a device without one that is not the loopback).
    public var kind: String
    /// The operational state: `up` `down` `lowerlayerdown` `dormant` `unknown` …
    public var state: String
    public var mac: String?
    public var mtu: Int?
    /// The bridge or bond this device is enslaved to (IFLA_MASTER by name).
    public var master: String?
    /// For a veth: the other end, nil when unknown.
    public var peer: TopologyEnd?
    /// For a bridge: its ports, by name.
    public var ports: [String]?
    /// For a vlan: its id.
    public var vlanID: Int?
    /// The lower device (IFLA_LINK) of a vlan/macvlan in the same namespace, by name.
    public var link: String?
    /// Addresses in CIDR form (`192.168.122.1/24`, `fe80::1/64`), IPv4 first, in the kernel's order.
    public var addresses: [String]

    public init(
        ifindex: Int, name: String, kind: String, state: String, mac: String? = nil, mtu: Int? = nil,
        master: String? = nil, peer: TopologyEnd? = nil, ports: [String]? = nil, vlanID: Int? = nil,
        link: String? = nil, addresses: [String] = []
    ) {
        self.ifindex = ifindex
        self.name = name
        self.kind = kind
        self.state = state
        self.mac = mac
        self.mtu = mtu
        self.master = master
        self.peer = peer
        self.ports = ports
        self.vlanID = vlanID
        self.link = link
        self.addresses = addresses
    }

    enum CodingKeys: String, CodingKey {
        case ifindex, name, kind, state, mac, mtu, master, peer, ports
        case vlanID = "vlan_id"
        case link, addresses
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ifindex, forKey: .ifindex)
        try c.encode(name, forKey: .name)
        try c.encode(kind, forKey: .kind)
        try c.encode(state, forKey: .state)
        try c.encode(mac, forKey: .mac)
        try c.encode(mtu, forKey: .mtu)
        try c.encode(master, forKey: .master)
        try c.encode(peer, forKey: .peer)
        try c.encode(ports, forKey: .ports)
        try c.encode(vlanID, forKey: .vlanID)
        try c.encode(link, forKey: .link)
        try c.encode(addresses, forKey: .addresses)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ifindex = try c.decode(Int.self, forKey: .ifindex)
        name = try c.decode(String.self, forKey: .name)
        kind = try c.decode(String.self, forKey: .kind)
        state = try c.decodeIfPresent(String.self, forKey: .state) ?? "unknown"
        mac = try c.decodeIfPresent(String.self, forKey: .mac)
        mtu = try c.decodeIfPresent(Int.self, forKey: .mtu)
        master = try c.decodeIfPresent(String.self, forKey: .master)
        peer = try c.decodeIfPresent(TopologyEnd.self, forKey: .peer)
        ports = try c.decodeIfPresent([String].self, forKey: .ports)
        vlanID = try c.decodeIfPresent(Int.self, forKey: .vlanID)
        link = try c.decodeIfPresent(String.self, forKey: .link)
        addresses = try c.decodeIfPresent([String].self, forKey: .addresses) ?? []
    }
}
