/// What copies of trace output put around a record: man pages, blog posts, tickets, `cat -n` and `nl`.
///
/// A pasted line may start with indentation (spaces, tabs), then a line number followed by a space
/// or a TAB (`1 TRACE: 2 fc475095 raw:PREROUTING:rule:0x3:CONTINUE …` in xtables-monitor(8),
/// `     7\t[  870.690114] TRACE: …` from `cat -n` or `nl`), and end in a CR (CRLF line ends). The
/// record is what follows: every format parser then sees the line as the tool printed it.
enum PastedText {
    /// The longest line number taken as one: `cat -n` of a file with a billion lines still fits.
    static let maxNumberDigits = 9

    /// `line` without the copy's indentation, line number and CR; nil when nothing but a line number
    /// is left (the line cannot be a record). Digits that run into anything but a space or a TAB are
    /// the record's own (`/dev/kmsg`'s `4,1234,…;`, a Unix time stamp) and stay.
    static func record(in line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        var n = line.count
        while n > 0 && line[n - 1] == Byte.cr { n -= 1 }
        var i = 0
        skipBlanks(line, n, &i)
        let digits = i
        while i < n && i - digits <= maxNumberDigits && Byte.isDigit(line[i]) { i += 1 }
        if i > digits && i - digits <= maxNumberDigits {
            if i == n { return nil }
            if line[i] == Byte.space || line[i] == Byte.tab {
                skipBlanks(line, n, &i)
                if i == n { return nil }
            } else {
                i = digits
            }
        } else {
            i = digits
        }
        return UnsafeBufferPointer(rebasing: line[i..<n])
    }

    @inline(__always) private static func skipBlanks(_ line: UnsafeBufferPointer<UInt8>, _ n: Int, _ i: inout Int) {
        while i < n && (line[i] == Byte.space || line[i] == Byte.tab) { i += 1 }
    }
}
