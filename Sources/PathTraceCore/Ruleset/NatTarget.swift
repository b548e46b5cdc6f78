/// What a NAT rule rewrites to, as far as its text tells.
public struct NatTarget: Sendable, Hashable, CustomStringConvertible {
    /// DNAT, SNAT, MASQUERADE or REDIRECT.
    public var type: NatType
    /// The first (or only) address of the `to` range; nil when the rule gives none.
    public var toAddress: IPAddress?
    /// The last address of an address range (`1.2.3.4-1.2.3.9`); nil for a single address.
    public var toAddressLast: IPAddress?
    /// The port range (`:8765`, `--to-ports 1024-65535`, `masq ports: 1024-65535`); nil when ports are kept.
    public var toPortRange: ClosedRange<UInt16>?
    /// Whether ports are randomised (`--random`, `random`, `fully-random`), so the new port is unknown.
    public var randomPorts: Bool
    /// Whether the destination comes from a map, hash or prefix the text cannot resolve (`dnat to tcp dport map @m`).
    public var isDynamic: Bool

    /// Creates a NAT target.
    public init(
        type: NatType, toAddress: IPAddress? = nil, toAddressLast: IPAddress? = nil,
        toPortRange: ClosedRange<UInt16>? = nil, randomPorts: Bool = false, isDynamic: Bool = false
    ) {
        self.type = type
        self.toAddress = toAddress
        self.toAddressLast = toAddressLast
        self.toPortRange = toPortRange
        self.randomPorts = randomPorts
        self.isDynamic = isDynamic
    }

    /// Whether the rewrite applies to the source (SNAT, MASQUERADE) rather than the destination.
    public var rewritesSource: Bool { type == .snat || type == .masquerade }

    /// The address:port a packet gets when this target rewrites `address`/`port` (the field the target
    /// changes), or nil when the text does not fix the address: an address range, a map, MASQUERADE or
    /// REDIRECT without `interfaceAddress` (the address of the interface MASQUERADE/REDIRECT would pick,
    /// from the topology). The port is kept unless the rule gives a single port or randomises it;
    /// a port outside a port range becomes nil (unknown).
    public func after(original address: IPAddress, port: UInt16?, interfaceAddress: IPAddress? = nil)
        -> (address: IPAddress, port: UInt16?)?
    {
        if isDynamic { return nil }
        let newAddress: IPAddress
        switch type {
        case .dnat, .snat:
            if let first = toAddress {
                if let last = toAddressLast, last != first { return nil }
                newAddress = first
            } else {
                newAddress = address
            }
        case .masquerade, .redirect:
            guard let interfaceAddress else { return nil }
            newAddress = interfaceAddress
        }
        if newAddress.isV6 != address.isV6 { return nil }
        var newPort = port
        if let range = toPortRange {
            if range.lowerBound == range.upperBound {
                newPort = range.lowerBound
            } else if let p = port, range.contains(p), !randomPorts {
                newPort = p
            } else {
                newPort = nil
            }
        } else if randomPorts {
            newPort = nil
        }
        return (newAddress, newPort)
    }

    /// `DNAT to 10.5.0.11:8765`, `MASQUERADE`, `REDIRECT to :3128`, ...
    public var description: String {
        var s = type.rawValue.uppercased()
        if isDynamic { return s + " to (map)" }
        var to = ""
        if let a = toAddress {
            let first = a.isV6 && toPortRange != nil ? "[\(a)]" : "\(a)"
            to = first
            if let last = toAddressLast {
                to += "-" + (last.isV6 && toPortRange != nil ? "[\(last)]" : "\(last)")
            }
        }
        if let r = toPortRange {
            to += r.lowerBound == r.upperBound ? ":\(r.lowerBound)" : ":\(r.lowerBound)-\(r.upperBound)"
        }
        if !to.isEmpty { s += " to " + to }
        if randomPorts { s += " random" }
        return s
    }
}

// MARK: - Reading NAT targets from rule text

extension RulesetParser {
    /// The NAT target of a rule printed in any supported syntax: save syntax (`-j DNAT --to-destination
    /// 10.42.54.194:9898`, as `xtables-monitor` prints it), an `iptables -L` line (`DNAT tcp -- … to:10.5.0.11:8765`,
    /// `MASQUERADE … masq ports: 1024-65535`, `REDIRECT … redir ports 3128`) or an nft statement
    /// (`dnat to 172.29.0.5:873`, `dnat ip6 to [fd00::2]:80`, `masquerade`, `redirect to :3128`).
    public static func natTarget(fromRuleText text: String) -> NatTarget? {
        let tokens = NatText.tokens(text)
        if let nat = NatText.fromSaveSyntax(tokens) { return nat }
        if tokens.contains(where: { $0 == "-j" || $0 == "--jump" || $0 == "-g" || $0 == "--goto" }) { return nil }
        // A listing line: the target is the first word after the num/counter columns.
        if let first = tokens.first(where: { !NatText.isCounter($0) }),
            let type = NatText.natType(iptablesTarget: first)
        {
            let rest = tokens.drop(while: { $0 != first }).dropFirst()
            return NatText.fromListingOptions(type: type, Array(rest))
        }
        return NatText.fromNft(tokens)
    }
}

/// The NAT-target readers shared by the three syntaxes.
enum NatText {
    /// Splits on blanks, keeping a double-quoted string (with its quotes) as one token.
    static func tokens(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quote = QuotedRun()
        for ch in text {
            if quote.take(ch) {
                current.append(ch)
            } else if ch == " " || ch == "\t" || ch == "\r" || ch == "\n" {
                if !current.isEmpty {
                    out.append(current)
                    current = ""
                }
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// A listing's num or counter column (`12`, `89M`, `5338K`).
    static func isCounter(_ s: String) -> Bool {
        guard let f = s.first, f.isASCII, f.isNumber else { return false }
        var sawSuffix = false
        for c in s {
            if sawSuffix { return false }
            if c.isASCII && c.isNumber { continue }
            if "KMGTPE".contains(c) {
                sawSuffix = true
                continue
            }
            return false
        }
        return true
    }

    static func natType(iptablesTarget t: String) -> NatType? {
        switch t {
        case "DNAT": return .dnat
        case "SNAT": return .snat
        case "MASQUERADE": return .masquerade
        case "REDIRECT": return .redirect
        default: return nil
        }
    }

    /// `-j DNAT --to-destination X`, `-j MASQUERADE --to-ports P`, `-j REDIRECT --to-ports P`, `--random`.
    static func fromSaveSyntax(_ tokens: [String]) -> NatTarget? {
        guard let j = tokens.firstIndex(where: { $0 == "-j" || $0 == "--jump" }), j + 1 < tokens.count,
            let type = natType(iptablesTarget: tokens[j + 1])
        else { return nil }
        return fromSaveOptions(type: type, tokens[(j + 2)...])
    }

    /// The options after `-j TARGET`.
    static func fromSaveOptions(type: NatType, _ options: ArraySlice<String>) -> NatTarget {
        var nat = NatTarget(type: type)
        var i = options.startIndex
        var sawTo = false
        while i < options.endIndex {
            let opt = options[i]
            if opt.hasPrefix("--to") && i + 1 < options.endIndex {
                let value = options[i + 1]
                if !sawTo {
                    if type == .masquerade || type == .redirect {
                        nat.toPortRange = portRange(value)
                    } else {
                        apply(value, to: &nat)
                    }
                    sawTo = true
                }
                i += 2
                continue
            }
            if opt == "--random" || opt == "--random-fully" { nat.randomPorts = true }
            if opt.hasPrefix("-") && !opt.hasPrefix("--") && opt.count == 2 { break }  // next -m/-j: done
            i += 1
        }
        return nat
    }

    /// `to:ADDR[:PORTS]` (DNAT/SNAT), `masq ports: P` (MASQUERADE), `redir ports P` (REDIRECT), `random`.
    static func fromListingOptions(type: NatType, _ options: [String]) -> NatTarget {
        var nat = NatTarget(type: type)
        var sawTo = false
        for (i, tok) in options.enumerated() {
            switch tok {
            case "random", "random-fully":
                nat.randomPorts = true
            case "ports:", "ports":
                if (type == .masquerade || type == .redirect) && i > 0
                    && (options[i - 1] == "masq" || options[i - 1] == "redir") && i + 1 < options.count
                {
                    nat.toPortRange = portRange(options[i + 1])
                }
            default:
                if tok.hasPrefix("to:") && !sawTo && (type == .dnat || type == .snat) {
                    apply(String(tok.dropFirst(3)), to: &nat)
                    sawTo = true
                }
            }
        }
        return nat
    }

    /// nft `dnat [ip|ip6] to X`, `snat to X`, `masquerade [to :P]`, `redirect [to :P]`, with flags.
    static func fromNft(_ tokens: [String]) -> NatTarget? {
        var depth = 0
        for (i, tok) in tokens.enumerated() {
            if tok == "{" { depth += 1 }
            if tok == "}" { depth -= 1 }
            if depth != 0 { continue }
            guard let type = natType(nftStatement: tok), isStatement(tokens, i) else { continue }
            return fromNftArguments(type: type, tokens[(i + 1)...])
        }
        return nil
    }

    static func natType(nftStatement t: String) -> NatType? {
        switch t {
        case "dnat": return .dnat
        case "snat": return .snat
        case "masquerade": return .masquerade
        case "redirect": return .redirect
        default: return nil
        }
    }

    /// Excludes `ct status dnat`, `ct status snat,dnat` and the like, where the word is a value.
    static func isStatement(_ tokens: [String], _ i: Int) -> Bool {
        guard i > 0 else { return true }
        let prev = tokens[i - 1]
        return !(prev == "status" || prev == "state" || prev == "!=" || prev == "==" || prev.hasSuffix(","))
            && !tokens[i].contains(",")
    }

    static func fromNftArguments(type: NatType, _ args: ArraySlice<String>) -> NatTarget {
        var nat = NatTarget(type: type)
        var i = args.startIndex
        if i < args.endIndex && (args[i] == "ip" || args[i] == "ip6") { i += 1 }
        if i < args.endIndex && args[i] == "prefix" {
            nat.isDynamic = true
            i += 1
        }
        if i < args.endIndex && args[i] == "to" && i + 1 < args.endIndex {
            let value = args[i + 1]
            i += 2
            if type == .masquerade || type == .redirect {
                let ports = value.hasPrefix(":") ? String(value.dropFirst()) : value
                if let r = portRange(ports) { nat.toPortRange = r } else { nat.isDynamic = true }
            } else if !apply(value, to: &nat) {
                nat.isDynamic = true
            } else if i < args.endIndex && args[i] == "map" {
                nat.isDynamic = true
            }
        }
        while i < args.endIndex {
            switch args[i] {
            case "random", "fully-random": nat.randomPorts = true
            case "map", "numgen", "jhash", "symhash": nat.isDynamic = true
            default: break
            }
            i += 1
        }
        return nat
    }

    /// Parses `1.2.3.4`, `1.2.3.4:80`, `1.2.3.4-1.2.3.9:1000-2000`, `[fd00::2]:80`, `fd00::3`, `:3128` into
    /// `nat`; false when the value is not an address expression.
    @discardableResult
    static func apply(_ value: String, to nat: inout NatTarget) -> Bool {
        var v = Substring(value)
        var addressPart: Substring = ""
        var portPart: Substring? = nil
        if v.first == "[" {
            // [v6] or [v6]-[v6] or [v6-v6], then optional :ports
            guard let close = v.lastIndex(of: "]") else { return false }
            addressPart = v[...close].filter { $0 != "[" && $0 != "]" }[...]
            v = v[v.index(after: close)...]
            if v.first == ":" { portPart = v.dropFirst() } else if !v.isEmpty { return false }
        } else if v.first == ":" {
            portPart = v.dropFirst()
        } else {
            let colons = v.filter { $0 == ":" }.count
            if colons == 1, let c = v.firstIndex(of: ":") {
                addressPart = v[..<c]
                portPart = v[v.index(after: c)...]
            } else {
                addressPart = v  // IPv4 without port, or bare IPv6
            }
        }
        if !addressPart.isEmpty {
            let parts = addressPart.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let first = IPAddress(String(parts[0])) else { return false }
            nat.toAddress = first
            if parts.count == 2 {
                guard let last = IPAddress(String(parts[1])) else { return false }
                if last != first { nat.toAddressLast = last }
            }
        }
        if let portPart {
            guard let r = portRange(String(portPart)) else { return false }
            nat.toPortRange = r
        }
        return true
    }

    /// `3128`, `1024-65535`, `5000:5010`.
    static func portRange(_ s: String) -> ClosedRange<UInt16>? {
        let parts = s.split(whereSeparator: { $0 == "-" || $0 == ":" }).map(String.init)
        guard parts.count == 1 || parts.count == 2, let lo = UInt16(parts[0]) else { return nil }
        let hi = parts.count == 2 ? UInt16(parts[1]) : lo
        guard let hi, hi >= lo else { return nil }
        return lo...hi
    }
}
