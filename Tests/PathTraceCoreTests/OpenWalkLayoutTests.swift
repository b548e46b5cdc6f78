import Testing

@testable import PathTraceCore

/// `OpenWalk.instanceBytes` is what the stitcher prefetches of a walk about to go idle: it must still
/// be the instance's size, or the prefetch misses fields (too small) or loads lines for nothing.
@Suite struct OpenWalkLayoutTests {
    @Test func prefetchedBytesAreTheInstanceSize() {
        // Swift class metadata without Objective-C interop: kind, superclass, flags and instance address
        // point (4 bytes each), then the instance size (docs/ABI/TypeMetadata.rst).
        let metadata = unsafeBitCast(OpenWalk.self as AnyClass, to: UnsafeRawPointer.self)
        #expect(Int(metadata.load(fromByteOffset: 24, as: UInt32.self)) == OpenWalk.instanceBytes)
    }
}
