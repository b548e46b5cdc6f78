#if os(Linux)
import Glibc
import SystemPackage

/// A regular file seen through a private, read-only mapping, handed over window by window so the
/// replay pipeline parses its lines in place: no copy into `read` buffers, no per-line allocation.
///
/// Raw `mmap` because swift-system has none. What justifies it is `make bench` (scripts/bench-replay.sh,
/// `replay --format json` of the 280 MB, 1,000,000-line file on one core): the kernel's copy into `read`
/// buffers was 11% of the cycles in issue 10's profile; on a 2-core VM, `perf stat -r 5` gave 0.12 to
/// 0.14 s of system time with `read` and 0.08 to 0.10 s mapped, user time unchanged (2.6 s).
///
/// The mapping covers the size `fstat` gives at open. Each window is released once handed over
/// (`MADV_DONTNEED`), so the mapped file adds one window (1 MiB, the size of the `read` buffer it
/// replaces) to the peak RSS whatever its size. A file that shrinks while it is read: before each
/// window the size is taken again and the windows stop at the new end, so a file truncated between
/// windows just ends there. One truncated while a window is being parsed makes the next touch of a
/// vanished page raise SIGBUS; a signal cannot become a Swift error, so while windows are handed over
/// a SIGBUS inside the mapping writes `pathtrace: FILE shrank while it was being read` to stderr and
/// exits with status 1 instead of dying silently. Bytes appended after the open (a log being written)
/// are the caller's to read with `read` from `forEachWindow`'s end on.
public final class MappedFile {
    private let base: UnsafeMutableRawPointer
    private let size: Int
    private let fd: FileDescriptor
    private let name: String
    private let window: Int

    /// Maps `fd` from its start; nil when it is not a regular file, is empty, or `mmap` refuses (the
    /// caller reads it instead). `window` (bytes, rounded up to whole pages) bounds what is resident.
    public init?(_ fd: FileDescriptor, name: String, window: Int = 1 << 20) {
        guard let stat = try? fd.stat(), stat.type == .regular, stat.size > 0, stat.size <= Int64(Int.max)
        else { return nil }
        let size = Int(stat.size)
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd.rawValue, 0),
            base != UnsafeMutableRawPointer(bitPattern: -1)
        else { return nil }
        // Advice only: the windows are read front to back once, so read-ahead may run far.
        _ = madvise(base, size, MADV_SEQUENTIAL)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        self.base = base
        self.size = size
        self.fd = fd
        self.name = name
        self.window = max(page, (window + page - 1) / page * page)
    }

    deinit { munmap(base, size) }

    /// `MADV_POPULATE_READ` (Linux 5.14).
    private static let populateRead: Int32 = 22

    /// Calls `body` with each window of the mapping in order (valid only during the call) and returns
    /// the offset where they stopped: the size at open, or less if the file shrank meanwhile.
    public func forEachWindow(_ body: (UnsafeBufferPointer<UInt8>) -> Void) -> Int {
        BusErrorGuard.install(range: UnsafeRawPointer(base)..<UnsafeRawPointer(base + size), name: name)
        defer { BusErrorGuard.remove() }
        var offset = 0
        while offset < size {
            let now = (try? fd.stat().size).map { Int(clamping: $0) } ?? 0
            let count = min(window, size - offset, now - offset)
            if count <= 0 { break }
            // The window's pages mapped in one call instead of a fault every 16 pages (about 6% of
            // replay's cycles in perf on the benchmark file); a kernel older than 5.14 refuses the
            // advice and the pages fault in as before.
            _ = madvise(base + offset, count, MappedFile.populateRead)
            body(UnsafeBufferPointer(start: (base + offset).assumingMemoryBound(to: UInt8.self), count: count))
            _ = madvise(base + offset, count, MADV_DONTNEED)
            offset += count
        }
        return offset
    }
}

/// The SIGBUS handler of `MappedFile.forEachWindow`. A handler captures nothing, so what it needs sits
/// in statics set before it is installed; it only reads them, calls `write` and `_exit`, and hands a
/// fault outside the mapping back to the handler that was there before (the fault repeats under it).
private enum BusErrorGuard {
    nonisolated(unsafe) static var range: Range<UInt> = 0..<0
    nonisolated(unsafe) static var message: [UInt8] = []
    nonisolated(unsafe) static var previous = sigaction()

    static func install(range: Range<UnsafeRawPointer>, name: String) {
        self.range = UInt(bitPattern: range.lowerBound)..<UInt(bitPattern: range.upperBound)
        message = Array("pathtrace: \(name) shrank while it was being read (SIGBUS); replay stopped\n".utf8)
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { _, info, _ in
            let address = UInt(bitPattern: info?.pointee._sifields._sigfault.si_addr)
            if BusErrorGuard.range.contains(address) {
                BusErrorGuard.message.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
                _exit(1)
            }
            var previous = BusErrorGuard.previous
            sigaction(SIGBUS, &previous, nil)
        }
        action.sa_flags = SA_SIGINFO
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, &previous)
    }

    static func remove() {
        sigaction(SIGBUS, &previous, nil)
        range = 0..<0
    }
}
#endif
