extension String {
    /// Hands `body` the string's UTF-8 bytes, in place when they are contiguous (native strings) and
    /// from a contiguous copy otherwise: how the writers copy a String's bytes into their buffers.
    @inline(__always) func withUTF8Bytes(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        let done: Void? = utf8.withContiguousStorageIfAvailable { body($0) }
        if done == nil {
            var copy = self
            copy.withUTF8 { body($0) }
        }
    }
}
