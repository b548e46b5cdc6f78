#if os(Linux)
import CMnl
import Glibc
import PathTraceCore

/// A NETLINK_ROUTE socket (libmnl) in the namespace of the thread that opened it: dumps and single requests.
final class RtnlSocket {
    private let socket: OpaquePointer
    private let portID: UInt32
    private var sequence: UInt32
    private static let bufferSize = 1 << 16
    private let buffer: UnsafeMutableRawPointer

    /// Opens and binds the socket; call on the thread that entered the namespace.
    init() throws {
        let nl = try Sys.pointer("mnl_socket_open(NETLINK_ROUTE)") { mnl_socket_open(NETLINK_ROUTE) }
        do {
            try Sys.call("bind NETLINK_ROUTE socket") { mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) }
        } catch {
            mnl_socket_close(nl)
            throw error
        }
        socket = nl
        buffer = UnsafeMutableRawPointer.allocate(byteCount: RtnlSocket.bufferSize, alignment: 8)
        portID = mnl_socket_get_portid(nl)
        sequence = UInt32(truncatingIfNeeded: time(nil))
    }

    deinit {
        mnl_socket_close(socket)
        buffer.deallocate()
    }

    /// Every message of a dump of `type` (RTM_GETLINK …) for `family`, whose fixed header is `headerSize`
    /// bytes with the family in its first byte.
    func dump(_ type: Int, family: Int32, headerSize: Int) throws -> [RtnlMessage] {
        try exchange(type, flags: pt_nlm_dump_flags(), family: family, headerSize: headerSize, dump: true) { _ in }
    }

    /// A single request with attributes added by `attributes`; the answer's messages.
    func request(
        _ type: Int, family: Int32, headerSize: Int, attributes: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws -> [RtnlMessage] {
        try exchange(
            type, flags: UInt16(NLM_F_REQUEST), family: family, headerSize: headerSize, dump: false, attributes)
    }

    private func exchange(
        _ type: Int, flags: UInt16, family: Int32, headerSize: Int, dump: Bool,
        _ attributes: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws -> [RtnlMessage] {
        sequence &+= 1
        let seq = sequence
        guard let nlh = mnl_nlmsg_put_header(buffer) else {
            throw LinuxError.failed(operation: "netlink", errno: EINVAL)
        }
        nlh.pointee.nlmsg_type = UInt16(type)
        nlh.pointee.nlmsg_flags = flags
        nlh.pointee.nlmsg_seq = seq
        let header = mnl_nlmsg_put_extra_header(nlh, headerSize)
        header?.storeBytes(of: UInt8(truncatingIfNeeded: family), as: UInt8.self)
        attributes(nlh)
        let length = Int(nlh.pointee.nlmsg_len)
        try Sys.call("send rtnetlink request \(type)") { mnl_socket_sendto(socket, buffer, length) }
        let collected = MessageSink()
        let context = Unmanaged.passUnretained(collected).toOpaque()
        while true {
            let received = try Sys.call("receive rtnetlink answer") {
                mnl_socket_recvfrom(socket, buffer, RtnlSocket.bufferSize)
            }
            let r = mnl_cb_run(
                buffer, received, seq, portID,
                { nlh, data in
                    guard let nlh, let data else { return MNL_CB_OK }
                    let sink = Unmanaged<MessageSink>.fromOpaque(data).takeUnretainedValue()
                    let bytes = UnsafeRawBufferPointer(start: nlh, count: Int(nlh.pointee.nlmsg_len))
                    sink.messages.append(RtnlMessage(bytes: Array(bytes)))
                    return MNL_CB_OK
                }, context)
            if r < 0 { throw LinuxError(operation: "rtnetlink request \(type)", errno: Glibc.errno) }
            if r == MNL_CB_STOP || !dump { break }
        }
        return withExtendedLifetime(collected) { collected.messages }
    }
}

/// Messages gathered by the mnl_cb_run callback.
private final class MessageSink {
    var messages: [RtnlMessage] = []
}

/// One rtnetlink message, copied out of the receive buffer.
struct RtnlMessage {
    var bytes: [UInt8]

    var type: Int { Int(bytes.withUnsafeBytes { $0.load(fromByteOffset: 4, as: UInt16.self) }) }

    /// The fixed header after the netlink header, as `T` (ifinfomsg, rtmsg …).
    func header<T>(_: T.Type) -> T? {
        let offset = Int(MNL_ALIGN_SIZE(MemoryLayout<nlmsghdr>.size))
        guard bytes.count >= offset + MemoryLayout<T>.size else { return nil }
        return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }

    /// The attributes after a fixed header of `headerSize` bytes, handed to `body` while they are valid.
    func attributes<R>(after headerSize: Int, _ body: (RtnlAttributes) -> R) -> R {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return body(RtnlAttributes()) }
            let nlh = base.assumingMemoryBound(to: nlmsghdr.self)
            return body(RtnlAttributes.parse(nlh, offset: headerSize))
        }
    }
}

/// MNL_ALIGN, spelled out (the macro is not imported).
@inline(__always) func MNL_ALIGN_SIZE(_ n: Int) -> Int { (n + 3) & ~3 }

/// Attributes of one message or nest by type (the last of each type wins); valid only inside the
/// closure that parsed them.
final class RtnlAttributes {
    private(set) var table: [Int: UnsafePointer<nlattr>] = [:]

    static func parse(_ nlh: UnsafePointer<nlmsghdr>, offset: Int) -> RtnlAttributes {
        let attrs = RtnlAttributes()
        let context = Unmanaged.passUnretained(attrs).toOpaque()
        _ = mnl_attr_parse(nlh, UInt32(offset), RtnlAttributes.store, context)
        return attrs
    }

    /// The attributes nested in `type`, empty when it is absent.
    func nested(_ type: Int) -> RtnlAttributes {
        let attrs = RtnlAttributes()
        guard let attr = table[type] else { return attrs }
        let context = Unmanaged.passUnretained(attrs).toOpaque()
        _ = mnl_attr_parse_nested(attr, RtnlAttributes.store, context)
        return attrs
    }

    private static let store: mnl_attr_cb_t = { attr, data in
        guard let attr, let data else { return MNL_CB_OK }
        let attrs = Unmanaged<RtnlAttributes>.fromOpaque(data).takeUnretainedValue()
        attrs.table[Int(mnl_attr_get_type(attr))] = attr
        return MNL_CB_OK
    }

    func has(_ type: Int) -> Bool { table[type] != nil }

    func string(_ type: Int) -> String? {
        guard let attr = table[type], mnl_attr_get_payload_len(attr) > 0, let p = mnl_attr_get_str(attr) else {
            return nil
        }
        return String(cString: p)
    }

    func bytes(_ type: Int) -> [UInt8]? {
        guard let attr = table[type], let p = mnl_attr_get_payload(attr) else { return nil }
        return Array(UnsafeRawBufferPointer(start: p, count: Int(mnl_attr_get_payload_len(attr))))
    }

    func u8(_ type: Int) -> UInt8? { bytes(type).flatMap { $0.count >= 1 ? $0[0] : nil } }

    func u16(_ type: Int) -> UInt16? {
        guard let attr = table[type], mnl_attr_get_payload_len(attr) >= 2 else { return nil }
        return mnl_attr_get_u16(attr)
    }

    func u32(_ type: Int) -> UInt32? {
        guard let attr = table[type], mnl_attr_get_payload_len(attr) >= 4 else { return nil }
        return mnl_attr_get_u32(attr)
    }

    func s32(_ type: Int) -> Int32? { u32(type).map { Int32(bitPattern: $0) } }

    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address attribute.
    func address(_ type: Int) -> IPAddress? { bytes(type).flatMap(RtnlAttributes.ipAddress) }

    /// 4 bytes as IPv4, 16 as IPv6, in network order.
    static func ipAddress(_ b: [UInt8]) -> IPAddress? {
        switch b.count {
        case 4: return IPAddress(v4: b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16:
            let high = b[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = b[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return IPAddress(v6: high, low)
        default: return nil
        }
    }
}
#endif
