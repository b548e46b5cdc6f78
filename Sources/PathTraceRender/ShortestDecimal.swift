/// Prints a double as Swift's `description` does — the shortest decimal that reads back as the same
/// double, in plain notation — for the values replay prints (timestamps, confidences), without
/// building a String.
///
/// For 0.001 ≤ |v| < 2^53 / 10 the plain form has at least one fractional digit and every integer
/// digit is significant, so the shortest decimal is the one with the fewest fractional digits k.
/// For each k the decimals that could read back as `v` lie within half an ulp of it; each is tested
/// exactly (`Double(j) / 10^k` rounds like a correct parser: j and 10^k are exact doubles). Where two
/// candidates tie at the shortest length, or the value is out of range, the caller falls back to
/// `description`.
enum ShortestDecimal {
    private static let pow10: [Double] = (0...17).map { k in (0..<k).reduce(1.0) { r, _ in r * 10 } }
    private static let pow10Int: [UInt64] = (0...17).map { k in (0..<k).reduce(1) { r, _ in r * 10 } }
    private static let limit = 9_007_199_254_740_992.0  // 2^53: integers above are not all exact

    /// The room `write` needs: a sign, 16 integer digits, a point, 17 fractional digits, and the 8
    /// bytes more its word stores may touch.
    static let maxLength = 43

    /// Writes `v` at `p` (room for `maxLength`) and returns how many bytes, or 0 (nothing written)
    /// when `v` is outside the fast path.
    static func write(_ v: Double, to p: UnsafeMutablePointer<UInt8>) -> Int {
        if let micros = micros(v) {
            let n = JSONOut.unsigned(micros / 1_000_000, at: p)
            return n + fraction(micros % 1_000_000, at: p + n)
        }
        let a = v.magnitude
        guard a >= 0.001, a < limit / 10 else { return 0 }
        if a < 4_294_967_296, let micros = exactMicros(a) {
            // Below 2^32 an ulp is under 1e-6, so at most one decimal with ≤ 6 fractional digits
            // reads back as `a`: when it exists, the shortest is it without its trailing zeros.
            var n = 0
            if v < 0 {
                p[0] = UInt8(ascii: "-")
                n = 1
            }
            n += JSONOut.unsigned(micros / 1_000_000, at: p + n)
            p[n] = UInt8(ascii: ".")
            // The six fractional digits, after two zero bytes; trailing zeros are the high zero bytes.
            let digits = JSONOut.eightDigits(micros % 1_000_000)
            let fraction = max(1, 6 - digits.leadingZeroBitCount / 8)
            JSONOut.store((digits &+ 0x3030_3030_3030_3030) >> 16, at: p + n + 1)
            return n + 1 + fraction
        }
        let halfUlp = a.ulp / 2
        var k = 1
        while k <= 17 {
            let scale = pow10[k]
            let x = a * scale
            if x >= limit { return 0 }
            // Integers j with |j / 10^k − a| ≤ ulp(a)/2, widened by the rounding error of x.
            let slack = halfUlp * scale + 2 * x.ulp
            let lo = (x - slack).rounded(.up)
            let hi = (x + slack).rounded(.down)
            if lo <= hi {
                if hi - lo > 32 { return 0 }
                var found: UInt64 = 0
                var matches = 0
                var j = lo
                while j <= hi {
                    if j / scale == a {
                        found = UInt64(j)
                        matches += 1
                    }
                    j += 1
                }
                if matches > 1 { return 0 }
                if matches == 1 { return emit(found, k, negative: v < 0, to: p) }
            }
            k += 1
        }
        return 0
    }

    /// round(v × 10^6) when 0.001 ≤ v < 2^31 and that many millionths read back exactly as `v` (a
    /// kernel timestamp): then the shortest decimal is that many millionths without trailing zeros.
    /// Below 2^31 an ulp is under half a millionth, so a product exactly halfway between two integers
    /// reads back as neither, whichever way it rounds.
    @inline(__always) static func micros(_ v: Double) -> UInt64? {
        guard v >= 0.001, v < 2_147_483_648 else { return nil }
        // Adding 1.5 × 2^52 and taking it off again rounds to an integer (v × 10^6 < 2^51) without
        // calling libc's `round`: a tenth of the JSON time writer (issue 10, scripts/icount.sh).
        // The sum's exponent is 52, so its low mantissa bits are the integer itself: read from its
        // bits, with no checked conversion.
        let magic = 6_755_399_441_055_744.0
        let sum = v * 1e6 + magic
        return (sum - magic) / 1e6 == v ? sum.bitPattern &- magic.bitPattern : nil
    }

    /// `.` and the digits of `micros` (< 10^6) as six fractional digits without their trailing zeros
    /// (at least one) at `p` (room for 8 bytes more); returns how many bytes.
    @inline(__always) static func fraction(_ micros: UInt64, at p: UnsafeMutablePointer<UInt8>) -> Int {
        p[0] = UInt8(ascii: ".")
        // The six digits, after two zero bytes; trailing zeros are the high zero bytes.
        let digits = JSONOut.eightDigits(micros)
        JSONOut.store((digits &+ 0x3030_3030_3030_3030) >> 16, at: p + 1)
        return 1 + max(1, 6 - digits.leadingZeroBitCount / 8)
    }

    /// round(a × 10^6) when that many millionths read back exactly as `a`.
    @inline(__always) private static func exactMicros(_ a: Double) -> UInt64? {
        let m = (a * 1e6).rounded()
        return m / 1e6 == a ? UInt64(m) : nil
    }

    /// `digits / 10^k` in plain notation: the integer part, a point, k fractional digits; returns
    /// how many bytes.
    private static func emit(_ digits: UInt64, _ k: Int, negative: Bool, to p: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        if negative {
            p[0] = UInt8(ascii: "-")
            n = 1
        }
        let unit = pow10Int[k]
        n += JSONOut.unsigned(digits / unit, at: p + n)
        p[n] = UInt8(ascii: ".")
        JSONOut.padded(digits % unit, width: k, at: p + n + 1)
        return n + 1 + k
    }
}
