/// How a byte of a string is written in JSON: the one definition shared by the name table (each name's
/// JSON form, made once) and the renderers' writers (other text, as it is written).
public enum JSONEscape {
    /// Whether `b` must be escaped: a control character, `"` or `\` (UTF-8 bytes are copied as they are).
    @inline(__always) public static func needed(_ b: UInt8) -> Bool {
        b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\")
    }

    /// Hands `emit` the bytes `b` stands for inside a JSON string (one, two or six).
    @inline(__always) public static func write(_ b: UInt8, _ emit: (UInt8) -> Void) {
        guard needed(b) else { return emit(b) }
        emit(UInt8(ascii: "\\"))
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): emit(b)
        case 10: emit(UInt8(ascii: "n"))
        case 13: emit(UInt8(ascii: "r"))
        case 9: emit(UInt8(ascii: "t"))
        default:
            for c in "u00".utf8 { emit(c) }
            emit(hexDigit(b >> 4))
            emit(hexDigit(b & 15))
        }
    }

    /// A lowercase hex digit.
    @inline(__always) public static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 87 + v }
}
