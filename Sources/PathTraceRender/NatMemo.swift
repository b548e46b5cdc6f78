import PathTraceCore

/// The texts of a NAT rewrite that repeat from walk to walk (field, place, direction) as the walk
/// writer last printed them: escaping each anew was ~130 instructions (issue 10, scripts/icount.sh on
/// t10, whose forwarded walks each have an SNAT rewrite).
struct NatMemo {
    var field = TextMemo()
    var at = TextMemo()
    var direction = TextMemo()
}

/// A String and its quoted JSON form when that is short, kept in place (no allocation when it changes).
struct TextMemo {
    private var text = ""
    private var textCount = 0
    private var json: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// The JSON form's length; 0 while there is none kept.
    private var count = 0
    /// The bits of `text` when kept by `write(_: UnsafePointer<String>, to:)`, else zeros (no String's).
    private var bits: (UInt64, UInt64) = (0, 0)

    /// Writes the String at `p` quoted and escaped, copying the bytes kept when it is the last text.
    @inline(__always) mutating func write(_ p: UnsafePointer<String>, to o: inout JSONOut) {
        // The very bits of the String kept: its text, without a copy of the String (a retain and a
        // release) or a compare (~150 instructions a NAT rewrite, issue 10, scripts/icount.sh). Equal bits
        // are equal text: a small String's bits are its bytes, and a large one's storage, which `text`
        // keeps alive, is immutable.
        let raw = UnsafeRawPointer(p)
        let bits = (raw.load(as: UInt64.self), raw.load(fromByteOffset: 8, as: UInt64.self))
        if count > 0, bits == self.bits {
            copyKept(to: &o)
            return
        }
        let s = p.pointee
        write(s, to: &o)
        // The String whose bits are kept is the one kept alive (an equal one may have been kept).
        if count > 0 {
            text = s
            self.bits = bits
        }
    }

    @inline(__always) private func copyKept(to o: inout JSONOut) {
        o.ensure(32)
        JSONOut.store(json.0, at: o.p)
        JSONOut.store(json.1, at: o.p + 8)
        JSONOut.store(json.2, at: o.p + 16)
        JSONOut.store(json.3, at: o.p + 24)
        o.p += count
    }

    /// Writes `s` quoted and escaped, copying the bytes kept when it is the last text.
    mutating func write(_ s: String, to o: inout JSONOut) {
        // Equal small strings compare by their bits: no look at the bytes. Only ASCII texts are kept,
        // and a String canonically equal to one with as many bytes has its very bytes (a character
        // that decomposes to ASCII, as the Kelvin sign to `K`, is longer than it).
        if count > 0, s.utf8.count == textCount, s == text {
            copyKept(to: &o)
            return
        }
        let start = o.offset
        o.text(s)
        let n = o.offset - start
        // By offset: `text` may have moved the buffer. The words past `n` are the writer's slack.
        let bytes = o.base + start
        guard n <= 32, !(0..<n).contains(where: { bytes[$0] >= 0x80 }) else {
            count = 0
            return
        }
        text = s
        textCount = s.utf8.count
        json = (JSONOut.load(bytes), JSONOut.load(bytes + 8), JSONOut.load(bytes + 16), JSONOut.load(bytes + 24))
        count = n
    }
}
