import PathTraceCore
import PathTraceRender
import SystemPackage

/// The `--save` file: opened (and so checked) before anything is installed.
final class EventFile: @unchecked Sendable {
    let output: FileOutput
    let writer = JSONWriter(capacity: 4096)

    init(path: String) throws {
        do {
            let fd = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
            output = FileOutput(fd: fd.rawValue)
        } catch {
            throw CLIFailure.unreadable("--save: cannot write \(path): \(error)")
        }
    }

    func write(_ event: TraceEvent) {
        writer.removeAll()
        SavedEvents.write(event, to: writer)
        output.write(raw: writer.buffer)
    }

    func close() {
        output.flush()
        try? FileDescriptor(rawValue: output.fd).close()
    }
}
