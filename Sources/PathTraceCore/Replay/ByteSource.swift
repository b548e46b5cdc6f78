/// A stream of bytes the replay pipeline reads: a file, standard input, or bytes already in memory.
public protocol ByteSource {
    /// The name steps cite as their source (`file:line`).
    var name: String { get }
    /// Calls `body` with each chunk until the end; a chunk is valid only during the call.
    func forEachChunk(_ body: (UnsafeBufferPointer<UInt8>) -> Void) throws
}

/// Bytes held in memory (tests, pasted text).
public struct MemorySource: ByteSource {
    public let name: String
    public let bytes: [UInt8]

    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }

    public init(name: String, text: String) {
        self.init(name: name, bytes: Array(text.utf8))
    }

    public func forEachChunk(_ body: (UnsafeBufferPointer<UInt8>) -> Void) throws {
        bytes.withUnsafeBufferPointer { body($0) }
    }
}
