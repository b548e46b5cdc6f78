/// Appends JSON to a byte buffer without Foundation: the JSON Lines output is a hot path of replay.
public struct JSONWriter {
    public var bytes: [UInt8] = []
    private var needsComma: [Bool] = []

    public init() {
        bytes.reserveCapacity(4096)
    }

    public mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma.removeLast()
    }

    public mutating func beginArray(_ key: String) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma.removeLast()
    }

    public mutating func beginObject(_ key: String) {
        self.key(key)
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    public mutating func key(_ name: String) {
        separator()
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func field(_ name: String, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    public mutating func field<T: BinaryInteger>(_ name: String, _ value: T?) {
        key(name)
        if let value { integer(Int64(value)) } else { null() }
    }

    public mutating func field(_ name: String, _ value: Double?) {
        key(name)
        if let value, value.isFinite { bytes.append(contentsOf: "\(value)".utf8) } else { null() }
    }

    public mutating func field(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: value ? "true".utf8 : "false".utf8)
    }

    /// A bare string element inside an array.
    public mutating func element(_ value: String) {
        separator()
        string(value)
    }

    private mutating func separator() {
        guard let last = needsComma.last else { return }
        if last { bytes.append(UInt8(ascii: ",")) } else { needsComma[needsComma.count - 1] = true }
    }

    private mutating func null() { bytes.append(contentsOf: "null".utf8) }

    private mutating func integer(_ v: Int64) {
        if v == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var n = v.magnitude
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
            UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while n > 0 {
                buf[count] = UInt8(48 + n % 10)
                n /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(buf[i]) }
        }
    }

    private mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 10: bytes.append(contentsOf: [92, 110])
            case 13: bytes.append(contentsOf: [92, 114])
            case 9: bytes.append(contentsOf: [92, 116])
            case 0..<32:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, 117, 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
