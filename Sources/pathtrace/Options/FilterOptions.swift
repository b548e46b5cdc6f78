import ArgumentParser
import PathTraceCore
import PathTraceRender

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
        f.proto = try Self.check(proto, "--proto", "tcp, udp, icmp or icmpv6") { p in
            ["tcp", "udp", "icmp", "icmpv6"].contains(p) ? IPProtocol.number(p) : nil
        }
        f.src = try Self.check(src, "--src", "an address or CIDR like 192.168.122.0/24", IPNetwork.init)
        f.dst = try Self.check(dst, "--dst", "an address or CIDR like 10.0.0.0/8", IPNetwork.init)
        f.sport = try Self.check(sport, "--sport", "a port 1-65535 or a range N:M", PortRange.init)
        f.dport = try Self.check(dport, "--dport", "a port 1-65535 or a range N:M", PortRange.init)
        f.iface = try Self.check(iface, "--iface", "an interface name (1-15 of A-Z a-z 0-9 . - _ @)") { name in
            InterfaceName.isValid(name) ? name : nil
        }
        if ipv4Only && ipv6Only { throw ValidationError("-4 and -6 exclude each other") }
        if ipv4Only { f.ipVersion = 4 }
        if ipv6Only { f.ipVersion = 6 }
        return f
    }

    /// Converts a flag's value, or fails naming the flag and what it expected.
    static func check<T>(_ value: String?, _ flag: String, _ expected: String, _ convert: (String) -> T?) throws -> T? {
        guard let value else { return nil }
        guard let converted = convert(value) else {
            throw ValidationError("\(flag): expected \(expected), got '\(value)'")
        }
        return converted
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

    @Flag(
        help: ArgumentHelp(
            "Add a sentence under each step: why the packet is at this hook, what the table is for, what the "
                + "rule or policy did, and conntrack's part (JSON: an `explain` string per step)."))
    var explain = false

    @Flag(
        help: ArgumentHelp(
            "Draw each walk on the netfilter flow diagram under its timeline, as `pathtrace flow --trace` does "
                + "(text only)."))
    var showFlow = false

    @Flag(help: "With --show-flow: plain ASCII instead of box-drawing characters.")
    var ascii = false

    func validate() throws {
        if showFlow && format == .json { throw ValidationError("--show-flow: draws text; not with --format json") }
        if ascii && !showFlow { throw ValidationError("--ascii: needs --show-flow") }
    }

    @Flag(help: "Show every step, also those of pathtrace's own nft table (folded into one 'traced from' line).")
    var verbose = false

    @Option(
        help: ArgumentHelp(
            "Also write each walk as one packet to a pcapng FILE for Wireshark or tshark: the bytes the kernel "
                + "handed over (nflog, nft backends) or a packet rebuilt from the logged headers, timed at the walk's "
                + "first step, the walk in one line as the packet comment (tshark -e frame.comment).",
            valueName: "file"))
    var pcap: String?

    /// The `--pcap` file, opened now so a path that cannot be written fails before anything starts.
    func pcapFile(namespace: String, flushEachWalk: Bool) throws -> PcapFile? {
        try pcap.map { try PcapFile(path: $0, namespace: namespace, flushEachWalk: flushEachWalk) }
    }

    /// The renderer's options for output to `out`.
    func renderOptions(_ out: FileOutput) -> RenderOptions {
        RenderOptions(
            color: out.isTerminal && !noColor, explain: explain, verbose: verbose, showFlow: showFlow, ascii: ascii)
    }
}

extension OutputOptions {
    var walkFormat: WalkPrinter.Format { format == .json ? .json : .text }
}
