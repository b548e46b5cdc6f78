import PathTraceCore

/// The texts of a NAT rewrite that repeat from walk to walk (field, place, direction) as the walk
/// writer last printed them: escaping each anew was ~130 instructions (issue 10, /tmp/icount.sh on
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

    /// Writes `s` quoted and escaped, copying the bytes kept when it is the last text.
    @inline(__always) mutating func write(_ s: String, to o: inout JSONOut) {
        // Equal small strings compare by their bits: no look at the bytes. Only ASCII texts are kept,
        // and a String canonically equal to one with as many bytes has its very bytes (a character
        // that decomposes to ASCII, as the Kelvin sign to `K`, is longer than it).
        if count > 0, s.utf8.count == textCount, s == text {
            o.ensure(32)
            JSONOut.store(json.0, at: o.p)
            JSONOut.store(json.1, at: o.p + 8)
            JSONOut.store(json.2, at: o.p + 16)
            JSONOut.store(json.3, at: o.p + 24)
            o.p += count
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
