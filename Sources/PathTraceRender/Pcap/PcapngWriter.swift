/// Writes a pcapng file (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html) block by block:
/// the section header at once, each interface's description block when a packet first uses it, then the
/// packet's enhanced packet block. Nothing is held back, so a capture of any length needs the memory of
/// one packet, and an interrupted trace leaves a file Wireshark still opens up to its last whole block.
///
/// Every interface has link type LINKTYPE_RAW (101): the trace sources give packets from the network
/// header on (nfnetlink_log's payload, nft trace's network header, the kernel log's IP fields), and RAW
/// carries IPv4 and IPv6 alike, told apart by the version nibble, so no Ethernet header with made-up MAC
/// addresses has to be invented. Blocks are little-endian; readers follow the byte-order magic.
public final class PcapngWriter {
    /// A capture interface: its name and a description (pathtrace puts the namespace there).
    public struct Interface: Hashable, Sendable {
        public var name: String
        public var description: String

        public init(name: String, description: String) {
            self.name = name
            self.description = description
        }
    }

    /// The direction `epb_flags` records.
    public enum Direction: UInt32, Sendable {
        case inbound = 1
        case outbound = 2
    }

    static let linkTypeRaw: UInt16 = 101
    static let sectionHeader: UInt32 = 0x0A0D_0D0A
    static let interfaceDescription: UInt32 = 1
    static let enhancedPacket: UInt32 = 6

    private var interfaces: [Interface: UInt32] = [:]
    private var block: [UInt8] = []
    private var hasOptions = false
    private let sink: (UnsafeRawBufferPointer) -> Void

    /// Writes the section header block (naming `application` in `shb_userappl`) to `sink` at once.
    public init(application: String, sink: @escaping (UnsafeRawBufferPointer) -> Void) {
        self.sink = sink
        block.reserveCapacity(2048)
        begin(Self.sectionHeader)
        u32(0x1A2B_3C4D)
        u16(1)
        u16(0)
        // Section length unknown (-1): the file is written as packets arrive.
        u32(0xFFFF_FFFF)
        u32(0xFFFF_FFFF)
        option(4, application)
        end()
    }

    /// The number of interface description blocks written so far.
    public var interfaceCount: Int { interfaces.count }

    /// Writes one packet: `bytes` as captured (from the network header), `originalLength` as it was on
    /// the wire, `time` in seconds since the epoch (or since boot, for kernel-log times), `comment` in
    /// `opt_comment`. The interface's description block goes first when this is its first packet.
    public func packet(
        _ bytes: [UInt8], originalLength: Int, time: Double?, interface: Interface, direction: Direction? = nil,
        comment: String? = nil
    ) {
        let id = interfaceID(interface)
        begin(Self.enhancedPacket)
        u32(id)
        let micros = Self.microseconds(time)
        u32(UInt32(truncatingIfNeeded: micros >> 32))
        u32(UInt32(truncatingIfNeeded: micros))
        u32(UInt32(bytes.count))
        u32(UInt32(clamping: max(originalLength, bytes.count)))
        block.append(contentsOf: bytes)
        pad()
        if let comment { option(1, comment) }
        if let direction {
            // epb_flags: 4 bytes, the direction in the two lowest bits.
            hasOptions = true
            u16(2)
            u16(4)
            u32(direction.rawValue)
        }
        end()
    }

    /// The interface's id, writing its description block the first time it is asked for.
    private func interfaceID(_ interface: Interface) -> UInt32 {
        if let id = interfaces[interface] { return id }
        let id = UInt32(interfaces.count)
        interfaces[interface] = id
        begin(Self.interfaceDescription)
        u16(Self.linkTypeRaw)
        u16(0)
        // Snap length 0: no limit was applied when the packets were taken.
        u32(0)
        option(2, interface.name)
        option(3, interface.description)
        end()
        return id
    }

    /// Microseconds (the default `if_tsresol`); a missing, negative or non-finite time is 0.
    static func microseconds(_ time: Double?) -> UInt64 {
        guard let time, time.isFinite, time > 0, time < 1.8e13 else { return 0 }
        return UInt64((time * 1_000_000).rounded())
    }

    // MARK: - Block encoding

    private func begin(_ type: UInt32) {
        block.removeAll(keepingCapacity: true)
        hasOptions = false
        u32(type)
        // The total length, filled in by `end()`.
        u32(0)
    }

    /// Closes the options, writes the block's length at both ends and hands the block to the sink.
    private func end() {
        if hasOptions {
            // opt_endofopt
            u16(0)
            u16(0)
        }
        let total = UInt32(block.count + 4)
        u32(total)
        for k in 0..<4 { block[4 + k] = UInt8(truncatingIfNeeded: total >> (8 * k)) }
        block.withUnsafeBytes(sink)
    }

    private func option(_ code: UInt16, _ text: String) {
        option(code, Array(text.utf8))
    }

    private func option(_ code: UInt16, _ value: [UInt8]) {
        let value = value.count > 0xFFFF ? Array(value.prefix(0xFFFF)) : value
        hasOptions = true
        u16(code)
        u16(UInt16(value.count))
        block.append(contentsOf: value)
        pad()
    }

    private func pad() {
        while block.count % 4 != 0 { block.append(0) }
    }

    private func u16(_ v: UInt16) {
        block.append(UInt8(truncatingIfNeeded: v))
        block.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    private func u32(_ v: UInt32) {
        for k in 0..<4 { block.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
    }
}
