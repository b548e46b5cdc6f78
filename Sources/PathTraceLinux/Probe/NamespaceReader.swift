#if os(Linux)
import CMnl
import Foundation
import Glibc
import PathTraceCore
import SystemPackage

/// Reads one namespace from inside it, on a thread that entered it: links, addresses, routes and policy
/// rules over rtnetlink, the nsids of other namespaces (RTM_GETNSID), and the sysctls under /proc/sys/net.
struct NamespaceReader {
    /// What one namespace's probe found; veth peers still carry only their nsid and ifindex.
    struct Reading: Sendable {
        var links: [TopologyLink]
        var routes: [TopologyRoute]
        var rules: [TopologyRule]
        var sysctls: [String: String]
        /// The nsid each candidate namespace (by inode) has here, for the nsids links refer to.
        var nsids: [Int: UInt64]
    }

    /// Reads the namespace the calling thread is in. `candidates` are the namespaces peers may live in.
    static func read(candidates: [ProbeTarget]) throws -> Reading {
        let socket = try RtnlSocket()
        let links = try readLinks(socket)
        let routes = try readRoutes(socket, links)
        let rules = try readRules(socket)
        var nsids: [Int: UInt64] = [:]
        let wanted = Set(links.compactMap { $0.peer?.nsid })
        if !wanted.isEmpty {
            for candidate in candidates {
                // A namespace the kernel will not name here (gone, or not ours to ask about) has no id.
                if let id = (try? nsid(socket, file: candidate.file)) ?? nil, wanted.contains(id) {
                    nsids[id] = candidate.inode
                }
            }
        }
        return Reading(
            links: links, routes: routes, rules: rules, sysctls: readSysctls(links.map(\.name)), nsids: nsids)
    }

    // MARK: - Links and addresses

    static func readLinks(_ socket: RtnlSocket) throws -> [TopologyLink] {
        let infoSize = MemoryLayout<ifinfomsg>.size
        var links: [TopologyLink] = []
        var masters: [Int: Int] = [:]
        var lowers: [Int: Int] = [:]
        for message in try socket.dump(Int(RTM_GETLINK), family: AF_UNSPEC, headerSize: infoSize) {
            guard message.type == Int(RTM_NEWLINK), let info = message.header(ifinfomsg.self) else { continue }
            let link: TopologyLink? = message.attributes(after: infoSize) { a in
                guard let name = a.string(Int(IFLA_IFNAME)) else { return nil }
                let linkInfo = a.nested(Int(IFLA_LINKINFO))
                let kindName = linkInfo.string(Int(IFLA_INFO_KIND))
                let index = Int(info.ifi_index)
                var link = TopologyLink(
                    ifindex: index, name: name, kind: kind(kindName, type: info.ifi_type, flags: info.ifi_flags),
                    state: state(a.u8(Int(IFLA_OPERSTATE)), flags: info.ifi_flags))
                if let mac = a.bytes(Int(IFLA_ADDRESS)), !mac.isEmpty {
                    link.mac = mac.map { hex2($0) }.joined(separator: ":")
                }
                link.mtu = a.u32(Int(IFLA_MTU)).map(Int.init)
                if let master = a.u32(Int(IFLA_MASTER)), master != 0 { masters[index] = Int(master) }
                let lower = a.u32(Int(IFLA_LINK)).map(Int.init)
                let nsid = a.s32(Int(IFLA_LINK_NETNSID)).map(Int.init)
                if link.kind == "veth" {
                    if let lower, lower != 0 {
                        link.peer = TopologyEnd(netns: nil, ifname: nil, ifindex: lower, nsid: nsid)
                    }
                } else if let lower, lower != 0, lower != index, nsid == nil {
                    lowers[index] = lower
                }
                if link.kind == "vlan" {
                    link.vlanID = linkInfo.nested(Int(IFLA_INFO_DATA)).u16(Int(IFLA_VLAN_ID)).map(Int.init)
                }
                return link
            }
            if let link { links.append(link) }
        }
        let names = Dictionary(links.map { ($0.ifindex, $0.name) }, uniquingKeysWith: { a, _ in a })
        for i in links.indices {
            links[i].master = masters[links[i].ifindex].flatMap { names[$0] }
            links[i].link = lowers[links[i].ifindex].flatMap { names[$0] }
        }
        for i in links.indices where links[i].kind == "bridge" || links[i].kind == "bond" {
            links[i].ports = links.filter { $0.master == links[i].name }.map(\.name)
        }
        let addresses = try readAddresses(socket)
        for i in links.indices { links[i].addresses = addresses[links[i].ifindex] ?? [] }
        return links
    }

    /// The kind: IFLA_INFO_KIND (`tun` split into `tun` and `tap` by the device type), `loopback`, or
    /// `physical` for a device without a kind.
    static func kind(_ infoKind: String?, type: UInt16, flags: UInt32) -> String {
        if let infoKind {
            if infoKind == "tun" { return type == 65534 /* ARPHRD_NONE */ ? "tun" : "tap" }
            return infoKind
        }
        if type == 772 /* ARPHRD_LOOPBACK */ || flags & UInt32(IFF_LOOPBACK) != 0 { return "loopback" }
        return "physical"
    }

    /// RFC 2863's operational state; `up` for an up device whose driver reports none (the loopback).
    static func state(_ operstate: UInt8?, flags: UInt32) -> String {
        if flags & UInt32(IFF_UP) == 0 { return "down" }
        switch operstate ?? 0 {
        case 1: return "notpresent"
        case 2: return "down"
        case 3: return "lowerlayerdown"
        case 4: return "testing"
        case 5: return "dormant"
        case 6: return "up"
        default: return flags & 0x10000 /* IFF_LOWER_UP */ != 0 ? "up" : "unknown"
        }
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }

    /// Addresses by interface index, IPv4 first, each `addr/prefix`.
    static func readAddresses(_ socket: RtnlSocket) throws -> [Int: [String]] {
        let size = MemoryLayout<ifaddrmsg>.size
        var out: [Int: [String]] = [:]
        for family in [AF_INET, AF_INET6] {
            for message in try socket.dump(Int(RTM_GETADDR), family: family, headerSize: size) {
                guard message.type == Int(RTM_NEWADDR), let info = message.header(ifaddrmsg.self) else { continue }
                let address = message.attributes(after: size) { a in
                    a.address(Int(IFA_LOCAL)) ?? a.address(Int(IFA_ADDRESS))
                }
                guard let address else { continue }
                out[Int(info.ifa_index), default: []].append("\(address)/\(info.ifa_prefixlen)")
            }
        }
        return out
    }

    // MARK: - Routes and rules

    static func readRoutes(_ socket: RtnlSocket, _ links: [TopologyLink]) throws -> [TopologyRoute] {
        let size = MemoryLayout<rtmsg>.size
        let names = Dictionary(links.map { ($0.ifindex, $0.name) }, uniquingKeysWith: { a, _ in a })
        var routes: [TopologyRoute] = []
        for family in [AF_INET, AF_INET6] {
            for message in try socket.dump(Int(RTM_GETROUTE), family: family, headerSize: size) {
                guard message.type == Int(RTM_NEWROUTE), let rt = message.header(rtmsg.self) else { continue }
                let route: TopologyRoute? = message.attributes(after: size) { a in
                    let table = a.u32(Int(RTA_TABLE.rawValue)) ?? UInt32(rt.rtm_table)
                    // The local table holds the namespace's own and broadcast addresses: not routes to follow.
                    guard table != 255 else { return nil }
                    let dst: String
                    if rt.rtm_dst_len == 0 {
                        dst = "default"
                    } else if let d = a.address(Int(RTA_DST.rawValue)) {
                        dst = "\(d)/\(rt.rtm_dst_len)"
                    } else {
                        return nil
                    }
                    return TopologyRoute(
                        family: family == AF_INET ? "ipv4" : "ipv6", dst: dst,
                        gateway: a.address(Int(RTA_GATEWAY.rawValue))?.description,
                        dev: a.u32(Int(RTA_OIF.rawValue)).flatMap { names[Int($0)] ?? "ifindex \($0)" },
                        table: tableName(table), type: routeType(rt.rtm_type), scope: scopeName(rt.rtm_scope),
                        prefsrc: a.address(Int(RTA_PREFSRC.rawValue))?.description,
                        metric: a.u32(Int(RTA_PRIORITY.rawValue)).map(Int.init))
                }
                if let route { routes.append(route) }
            }
        }
        return routes
    }

    static func tableName(_ t: UInt32) -> String {
        switch t {
        case 253: return "default"
        case 254: return "main"
        case 255: return "local"
        default: return String(t)
        }
    }

    static func routeType(_ t: UInt8) -> String {
        let names = [
            "unspec", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable",
            "prohibit", "throw", "nat", "xresolve",
        ]
        return Int(t) < names.count ? names[Int(t)] : String(t)
    }

    static func scopeName(_ s: UInt8) -> String {
        switch s {
        case 0: return "universe"
        case 200: return "site"
        case 253: return "link"
        case 254: return "host"
        case 255: return "nowhere"
        default: return String(s)
        }
    }

    /// Every policy rule of both families (the caller keeps them only when some is not a default one).
    static func readRules(_ socket: RtnlSocket) throws -> [TopologyRule] {
        let size = MemoryLayout<fib_rule_hdr>.size
        var rules: [TopologyRule] = []
        for family in [AF_INET, AF_INET6] {
            for message in try socket.dump(Int(RTM_GETRULE), family: family, headerSize: size) {
                guard message.type == Int(RTM_NEWRULE), let h = message.header(fib_rule_hdr.self) else { continue }
                let rule = message.attributes(after: size) { a -> TopologyRule in
                    var selector: [String] = []
                    if h.flags & 2 /* FIB_RULE_INVERT */ != 0 { selector.append("not") }
                    selector.append(
                        "from " + (a.address(Int(FRA_SRC)).map { "\($0)/\(h.src_len)" } ?? "all"))
                    if let dst = a.address(Int(FRA_DST)) { selector.append("to \(dst)/\(h.dst_len)") }
                    if let iif = a.string(Int(FRA_IIFNAME)) { selector.append("iif \(iif)") }
                    if let oif = a.string(Int(FRA_OIFNAME)) { selector.append("oif \(oif)") }
                    if let mark = a.u32(Int(FRA_FWMARK)) {
                        let mask = a.u32(Int(FRA_FWMASK)).map { $0 == .max ? "" : "/0x" + String($0, radix: 16) }
                        selector.append("fwmark 0x" + String(mark, radix: 16) + (mask ?? ""))
                    }
                    let table = a.u32(Int(FRA_TABLE)) ?? UInt32(h.table)
                    let action: String
                    switch h.action {
                    case 1: action = "lookup " + tableName(table)
                    case 2: action = "goto " + (a.u32(Int(FRA_GOTO)).map { String($0) } ?? "?")
                    case 3: action = "nop"
                    case 6: action = "blackhole"
                    case 7: action = "unreachable"
                    case 8: action = "prohibit"
                    default: action = "action \(h.action)"
                    }
                    return TopologyRule(
                        family: family == AF_INET ? "ipv4" : "ipv6",
                        priority: Int(a.u32(Int(FRA_PRIORITY)) ?? 0),
                        selector: selector.joined(separator: " "), action: action)
                }
                rules.append(rule)
            }
        }
        return rules
    }

    // MARK: - Namespace ids

    /// The id the namespace behind `file` has in the calling thread's namespace (RTM_GETNSID with
    /// NETNSA_FD, as plotnetcfg and `ip netns list-id` ask); nil when it has none here.
    static func nsid(_ socket: RtnlSocket, file: String) throws -> Int? {
        guard let fd = try? FileDescriptor.open(FilePath(file), .readOnly, options: .closeOnExec) else { return nil }
        defer { try? fd.close() }
        let size = MemoryLayout<rtgenmsg>.size
        let answer = try socket.request(Int(RTM_GETNSID), family: AF_UNSPEC, headerSize: size) { nlh in
            mnl_attr_put_u32(nlh, UInt16(NETNSA_FD), UInt32(bitPattern: fd.rawValue))
        }
        for message in answer where message.type == Int(RTM_NEWNSID) {
            let id = message.attributes(after: size) { $0.s32(Int(NETNSA_NSID)) }
            if let id, id >= 0 { return Int(id) }
        }
        return nil
    }

    // MARK: - Sysctls

    /// The sysctls that decide a packet's fate, read through /proc/sys from this thread (net sysctls
    /// resolve against the opener's namespace); only keys that exist.
    static func readSysctls(_ interfaces: [String]) -> [String: String] {
        var keys = [
            "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.netfilter.nf_log_all_netns",
        ]
        for dev in ["all", "default"] + interfaces where !dev.contains("/") {
            for key in ["rp_filter", "accept_local", "forwarding"] { keys.append("net.ipv4.conf.\(dev).\(key)") }
        }
        if access("/proc/sys/net/bridge", F_OK) == 0 {
            keys += ["net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"]
        }
        var out: [String: String] = [:]
        for key in keys {
            // Device names may hold dots: only the fixed parts of the key become path separators.
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let path: String
            if parts.count > 4, parts[0] == "net", parts[1] == "ipv4", parts[2] == "conf" {
                path =
                    "/proc/sys/net/ipv4/conf/" + parts[3..<(parts.count - 1)].joined(separator: ".") + "/"
                    + (parts.last ?? "")
            } else {
                path = "/proc/sys/" + parts.joined(separator: "/")
            }
            if let value = readFile(path) { out[key] = value }
        }
        return out
    }

    /// A small file's content without its trailing newline, nil when it cannot be read.
    static func readFile(_ path: String) -> String? {
        guard let fd = try? FileDescriptor.open(FilePath(path), .readOnly, options: .closeOnExec) else { return nil }
        defer { try? fd.close() }
        var buffer = [UInt8](repeating: 0, count: 256)
        guard let n = try? buffer.withUnsafeMutableBytes({ try fd.read(into: $0) }) else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
#endif
