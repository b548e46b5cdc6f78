import PathTraceCore

/// Writes walks into a pcapng file as they arrive: one packet per walk, the packet as it entered the
/// walk (the kernel's bytes when the source kept them, else rebuilt from the first logged header), time
/// stamped with the walk's first step, on the interface it came in by (or left by, for a packet made
/// on the host), with the walk in one line as the packet's comment.
public final class WalkCapture {
    private let writer: PcapngWriter
    private let namespace: String
    /// Walks written, and of them those that carried the kernel's own bytes.
    public private(set) var written = 0
    public private(set) var withKernelBytes = 0
    /// Walks with no IP header to make a packet from (ARP, or a source that printed no packet).
    public private(set) var withoutPacket = 0

    /// `namespace` describes interfaces of walks that name no namespace (`the namespace pathtrace ran in`).
    public init(namespace: String, sink: @escaping (UnsafeRawBufferPointer) -> Void) {
        self.namespace = namespace
        writer = PcapngWriter(application: "pathtrace", sink: sink)
    }

    public func write(_ walk: PacketWalk) {
        guard let (packet, fromKernel) = Self.packet(walk) else {
            withoutPacket += 1
            return
        }
        let (name, direction) = Self.interface(walk)
        let netns = walk.netns.map { "netns \($0)" } ?? namespace
        writer.packet(
            packet.bytes, originalLength: packet.originalLength, time: walk.steps.lazy.compactMap(\.event.time).first,
            interface: PcapngWriter.Interface(name: name ?? "unknown", description: netns), direction: direction,
            comment: Self.comment(walk))
        written += 1
        if fromKernel { withKernelBytes += 1 }
    }

    /// The packet as it entered the walk: the first step that shows the packet, its kernel bytes when
    /// kept, else rebuilt from its header fields.
    public static func packet(_ walk: PacketWalk) -> (CapturedPacket, fromKernel: Bool)? {
        guard let step = walk.steps.first(where: { $0.event.hasHeader }) else { return nil }
        if let raw = step.event.packetBytes, let packet = PacketBuilder.kernel(raw) { return (packet, true) }
        return PacketBuilder.rebuild(step.event.headerValue).map { ($0, false) }
    }

    /// The device the packet came in by, or the one it left by when it was made on the host.
    static func interface(_ walk: PacketWalk) -> (String?, PcapngWriter.Direction?) {
        for step in walk.steps {
            if let name = step.event.inIface, !name.isEmpty { return (name, .inbound) }
            if let name = step.event.outIface, !name.isEmpty { return (name, .outbound) }
        }
        return (nil, nil)
    }

    /// The walk in one line: `forward accept: raw:PREROUTING → mangle:PREROUTING → … → nat:POSTROUTING
    /// MASQUERADE 192.168.122.17:42954 → 10.44.0.1:42954`, each NAT after the chain that did it, a chain
    /// passed twice in a row named once, pathtrace's own steps left out as the JSON leaves them out, and
    /// the namespace first when the walk names one.
    public static func comment(_ walk: PacketWalk) -> String {
        let foldOwn = OwnTraceSteps(walk: walk) != nil
        var line = walk.netns.map { "\($0): " } ?? ""
        line += "\(walk.path.rawValue) \(walk.verdict.rawValue):"
        var placed = [Bool](repeating: false, count: walk.nat.count)
        var last: String?
        for step in walk.steps where !(foldOwn && OwnTraceSteps.isOwn(step.event)) {
            let name = stepName(step.event)
            if name == last { continue }
            line += (last == nil ? " " : " → ") + name
            last = name
            for (i, nat) in walk.nat.enumerated() where !placed[i] && nat.at == name {
                line += " " + natText(nat)
                placed[i] = true
            }
        }
        for (i, nat) in walk.nat.enumerated() where !placed[i] {
            line += "; \(natText(nat)) at \(nat.at)"
        }
        return line
    }

    /// `table:chain`, or `LOG "prefix"` for a LOG line, which names no chain.
    static func stepName(_ event: TraceEvent) -> String {
        if event.kind == .log && event.table.isEmpty {
            return event.prefix.map { "LOG \"\($0.trimmingSpaces())\"" } ?? "LOG"
        }
        return "\(event.table):\(event.chain)"
    }

    /// `MASQUERADE 192.168.122.17:42954 → 10.44.0.1:42954` (`?` when the new address is unknown).
    static func natText(_ nat: NatRewrite) -> String {
        let type = (nat.direction == "reply" ? "reverse " : "") + nat.type.rawValue.uppercased()
        return "\(type) \(nat.before) → \(nat.after ?? "?")"
    }
}
