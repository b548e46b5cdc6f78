import PathTraceCore
import PathTraceRender

#if canImport(Glibc)
import Glibc
#endif

/// The `--save` file: opened (and so checked) before anything is installed.
final class EventFile: @unchecked Sendable {
    let output: FileOutput
    let writer = JSONWriter(capacity: 4096)

    init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CLIFailure.unreadable("--save: cannot write \(path): \(String(cString: strerror(errno)))")
        }
        output = FileOutput(fd: fd)
    }

    func write(_ event: TraceEvent) {
        writer.removeAll()
        SavedEvents.write(event, to: writer)
        output.write(raw: writer.buffer)
    }

    func close() {
        output.flush()
        _ = Glibc.close(output.fd)
    }
}
