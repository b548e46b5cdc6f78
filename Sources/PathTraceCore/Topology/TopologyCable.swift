/// A veth pair between two devices, named once whichever end was seen first.
public struct TopologyCable: Codable, Sendable, Equatable {
    /// `veth`.
    public var kind: String
    public var a: TopologyEnd
    public var b: TopologyEnd

    public init(kind: String = "veth", a: TopologyEnd, b: TopologyEnd) {
        self.kind = kind
        self.a = a
        self.b = b
    }

    /// `ptlv-vm:eth0 ⇄ ptlv-host:vnet0`.
    public var summary: String { "\(a.label) ⇄ \(b.label)" }
}
