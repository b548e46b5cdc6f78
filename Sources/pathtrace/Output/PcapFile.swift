import PathTraceCore
import PathTraceRender

/// The `--pcap` file: opened (and so checked) before anything is installed; each walk becomes a packet.
final class PcapFile {
    let path: String
    let output: FileOutput
    /// Optional only so its sink can capture `self` once the other properties are set.
    private var capture: WalkCapture?
    private var pending: [UInt8] = []
    /// Live tracing hands each walk's packet to the file at once, so Wireshark sees it while the trace
    /// runs; replay gathers 64 KiB first.
    private let flushEachWalk: Bool

    /// `namespace` describes the interfaces of walks that name no namespace.
    init(path: String, namespace: String, flushEachWalk: Bool) throws {
        self.path = path
        self.flushEachWalk = flushEachWalk
        output = try FileOutput.creating(path, for: "--pcap")
        capture = WalkCapture(namespace: namespace) { [unowned self] in self.pending.append(contentsOf: $0) }
    }

    func write(_ walk: PacketWalk) {
        capture?.write(walk)
        if flushEachWalk || pending.count >= 1 << 16 { flush() }
    }

    private func flush() {
        pending.withUnsafeBytes { output.write(raw: $0) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes what is left and closes the file; returns the line for the summary.
    func close() -> String {
        flush()
        output.close()
        guard let capture else { return "" }
        var line = "--pcap \(path): \(plural(capture.written, "packet"))"
        if capture.withKernelBytes > 0 { line += " (\(capture.withKernelBytes) with the kernel's bytes)" }
        if capture.withoutPacket > 0 {
            line += ", \(plural(capture.withoutPacket, "walk")) without an IP header left out"
        }
        return line
    }
}
