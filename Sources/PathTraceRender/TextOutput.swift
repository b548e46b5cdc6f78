import PathTraceCore

/// The text timeline's bytes, written straight into the buffer `WalkPrinter` flushes: literals,
/// numbers, addresses and names copied in place, columns padded by counting what was written.
///
/// Widths are counted as `String.count` counts characters: the bytes themselves for plain ASCII,
/// and grapheme clusters (by decoding what was written) only when a field is not plain ASCII.
struct TextOutput {
    let writer: JSONWriter
    let color: Bool

    /// Bytes written so far: where a column or line starts, for `pad` and `trimTrailingSpaces`.
    var position: Int { writer.count }

    // MARK: - Text

    /// Every name a trace event carries (table, chain, in/out/physin/physout, prefix, rule text, a
    /// jump's or goto's chain, MACs; pathtrace's own table and chains) goes through here and only
    /// here, so names can switch to bytes kept once per name. Walk-level text (netns, devices of the
    /// topology, notes) goes through `text`.
    @inline(__always) func name(_ s: String) { text(s) }

    /// A trace event's name: its bytes, kept once per name by the name table.
    @inline(__always) func name(_ n: Name) {
        copy(n.bytes.assumingMemoryBound(to: UInt8.self))
    }

    /// Any other String's bytes as they are (notes, topology roles, explanations).
    func text(_ s: String) {
        s.withUTF8Bytes { copy($0) }
    }

    @inline(__always) private func copy(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let src = bytes.baseAddress else { return }
        let n = bytes.count
        writer.append(reserving: n) { p in
            JSONWriter.copy(p, src, n)
            return n
        }
    }

    @inline(__always) func lit(_ s: StaticString) { writer.raw(s) }

    @inline(__always) func byte(_ b: UInt8) { writer.byte(b) }

    func spaces(_ n: Int) {
        guard n > 0 else { return }
        var o = writer.out()
        o.spaces(n)
        writer.commit(o)
    }

    func newline() { writer.byte(10) }

    // MARK: - Numbers and addresses

    /// In line through a position: the packet number of every walk's header line, the TTLs of a
    /// routed step (the writer's `integer` is two calls and two checks more; issue 10,
    /// scripts/icount.sh (text)).
    @inline(__always) func int<T: BinaryInteger>(_ v: T) {
        var o = writer.out()
        if v < 0 {
            o.byte(UInt8(ascii: "-"))
            o.unsigned(UInt64(v.magnitude))
        } else {
            o.unsigned(UInt64(v))
        }
        writer.commit(o)
    }

    /// Lowercase hex digits without leading zeros, as `String(v, radix: 16)`.
    func hex<T: BinaryInteger>(_ v: T) {
        let v = UInt64(v)
        var digits = 1
        while digits < 16 && v >> (4 * UInt64(digits)) != 0 { digits += 1 }
        writer.append(reserving: digits) { p in
            var x = v
            for k in stride(from: digits - 1, through: 0, by: -1) {
                p[k] = JSONEscape.hexDigit(UInt8(truncatingIfNeeded: x & 15))
                x >>= 4
            }
            return digits
        }
    }

    /// `0x` and the hex digits.
    func hexMark(_ v: UInt32) {
        lit("0x")
        hex(v)
    }

    /// `v` with `digits` decimals, as `TextTimeline.fixed` writes it.
    func fixed(_ v: Double, _ digits: Int) {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        // A negative value takes `TextTimeline.fixed`'s way.
        guard let n = Int64(exactly: (v * scale).rounded()), n >= 0 else {
            return text(TextTimeline.fixed(v, digits))
        }
        let units = Int64(scale)
        writer.unsigned(UInt64(n / units))
        byte(UInt8(ascii: "."))
        let frac = n % units
        writer.append(reserving: digits) { p in
            var x = frac
            for k in stride(from: digits - 1, through: 0, by: -1) {
                p[k] = UInt8(truncatingIfNeeded: 48 + x % 10)
                x /= 10
            }
            return digits
        }
    }

    /// `addr`, `addr:port`, `[v6]:port` (`Endpoint.description`), or `?` without an address.
    /// Written through one position (an address and a port are far under its slack): every walk's
    /// header line has two.
    func endpoint(_ a: IPAddress?, _ port: UInt16?) {
        var o = writer.out()
        o.endpoint(a, port)
        writer.commit(o)
    }

    // MARK: - Colours and columns

    /// Starts a painted part (nothing without colours).
    @inline(__always) func open(_ style: TextTimeline.Style) {
        guard color else { return }
        switch style {
        case .bold: lit("\u{1B}[1m")
        case .dim: lit("\u{1B}[2m")
        case .red: lit("\u{1B}[31m")
        case .green: lit("\u{1B}[32m")
        case .yellow: lit("\u{1B}[33m")
        case .blue: lit("\u{1B}[34m")
        case .magenta: lit("\u{1B}[35m")
        case .cyan: lit("\u{1B}[36m")
        }
    }

    /// Ends a painted part.
    @inline(__always) func close() {
        if color { lit("\u{1B}[0m") }
    }

    /// Spaces after what was written since `start`, up to `width` characters.
    func pad(from start: Int, to width: Int) {
        spaces(width - characters(from: start))
    }

    /// What `String.count` gives for the bytes written since `start`.
    func characters(from start: Int) -> Int {
        let all = writer.buffer
        guard let base = all.baseAddress, writer.count > start else { return 0 }
        return JSONOut.characters(base.assumingMemoryBound(to: UInt8.self) + start, writer.count - start)
    }

    /// Drops the spaces a line written since `start` ends with, as `trimmingTrailingSpaces` does.
    func trimTrailingSpaces(from start: Int) {
        let all = writer.buffer
        let end0 = writer.count
        var end = end0
        while end > start, all[end - 1] == UInt8(ascii: " ") { end -= 1 }
        if end == end0 { return }
        if end == start || all[end - 1] < 0x80 { return writer.truncate(to: end) }
        // A space after a non-ASCII byte may belong to its character: the String's own rule decides.
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: all[start..<end0]), as: UTF8.self)
        writer.truncate(to: start)
        text(line.trimmingTrailingSpaces())
    }
}
