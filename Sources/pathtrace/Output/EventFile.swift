import PathTraceCore
import PathTraceRender

/// The `--save` file: opened (and so checked) before anything is installed.
final class EventFile: @unchecked Sendable {
    let output: FileOutput
    let writer = JSONWriter(capacity: 4096)

    init(path: String) throws {
        output = try FileOutput.creating(path, for: "--save")
    }

    func write(_ event: TraceEvent) {
        writer.removeAll()
        SavedEvents.write(event, to: writer)
        output.write(raw: writer.buffer)
    }

    func close() {
        output.close()
    }
}
