#if os(Linux)
import CMnl
import Foundation
import Glibc
import PathTraceCore
import SystemPackage

/// What a live collector has seen so far.
public struct CollectorCounters: Sendable, Equatable {
    /// Netlink messages received (trace or log records, decodable or not).
    public var messages = 0
    /// Events delivered to the closure.
    public var events = 0
    /// Records known to be lost: receive-buffer overruns (nft trace, at least one record each) or
    /// gaps in NFULA_SEQ (nfnetlink_log, exact).
    public var lost = 0
    /// ENOBUFS reported by the socket: the kernel dropped records because the receive buffer was full.
    public var overruns = 0
    /// Messages that could not be decoded (missing table/chain, unknown type).
    public var malformed = 0

    public init() {}
}

/// A live source of trace events, whatever the backend: started before the rules go in, stopped after.
public protocol TraceCollector: AnyObject, Sendable {
    /// Starts the receiving thread; events are delivered on it. Returns once listening.
    func start(_ onEvent: @escaping @Sendable (TraceEvent) -> Void) throws
    /// The same, with the events of each receive handed over at once: a consumer on another thread is
    /// then woken once per batch rather than once per event (thread wake-ups were a tenth of live nft
    /// tracing's CPU: perf, scripts/bench-live.sh). Never called with an empty batch.
    func startInBatches(_ onBatch: @escaping @Sendable ([TraceEvent]) -> Void) throws
    /// Stops after reading what is already queued; safe to call more than once.
    func stop()
    var counters: CollectorCounters { get }
    /// The error that ended the receiving loop early, if any.
    var failure: LinuxError? { get }
}

extension TraceCollector {
    /// A collector that reads one record per receive hands over batches of one.
    public func startInBatches(_ onBatch: @escaping @Sendable ([TraceEvent]) -> Void) throws {
        try start { onBatch([$0]) }
    }
}

/// How one non-blocking receive went.
enum ReceiveOutcome {
    case handled
    case wouldBlock
    case overrun
    /// The end of a file or FIFO: nothing more will come, the loop ends without an error.
    case finished
    case failed(Int32)
}

/// A netlink socket or /dev/kmsg, driven by the loop: opened, read and closed on the collector's own thread.
protocol RecordSource: AnyObject {
    /// Opens and subscribes the socket (on the collector thread, inside the namespace); returns its fd.
    func open() throws -> Int32
    /// Receives without blocking (a datagram, a batch of them, or one kmsg record) and delivers the events.
    func receive() -> ReceiveOutcome
    /// Closes the socket.
    func close()
}

/// State shared between a collector's thread and its owner.
final class CollectorState: @unchecked Sendable {
    private let lock = NSLock()
    private var _counters = CollectorCounters()
    private var _failure: LinuxError?

    var counters: CollectorCounters { lock.withLock { _counters } }
    var failure: LinuxError? { lock.withLock { _failure } }

    func update(_ body: (inout CollectorCounters) -> Void) { lock.withLock { body(&_counters) } }
    func fail(_ error: LinuxError) { lock.withLock { _failure = error } }
}

/// Runs a `RecordSource` on a dedicated thread (inside a namespace when asked) with a poll loop
/// that also watches an eventfd, so `stop()` ends it promptly. On stop, what is already queued in
/// the socket is read first (bounded), so records of packets sent before `stop()` are not lost.
final class CollectorLoop: @unchecked Sendable {
    let name: String
    let netns: TraceNamespace
    let state: CollectorState
    private let lock = NSLock()
    private var stopFD: Int32 = -1
    private var running = false
    private let finished = DispatchSemaphore(value: 0)

    /// Datagrams read per wake-up before the stop descriptor is looked at again.
    static let batch = 256
    /// Datagrams read at most after stop() (a flood must not keep the collector alive).
    static let drainOnStop = 65536

    init(name: String, netns: TraceNamespace, state: CollectorState) {
        self.name = name
        self.netns = netns
        self.state = state
    }

    /// Starts the thread and returns once the source is open and subscribed, or throws its error.
    func start(_ source: RecordSource) throws {
        try lock.withLock {
            guard !running else { throw LinuxError.failed(operation: "\(name): start", errno: EALREADY) }
            stopFD = try Sys.call("eventfd") { pt_eventfd() }
            running = true
        }
        let opened = ResultBox<Int32>()
        let box = SourceBox(source)
        let netns = self.netns
        let stopDescriptor = stopFD
        DedicatedThread.start(name: name) { [self] in
            let fd: Int32
            do {
                try Netns.enter(netns)
                fd = try box.source.open()
                opened.result = .success(fd)
            } catch {
                opened.result = .failure(error)
                opened.done.signal()
                finished.signal()
                return
            }
            opened.done.signal()
            run(box.source, fd: fd, stopFD: stopDescriptor)
            box.source.close()
            finished.signal()
        }
        opened.done.wait()
        if case .failure(let error)? = opened.result {
            finished.wait()
            lock.withLock {
                running = false
                try? FileDescriptor(rawValue: self.stopFD).close()
                self.stopFD = -1
            }
            throw error
        }
    }

    /// Signals the thread, waits for it to drain and close. Safe to call more than once.
    func stop() {
        let fd: Int32? = lock.withLock {
            guard running else { return nil }
            running = false
            return stopFD
        }
        guard let fd else { return }
        let one: UInt64 = 1
        _ = try? withUnsafeBytes(of: one) { try FileDescriptor(rawValue: fd).writeAll($0) }
        finished.wait()
        lock.withLock {
            try? FileDescriptor(rawValue: fd).close()
            stopFD = -1
        }
    }

    private func run(_ source: RecordSource, fd: Int32, stopFD: Int32) {
        var fds = [
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            let r = poll(&fds, 2, -1)
            if r < 0 {
                if Glibc.errno == EINTR { continue }
                state.fail(LinuxError(operation: "\(name): poll", errno: Glibc.errno))
                return
            }
            if fds[1].revents != 0 {
                _ = drain(source, limit: CollectorLoop.drainOnStop)
                return
            }
            if fds[0].revents != 0, !drain(source, limit: CollectorLoop.batch) { return }
        }
    }

    /// Reads until the socket is empty or `limit` datagrams; false on a fatal error.
    private func drain(_ source: RecordSource, limit: Int) -> Bool {
        for _ in 0..<limit {
            switch source.receive() {
            case .handled: continue
            case .wouldBlock: return true
            case .overrun: state.update { $0.overruns += 1 }
            case .finished: return false
            case .failed(let e):
                state.fail(LinuxError(operation: "\(name): receive", errno: e))
                return false
            }
        }
        return true
    }
}

/// Hands a thread-confined source to its thread.
private final class SourceBox: @unchecked Sendable {
    let source: RecordSource
    init(_ source: RecordSource) { self.source = source }
}

/// Resolves interface indexes to names in the calling thread's namespace, with a small cache.
struct InterfaceNames {
    private var cache: [UInt32: Name] = [:]

    mutating func name(_ index: UInt32) -> Name? {
        guard index != 0 else { return nil }
        if let n = cache[index] { return n }
        var buf = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(index, &buf) != nil else { return Name(String(index)) }
        let n = Name(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        if cache.count > 4096 { cache.removeAll() }
        cache[index] = n
        return n
    }
}

/// The last `capacity` values stored, by key (trace id → the packet dump that id carried).
struct RecentMap<Key: Hashable, Value> {
    let capacity: Int
    private var entries: [Key: Value] = [:]
    private var order: [Key] = []
    private var oldest = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    subscript(key: Key) -> Value? { entries[key] }

    var count: Int { entries.count }

    mutating func store(_ value: Value, for key: Key) {
        if entries.updateValue(value, forKey: key) != nil { return }
        if order.count < capacity {
            order.append(key)
            return
        }
        entries.removeValue(forKey: order[oldest])
        order[oldest] = key
        oldest = (oldest + 1) % capacity
    }
}

/// Seconds since the epoch, for records whose source carries no timestamp.
func wallClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
#endif
