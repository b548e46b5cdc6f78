import PathTraceCore

/// The text timeline's columns through a position: a name's own bytes, runs of spaces, and padding
/// counted in characters as `String.count` counts them.
extension JSONOut {
    /// A name's bytes as they are (the text timeline does not escape).
    @inline(__always) mutating func bytes(of n: Name) {
        let b = n.bytes
        ensure(b.count)
        if let src = b.baseAddress {
            JSONWriter.copy(p, src.assumingMemoryBound(to: UInt8.self), b.count)
            p += b.count
        }
    }

    /// `n` spaces (none when `n` ≤ 0), sixteen at a time.
    @inline(__always) mutating func spaces(_ n: Int) {
        guard n > 0 else { return }
        ensure(n)
        let blanks: UInt64 = 0x2020_2020_2020_2020
        var k = 0
        repeat {
            UnsafeMutableRawPointer(p + k).storeBytes(of: blanks, as: UInt64.self)
            UnsafeMutableRawPointer(p + k + 8).storeBytes(of: blanks, as: UInt64.self)
            k += 16
        } while k < n
        p += n
    }

    /// Spaces after what was written since `column` (an `offset`: a name's `ensure` may move the
    /// buffer), up to `width` characters. With `ascii`, every byte written there is known to be an
    /// ASCII character that is not a CR; else they are counted.
    @inline(__always) mutating func pad(from column: Int, to width: Int, ascii: Bool) {
        let n = offset - column
        spaces(width - (ascii ? n : JSONOut.characters(UnsafePointer(base + column), n)))
    }

    /// What `String.count` gives for `n` bytes at `start`: the bytes themselves when none is past
    /// ASCII or a CR (the only ASCII byte that joins the next into one character, CR LF).
    static func characters(_ start: UnsafePointer<UInt8>, _ n: Int) -> Int {
        let raw = UnsafeRawPointer(start)
        var i = 0
        var plain = true
        while i + 8 <= n {
            if !isPlainText(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                plain = false
                break
            }
            i += 8
        }
        if plain {
            while i < n {
                if start[i] >= 0x80 || start[i] == 13 {
                    plain = false
                    break
                }
                i += 1
            }
        }
        if plain { return n }
        return String(decoding: UnsafeBufferPointer(start: start, count: n), as: UTF8.self).count
    }

    /// Whether no byte of `x` is past ASCII or a CR.
    @inline(__always) private static func isPlainText(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let cr = x ^ (ones &* 13)
        return (x | ((cr &- ones) & ~cr)) & highs == 0
    }
}
