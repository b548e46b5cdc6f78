import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Buffered writes to a file descriptor; the renderers produce bytes, this pushes them out.
final class FileOutput: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []
    private let limit = 1 << 16

    static let stdout = FileOutput(fd: 1)
    static let stderr = FileOutput(fd: 2)

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(limit)
    }

    /// Creates (or truncates) the file at `path` for an output option (`--save`, `--pcap`); a file that
    /// cannot be written is `unreadable`, named with the option.
    static func creating(_ path: String, for option: String) throws -> FileOutput {
        do {
            let fd = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
            return FileOutput(fd: fd.rawValue)
        } catch {
            throw CLIFailure.unreadable("\(option): cannot write \(path): \(error)")
        }
    }

    /// Flushes and closes a file `creating` opened.
    func close() {
        flush()
        try? FileDescriptor(rawValue: fd).close()
    }

    var isTerminal: Bool { isatty(fd) == 1 }

    func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= limit || fd == 2 { flush() }
    }

    func write(bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= limit { flush() }
    }

    /// Writes bytes the caller already buffered: after what is pending here, without another copy.
    func write(raw bytes: UnsafeRawBufferPointer) {
        if bytes.isEmpty { return }
        flush()
        writeAll(bytes)
    }

    func flush() {
        buffer.withUnsafeBytes { writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// A closed pipe or a full disk ends the output silently, as `head` expects of a writer.
    private func writeAll(_ bytes: UnsafeRawBufferPointer) {
        _ = try? FileDescriptor(rawValue: fd).writeAll(bytes)
    }
}
