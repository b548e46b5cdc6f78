/// The names of the link-layer addresses a live collector decoded last. A trace's packets mostly come
/// from a few hosts, and formatting each address and making it a name again (hashing and comparing its
/// 17 bytes) was 4% of live nft tracing's CPU (perf, scripts/bench-live.sh).
public struct MacNames: Sendable {
    /// The last few addresses as 48-bit numbers, and their names, replaced in turn.
    private var keys: [UInt64] = []
    private var names: [Name] = []
    private var next = 0
    private static let kept = 4

    public init() {}

    /// The name of the six bytes at `i` (`aa:bb:cc:dd:ee:ff`, as `PacketBytes.mac` formats them).
    mutating func name(_ b: PacketBytes, _ i: Int) -> Name? {
        guard let high = b.u32(i), let low = b.u16(i + 4) else { return nil }
        let key = UInt64(high) << 16 | UInt64(low)
        if let k = keys.firstIndex(of: key) { return names[k] }
        guard let text = b.mac(i) else { return nil }
        let name = Name(text)
        if keys.count < MacNames.kept {
            keys.append(key)
            names.append(name)
        } else {
            keys[next] = key
            names[next] = name
            next = (next + 1) % MacNames.kept
        }
        return name
    }
}
