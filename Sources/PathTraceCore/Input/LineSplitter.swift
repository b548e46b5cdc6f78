import CPrefetch
import Foundation

/// Splits a byte stream into lines without copying, bounding the longest line it will hold.
///
/// Chunks arrive from any reader (file, stdin, /dev/kmsg); each complete line is handed to the
/// consumer as a buffer valid only during the call. A line longer than `maxLine` is reported once
/// as overlong and its bytes are dropped, so memory stays bounded whatever the input.
public struct LineSplitter {
    public let maxLine: Int
    private var carry: [UInt8] = []
    private var overlong = false
    public private(set) var lineNumber = 0

    /// How far ahead of the line just found the stream is prefetched (see `feed`).
    static let prefetchDistance = 4096

    public init(maxLine: Int = 65536) {
        self.maxLine = maxLine
    }

    public enum Line {
        case text(UnsafeBufferPointer<UInt8>)
        /// The line exceeded `maxLine` bytes; its content was dropped.
        case overlong
    }

    public mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, _ consume: (Line, Int) -> Void) {
        guard let base = chunk.baseAddress else { return }
        var start = 0
        let n = chunk.count
        while start < n {
            guard let nl = memchrNewline(base + start, n - start) else {
                appendCarry(UnsafeBufferPointer(start: base + start, count: n - start))
                return
            }
            let end = nl - base
            // As many bytes as this line, 4 KB on (within the chunk): the stream loads ahead of the
            // parser, whose other memory traffic (walks, tables) hides it from the hardware's own
            // prefetcher.
            let ahead = end + LineSplitter.prefetchDistance
            if ahead < n { pathtrace_prefetch(base + ahead, min(end - start + 1, n - ahead)) }
            if carry.isEmpty && !overlong {
                lineNumber += 1
                if end - start > maxLine {
                    consume(.overlong, lineNumber)
                } else {
                    consume(
                        .text(UnsafeBufferPointer(start: base + start, count: stripCR(base + start, end - start))),
                        lineNumber)
                }
            } else {
                appendCarry(UnsafeBufferPointer(start: base + start, count: end - start))
                emitCarry(consume)
            }
            start = end + 1
        }
    }

    /// Emits a last line that had no newline.
    public mutating func finish(_ consume: (Line, Int) -> Void) {
        if !carry.isEmpty || overlong { emitCarry(consume) }
    }

    private mutating func appendCarry(_ bytes: UnsafeBufferPointer<UInt8>) {
        if overlong { return }
        if carry.count + bytes.count > maxLine {
            overlong = true
            carry.removeAll()
            return
        }
        carry.append(contentsOf: bytes)
    }

    private mutating func emitCarry(_ consume: (Line, Int) -> Void) {
        lineNumber += 1
        if overlong {
            consume(.overlong, lineNumber)
        } else {
            carry.withUnsafeBufferPointer { buf in
                guard let b = buf.baseAddress else { return consume(.text(buf), lineNumber) }
                consume(.text(UnsafeBufferPointer(start: b, count: stripCR(b, buf.count))), lineNumber)
            }
        }
        carry.removeAll(keepingCapacity: true)
        overlong = false
    }

    @inline(__always) private func stripCR(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int {
        count > 0 && p[count - 1] == 13 ? count - 1 : count
    }

    /// The first newline in `count` bytes at `p`: libc's memchr, which scans with vector
    /// instructions (an eight-bytes-at-a-time loop here was 3% of replay; scripts/bench-replay.sh).
    @inline(__always) private func memchrNewline(_ p: UnsafePointer<UInt8>, _ count: Int) -> UnsafePointer<UInt8>? {
        guard let found = memchr(p, 10, count) else { return nil }
        return UnsafePointer(found.assumingMemoryBound(to: UInt8.self))
    }
}
