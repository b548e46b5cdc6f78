extension UnsafeBufferPointer {
    /// The address of element `i`. Hot loops read steps in place through it instead of copying each
    /// 500-byte element out; `i` comes from `indices`, so the buffer is not empty and has a base
    /// address (checked in debug builds).
    @inline(__always) public func address(_ i: Int) -> UnsafePointer<Element> {
        baseAddress.unsafelyUnwrapped + i
    }
}

extension UnsafeMutableBufferPointer {
    /// The address of element `i`, as for `UnsafeBufferPointer.address(_:)`.
    @inline(__always) public func address(_ i: Int) -> UnsafeMutablePointer<Element> {
        baseAddress.unsafelyUnwrapped + i
    }
}
