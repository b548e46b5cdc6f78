/// One policy routing rule (`ip rule`), kept only when a namespace has more than the default rules.
public struct TopologyRule: Codable, Sendable, Equatable {
    /// `ipv4` or `ipv6`.
    public var family: String
    public var priority: Int
    /// What it matches, as `ip rule` prints it: `from all`, `from 10.0.0.0/8 iif eth0 fwmark 0x1`.
    public var selector: String
    /// `lookup main`, `blackhole`, `unreachable`, `prohibit`, `goto 100`, `nop`.
    public var action: String

    public init(family: String, priority: Int, selector: String, action: String) {
        self.family = family
        self.priority = priority
        self.selector = selector
        self.action = action
    }

    /// Whether this is one of the kernel's default rules (0 local, 32766 main, 32767 default).
    public var isDefault: Bool {
        guard selector == "from all" else { return false }
        switch (priority, action) {
        case (0, "lookup local"), (32766, "lookup main"), (32767, "lookup default"): return true
        default: return false
        }
    }
}
