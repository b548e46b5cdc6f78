/// The FILTER flags of DESIGN.md, validated; selects walks in replay and builds trace rules live.
public struct WalkFilter: Sendable, Equatable {
    public var proto: UInt8?
    public var src: IPNetwork?
    public var dst: IPNetwork?
    public var sport: PortRange?
    public var dport: PortRange?
    public var iface: String?
    /// 4 or 6 when `-4`/`-6` was given.
    public var ipVersion: Int?

    public init() {}

    public var isEmpty: Bool { self == WalkFilter() }

    /// The same flow seen from its other end (source and destination swapped), to select replies.
    public var reversed: WalkFilter {
        var r = self
        (r.src, r.dst) = (dst, src)
        (r.sport, r.dport) = (dport, sport)
        return r
    }

    /// One filter that lets through everything any of `filters` does (and maybe more): each criterion is
    /// kept only where all of them agree. Several flows traced in one namespace share its trace rules.
    public static func loosest(_ filters: [WalkFilter]) -> WalkFilter {
        guard var out = filters.first else { return WalkFilter() }
        for f in filters.dropFirst() {
            if out.proto != f.proto { out.proto = nil }
            if out.src != f.src { out.src = nil }
            if out.dst != f.dst { out.dst = nil }
            if out.sport != f.sport { out.sport = nil }
            if out.dport != f.dport { out.dport = nil }
            if out.iface != f.iface { out.iface = nil }
            if out.ipVersion != f.ipVersion { out.ipVersion = nil }
        }
        return out
    }

    /// Whether any step of the walk shows a packet that matches every given criterion.
    public func matches(_ walk: PacketWalk) -> Bool {
        if isEmpty { return true }
        if let v = ipVersion, walk.family != (v == 4 ? .ipv4 : .ipv6) { return false }
        if let iface {
            let hit = walk.steps.contains { s in
                [s.event.inIface, s.event.outIface, s.event.physIn, s.event.physOut].contains { $0 == iface }
            }
            if !hit { return false }
        }
        let headers = walk.steps.compactMap(\.event.header)
        if headers.isEmpty { return proto == nil && src == nil && dst == nil && sport == nil && dport == nil }
        return headers.contains { h in
            if let proto, h.proto != proto { return false }
            if let src, !(h.src.map(src.contains) ?? false) { return false }
            if let dst, !(h.dst.map(dst.contains) ?? false) { return false }
            if let sport, !(h.sport.map(sport.contains) ?? false) { return false }
            if let dport, !(h.dport.map(dport.contains) ?? false) { return false }
            return true
        }
    }
}

/// `N` or `N:M`, 1–65535.
public struct PortRange: Sendable, Equatable, CustomStringConvertible {
    public let lower: UInt16
    public let upper: UInt16

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        func port(_ s: Substring) -> UInt16? {
            guard !s.isEmpty, s.count <= 5, s.allSatisfy({ $0.isASCII && $0.isNumber }), let v = UInt16(s), v > 0
            else { return nil }
            return v
        }
        guard let lo = port(parts[0]) else { return nil }
        let hi = parts.count == 2 ? port(parts[1]) : lo
        guard let hi, lo <= hi else { return nil }
        lower = lo
        upper = hi
    }

    public func contains(_ p: UInt16) -> Bool { p >= lower && p <= upper }

    public var description: String { lower == upper ? "\(lower)" : "\(lower):\(upper)" }
}

/// Interface names as the kernel accepts them: 1–15 bytes, no slash, colon, space or control character.
public enum InterfaceName {
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 15, name != ".", name != ".." else { return false }
        return bytes.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") }
            && bytes.allSatisfy { b in
                (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 45 || b == 95 || b == 46
                    || b == 64
            }
    }
}
