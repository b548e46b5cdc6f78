/// The symbolic constants `nft` prints in packet dumps (its datatype symbol tables), as numbers.
enum NftSymbols {
    /// `icmp type` (nftables `icmp_type_tbl`).
    static func icmpType(_ name: String) -> UInt8? {
        switch name {
        case "echo-reply": return 0
        case "destination-unreachable": return 3
        case "source-quench": return 4
        case "redirect": return 5
        case "echo-request": return 8
        case "router-advertisement": return 9
        case "router-solicitation": return 10
        case "time-exceeded": return 11
        case "parameter-problem": return 12
        case "timestamp-request": return 13
        case "timestamp-reply": return 14
        case "info-request": return 15
        case "info-reply": return 16
        case "address-mask-request": return 17
        case "address-mask-reply": return 18
        default: return number(name)
        }
    }

    /// `icmp code` (`icmp_code_tbl`). nft prints `net-unreachable` for code 0 of any type, echo included.
    static func icmpCode(_ name: String) -> UInt8? {
        switch name {
        case "net-unreachable": return 0
        case "host-unreachable": return 1
        case "prot-unreachable": return 2
        case "port-unreachable": return 3
        case "frag-needed": return 4
        case "net-prohibited": return 9
        case "host-prohibited": return 10
        case "admin-prohibited": return 13
        default: return number(name)
        }
    }

    /// `icmpv6 type` (`icmp6_type_tbl`).
    static func icmpv6Type(_ name: String) -> UInt8? {
        switch name {
        case "destination-unreachable": return 1
        case "packet-too-big": return 2
        case "time-exceeded": return 3
        case "parameter-problem": return 4
        case "echo-request": return 128
        case "echo-reply": return 129
        case "mld-listener-query": return 130
        case "mld-listener-report": return 131
        case "mld-listener-done", "mld-listener-reduction": return 132
        case "nd-router-solicit": return 133
        case "nd-router-advert": return 134
        case "nd-neighbor-solicit": return 135
        case "nd-neighbor-advert": return 136
        case "nd-redirect": return 137
        case "router-renumbering": return 138
        case "ind-neighbor-solicit": return 141
        case "ind-neighbor-advert": return 142
        case "mld2-listener-report": return 143
        default: return number(name)
        }
    }

    /// `icmpv6 code` (`icmpv6_code_tbl`). nft prints `no-route` for code 0 of any type, echo included.
    static func icmpv6Code(_ name: String) -> UInt8? {
        switch name {
        case "no-route": return 0
        case "admin-prohibited": return 1
        case "addr-unreachable": return 3
        case "port-unreachable": return 4
        case "policy-fail": return 5
        case "reject-route": return 6
        default: return number(name)
        }
    }

    /// `ip dscp` / `ip6 dscp` (`dscp_type_tbl`), as the 6-bit code point.
    static func dscp(_ name: String) -> UInt8? {
        switch name {
        case "cs0": return 0
        case "cs1": return 8
        case "cs2": return 16
        case "cs3": return 24
        case "cs4": return 32
        case "cs5": return 40
        case "cs6": return 48
        case "cs7": return 56
        case "af11": return 10
        case "af12": return 12
        case "af13": return 14
        case "af21": return 18
        case "af22": return 20
        case "af23": return 22
        case "af31": return 26
        case "af32": return 28
        case "af33": return 30
        case "af41": return 34
        case "af42": return 36
        case "af43": return 38
        case "va": return 44
        case "ef": return 46
        case "le", "lephb": return 1
        default: return number(name).flatMap { $0 < 64 ? $0 : nil }
        }
    }

    /// `ip ecn` / `ip6 ecn` (`ecn_type_tbl`).
    static func ecn(_ name: String) -> UInt8? {
        switch name {
        case "not-ect": return 0
        case "ect1": return 1
        case "ect0": return 2
        case "ce": return 3
        default: return number(name).flatMap { $0 < 4 ? $0 : nil }
        }
    }

    /// `ether type` (`ethertype_tbl`) and numeric forms.
    static func etherType(_ name: String) -> UInt16? {
        switch name {
        case "ip": return 0x0800
        case "arp": return 0x0806
        case "ip6": return 0x86dd
        case "vlan", "8021q": return 0x8100
        case "8021ad": return 0x88a8
        default:
            if name.hasPrefix("0x") { return UInt16(name.dropFirst(2), radix: 16) }
            return UInt16(name)
        }
    }

    /// A `tcp flags` value: `syn`, `syn | ack`, `syn,ack`, `0x12`.
    static func tcpFlags(_ text: String) -> TCPFlags? {
        var flags: TCPFlags = []
        var any = false
        for part in text.split(whereSeparator: { $0 == " " || $0 == "|" || $0 == "," }) {
            switch part {
            case "fin": flags.insert(.fin)
            case "syn": flags.insert(.syn)
            case "rst": flags.insert(.rst)
            case "psh": flags.insert(.psh)
            case "ack": flags.insert(.ack)
            case "urg": flags.insert(.urg)
            case "ecn", "ece": flags.insert(.ece)
            case "cwr": flags.insert(.cwr)
            case "ae": flags.insert(.ae)
            default:
                guard part.hasPrefix("0x"), let v = UInt16(part.dropFirst(2), radix: 16) else { return nil }
                flags.formUnion(TCPFlags(rawValue: v))
            }
            any = true
        }
        return any ? flags : nil
    }

    /// A decimal or `0x` hexadecimal byte value.
    static func number(_ text: String) -> UInt8? {
        if text.hasPrefix("0x") { return UInt8(text.dropFirst(2), radix: 16) }
        return UInt8(text)
    }
}
