/// The fields an ordinary event or header leaves unset (a packet dump, `extra` tokens, an ICMP
/// error's inner header, a boxed name), behind one optional copy-on-write reference that is nil while
/// they all have their defaults: so the owner stays small and copies without reference counting in
/// the common case (issue 10, scripts/icount.sh on scripts/bench-replay.sh's trace).
@usableFromInline struct Rare<Fields: RareFields>: Equatable, @unchecked Sendable {
    // @unchecked: the box is only written through `update`, after making it unique.
    @usableFromInline final class Box {
        // Unchecked: only `update` writes it, on a box no other owner shares.
        @exclusivity(unchecked) var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    @usableFromInline var box: Box?

    @inlinable @inline(__always) init() {}

    /// Whether every field has its default.
    @inlinable @inline(__always) var isEmpty: Bool { box == nil }

    var fields: Fields { box?.fields ?? Fields() }

    /// Changes the fields in place, copying them first when another owner shares them.
    mutating func update<R>(_ body: (inout Fields) -> R) -> R {
        if box == nil {
            box = Box(Fields())
        } else if !isKnownUniquelyReferenced(&box) {
            box = Box(box.unsafelyUnwrapped.fields)
        }
        let box = self.box.unsafelyUnwrapped
        let result = body(&box.fields)
        if box.fields.isEmpty { self.box = nil }
        return result
    }

    @usableFromInline static func == (a: Rare, b: Rare) -> Bool { a.box === b.box || a.fields == b.fields }
}
