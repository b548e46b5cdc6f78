#if os(Linux)
import Glibc
import PathTraceCore
import SystemPackage

/// Reads kernel log records from `/dev/kmsg` as they are written and turns the TRACE and LOG lines
/// among them into `TraceEvent`s with the same parser `replay` uses (source `kmsg:<seq>`).
///
/// * Reading starts at the end of the ring: records older than the session are not replayed.
/// * Only records of the kernel facility count; lines a process wrote into `/dev/kmsg` (facility
///   user and up) are ignored, so nobody can forge a step.
/// * A read that fails with EPIPE means the ring overwrote records before they were read: counted
///   as an overrun, never silent.
/// * The kernel stamps records with its own clock (seconds since boot). Events get wall-clock time,
///   the same as the netlink backends, through an offset estimated from the records themselves.
///
/// The kernel log is not per namespace: a TRACE line printed in any namespace arrives here.
public final class KmsgCollector: TraceCollector, @unchecked Sendable {
    public struct Options: Sendable {
        /// The device (a FIFO or file of kmsg records in tests).
        public var path: String
        /// Skip what the ring already holds (false to read a file from its start).
        public var fromEnd: Bool

        public init(path: String = "/dev/kmsg", fromEnd: Bool = true) {
            self.path = path
            self.fromEnd = fromEnd
        }
    }

    public let options: Options
    private let state = CollectorState()
    private let loop: CollectorLoop

    public init(options: Options = Options()) {
        self.options = options
        loop = CollectorLoop(name: "pathtrace-kmsg", netns: .current, state: state)
    }

    /// Opens the device and starts the reading thread; returns once open, so records written
    /// afterwards are seen. Throws `LinuxError.permissionDenied` without the right to read the log.
    public func start(_ onEvent: @escaping @Sendable (TraceEvent) -> Void) throws {
        try loop.start(KmsgSource(options: options, state: state, onEvent: onEvent))
    }

    /// Stops the thread after reading what is already there; safe to call more than once.
    public func stop() {
        loop.stop()
    }

    /// Counters so far (records read, events, overruns).
    public var counters: CollectorCounters { state.counters }

    /// The error that ended the reading loop early, if any.
    public var failure: LinuxError? { state.failure }
}

/// The device side of the kmsg collector; lives on the collector thread.
final class KmsgSource: RecordSource {
    let options: KmsgCollector.Options
    let state: CollectorState
    let onEvent: @Sendable (TraceEvent) -> Void
    var fd: Int32 = -1
    var parser = TraceLineParser(file: "kmsg")
    var records = KmsgRecords()
    var clock = KernelClock()
    let bufferSize = 16384
    let buffer: UnsafeMutablePointer<UInt8>

    init(options: KmsgCollector.Options, state: CollectorState, onEvent: @escaping @Sendable (TraceEvent) -> Void) {
        self.options = options
        self.state = state
        self.onEvent = onEvent
        buffer = .allocate(capacity: bufferSize)
    }

    deinit { buffer.deallocate() }

    func open() throws -> Int32 {
        let file = try Sys.system("open \(options.path)") {
            try FileDescriptor.open(FilePath(options.path), .readOnly, options: [.nonBlocking, .closeOnExec])
        }
        fd = file.rawValue
        if options.fromEnd {
            // /dev/kmsg: SEEK_END moves to the record after the last one; a FIFO cannot seek, and needs not.
            _ = try? file.seek(offset: 0, from: .end)
        }
        return fd
    }

    func receive() -> ReceiveOutcome {
        guard fd >= 0 else { return .failed(EBADF) }
        let n: Int
        do {
            n = try FileDescriptor(rawValue: fd).read(
                into: UnsafeMutableRawBufferPointer(start: buffer, count: bufferSize))
        } catch {
            let e = error as? Errno ?? .ioError
            if e == .resourceTemporarilyUnavailable || e == .wouldBlock { return .wouldBlock }
            if e == .brokenPipe {
                state.update { $0.lost += 1 }
                return .overrun
            }
            return .failed(e.rawValue)
        }
        // A FIFO whose writer closed, or the end of a file: nothing more will come.
        if n == 0 { return .finished }
        let now = wallClock()
        var events: [TraceEvent] = []
        var seen = 0
        records.feed(UnsafeBufferPointer(start: buffer, count: n)) { record in
            seen += 1
            guard record.isKernel else { return }
            parser.parse(
                line: record.line, lineNumber: record.sequence,
                emit: { event in
                    var e = event
                    e.time = e.time.map { clock.wallTime(kernelSeconds: $0, receivedAt: now) }
                    events.append(e)
                }, onSkip: { _ in })
        }
        state.update {
            $0.messages += seen
            $0.events += events.count
        }
        for e in events { onEvent(e) }
        return .handled
    }

    func close() {
        if fd >= 0 { try? FileDescriptor(rawValue: fd).close() }
        fd = -1
    }
}

/// Splits what `read()` returned into kmsg records: `/dev/kmsg` gives one record a read, a FIFO or
/// file may give several or part of one, so a partial last line waits for the rest.
struct KmsgRecords {
    struct Record {
        /// The first line of the record, header included (`4,2578,878409352,-;TRACE: …`).
        var line: UnsafeBufferPointer<UInt8>
        var sequence: Int
        /// Facility 0: the kernel printed it.
        var isKernel: Bool
    }

    private var partial: [UInt8] = []
    /// Longer unterminated input is dropped rather than buffered without bound.
    static let maxRecord = 65536

    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Record) -> Void) {
        var start = 0
        if !partial.isEmpty {
            guard let nl = bytes.firstIndex(of: 10) else {
                if partial.count + bytes.count <= KmsgRecords.maxRecord { partial.append(contentsOf: bytes) }
                return
            }
            partial.append(contentsOf: bytes[0..<nl])
            let line = partial
            partial.removeAll(keepingCapacity: true)
            line.withUnsafeBufferPointer { KmsgRecords.emit($0, body) }
            start = nl + 1
        }
        while start < bytes.count {
            guard let nl = bytes[start...].firstIndex(of: 10) else {
                if bytes.count - start <= KmsgRecords.maxRecord { partial.append(contentsOf: bytes[start...]) }
                return
            }
            KmsgRecords.emit(UnsafeBufferPointer(rebasing: bytes[start..<nl]), body)
            start = nl + 1
        }
    }

    /// Dictionary lines (` SUBSYSTEM=…`, continuation of the record before) carry no trace.
    private static func emit(_ line: UnsafeBufferPointer<UInt8>, _ body: (Record) -> Void) {
        guard let first = line.first, first != 32, let header = header(line) else { return }
        body(Record(line: line, sequence: header.sequence, isKernel: header.priority < 8))
    }

    /// `priority,sequence,` at the start of the line.
    static func header(_ line: UnsafeBufferPointer<UInt8>) -> (priority: Int, sequence: Int)? {
        var priority: Int?
        var value = 0
        var digits = 0
        for b in line {
            if b >= 48 && b <= 57 {
                guard digits < 18 else { return nil }
                value = value * 10 + Int(b - 48)
                digits += 1
            } else if b == 44, digits > 0 {
                if let priority { return (priority, value) }
                priority = value
                value = 0
                digits = 0
            } else {
                return nil
            }
        }
        return nil
    }
}

/// Maps the kernel's record stamps (local_clock, seconds since boot) to wall-clock seconds with one
/// offset, so the gaps between records stay exact. The offset is taken from the first record read
/// (`received − stamp`, too large by that read's delay) and moved only when a record shows it off by
/// more than a read's delay could explain: read sooner than the offset allows, or a second late.
struct KernelClock {
    private(set) var offset: Double?
    static let earlier = 0.01
    static let later = 1.0

    mutating func wallTime(kernelSeconds: Double, receivedAt: Double) -> Double {
        let candidate = receivedAt - kernelSeconds
        if let offset, candidate > offset - KernelClock.earlier, candidate < offset + KernelClock.later {
            return kernelSeconds + offset
        }
        offset = candidate
        return receivedAt
    }
}
#endif
