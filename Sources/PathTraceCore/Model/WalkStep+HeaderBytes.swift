extension WalkStep {
    /// Whether the headers of the steps at `a` and `b` are the same bytes, every stored field equal,
    /// shown or not: then `PacketHeader.sameStepFields` holds. A few wide compares where the fields'
    /// take ~50 instructions; the printers ask it of the step before, which a packet's next step
    /// mostly repeats, and compare the fields only when it says no (issue 10, scripts/icount.sh).
    @inlinable @inline(__always) public static func sameHeaderBytes(
        _ a: UnsafePointer<WalkStep>, _ b: UnsafePointer<WalkStep>
    ) -> Bool {
        let offset = MemoryLayout<WalkStep>.offset(of: \WalkStep.event.headerValue).unsafelyUnwrapped
        let size = MemoryLayout<PacketHeader>.size
        let x = UnsafeRawPointer(a) + offset
        let y = UnsafeRawPointer(b) + offset
        var d = SIMD16<UInt8>()
        var i = 0
        while i &+ 16 <= size {
            d |=
                x.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
                ^ y.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
            i &+= 16
        }
        // The rest as one word ending where the header ends (some bytes compared twice).
        let w =
            x.loadUnaligned(fromByteOffset: size &- 8, as: UInt64.self)
            ^ y.loadUnaligned(fromByteOffset: size &- 8, as: UInt64.self)
        // Two words, not the vector's `==`: that compares lane by lane.
        let (low, high) = unsafeBitCast(d, to: (UInt64, UInt64).self)
        return low | high | w == 0
    }
}
