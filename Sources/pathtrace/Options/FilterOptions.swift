import ArgumentParser
import PathTraceCore

/// The FILTER flags shared by live tracing and replay; validated before anything else happens.
struct FilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Protocol: tcp, udp, icmp or icmpv6.", valueName: "proto"))
    var proto: String?

    @Option(help: ArgumentHelp("Source address or network, e.g. 192.168.122.0/24.", valueName: "cidr"))
    var src: String?

    @Option(help: ArgumentHelp("Destination address or network.", valueName: "cidr"))
    var dst: String?

    @Option(help: ArgumentHelp("Source port or range N:M.", valueName: "port"))
    var sport: String?

    @Option(help: ArgumentHelp("Destination port or range N:M, e.g. 3128.", valueName: "port"))
    var dport: String?

    @Option(help: ArgumentHelp("Interface the packet came in or went out on (also bridge ports).", valueName: "if"))
    var iface: String?

    @Flag(name: .customShort("4"), help: "IPv4 only.")
    var ipv4Only = false

    @Flag(name: .customShort("6"), help: "IPv6 only.")
    var ipv6Only = false

    func validate() throws {
        _ = try makeFilter()
    }

    func makeFilter() throws -> WalkFilter {
        var f = WalkFilter()
        if let proto {
            guard ["tcp", "udp", "icmp", "icmpv6"].contains(proto), let n = IPProtocol.number(proto) else {
                throw ValidationError("--proto: expected tcp, udp, icmp or icmpv6, got '\(proto)'")
            }
            f.proto = n
        }
        if let src {
            guard let net = IPNetwork(src) else {
                throw ValidationError("--src: expected an address or CIDR like 192.168.122.0/24, got '\(src)'")
            }
            f.src = net
        }
        if let dst {
            guard let net = IPNetwork(dst) else {
                throw ValidationError("--dst: expected an address or CIDR like 10.0.0.0/8, got '\(dst)'")
            }
            f.dst = net
        }
        if let sport {
            guard let r = PortRange(sport) else {
                throw ValidationError("--sport: expected a port 1-65535 or a range N:M, got '\(sport)'")
            }
            f.sport = r
        }
        if let dport {
            guard let r = PortRange(dport) else {
                throw ValidationError("--dport: expected a port 1-65535 or a range N:M, got '\(dport)'")
            }
            f.dport = r
        }
        if let iface {
            guard InterfaceName.isValid(iface) else {
                throw ValidationError("--iface: expected an interface name (1-15 of A-Z a-z 0-9 . - _ @), got '\(iface)'")
            }
            f.iface = iface
        }
        if ipv4Only && ipv6Only { throw ValidationError("-4 and -6 exclude each other") }
        if ipv4Only { f.ipVersion = 4 }
        if ipv6Only { f.ipVersion = 6 }
        return f
    }
}

/// How walks are printed.
struct OutputOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(help: "Output format: text (a timeline per packet) or json (JSON Lines, one object per walk).")
    var format: Format = .text

    @Flag(help: "No colour, even on a terminal.")
    var noColor = false

    @Flag(help: "Add a line per hook explaining what it is for (for teaching).")
    var explain = false
}
