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

    /// The first newline in `count` bytes at `p`, tested eight bytes at a time (lines run to
    /// hundreds of bytes, so the byte-by-byte loop was a visible share of replay).
    @inline(__always) private func memchrNewline(_ p: UnsafePointer<UInt8>, _ count: Int) -> UnsafePointer<UInt8>? {
        let raw = UnsafeRawPointer(p)
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let newlines: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
        var i = 0
        while i + 8 <= count {
            // A byte of `x` is zero where the input has a newline; the lowest flagged byte is exact.
            let x = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ newlines
            let found = (x &- ones) & ~x & highs
            if found != 0 { return p + i + found.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < count {
            if p[i] == 10 { return p + i }
            i += 1
        }
        return nil
    }
}
