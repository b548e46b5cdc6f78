/// A device a walk used, named with its role in the topology (`virbr0: bridge (ports vnet0)`).
public struct WalkInterface: Sendable, Equatable {
    public var name: String
    /// `bridge (ports vnet0)`, `veth ⇄ ptlv-wan:eth0`, … (see `Topology.role`).
    public var role: String
    /// Its addresses, CIDR form.
    public var addresses: [String]

    public init(name: String, role: String, addresses: [String]) {
        self.name = name
        self.role = role
        self.addresses = addresses
    }
}
