/// A `Name?` in two bytes, as events and headers store their names: the name's table id, or a mark
/// that there is none or that it is a boxed name (past the table's capacity) kept in the owner's
/// `Rare` fields. So an ordinary event holds no reference and copies as plain bytes: copies of events
/// and steps, each name retained and released, were a tenth of the replay's instructions (issue 10,
/// scripts/icount.sh on scripts/bench-replay.sh's trace).
///
/// Inlinable, as are the accessors built on it: the renderers read events through pointers, and an
/// accessor they cannot inline makes them copy the whole event to call it.
@usableFromInline struct NameSlot: Equatable, Sendable {
    @usableFromInline var raw: UInt16

    @inlinable @inline(__always) init(raw: UInt16) { self.raw = raw }

    @inlinable @inline(__always) static var none: NameSlot { NameSlot(raw: 0xFFFF) }
    /// The name is in the owner's `BoxedNames`; table ids stay below this (`NameTable.capacity`).
    @inlinable @inline(__always) static var boxed: NameSlot { NameSlot(raw: 0xFFFE) }
    @inlinable @inline(__always) static var empty: NameSlot { NameSlot(raw: 0) }

    /// The slot of a table name, nil for a boxed one.
    @inlinable @inline(__always) static func of(_ name: Name) -> NameSlot? {
        guard let id = name.tableID else { return nil }
        return NameSlot(raw: UInt16(truncatingIfNeeded: id))
    }

    /// The name when it is in the table (never for `.none` and `.boxed`).
    @inlinable @inline(__always) var tableName: Name? { raw < 0xFFFE ? Name(id: UInt32(raw)) : nil }
}

/// The boxed names of one event or header, by field: few or none, so a short list kept in field order
/// (one order per content, so `==` compares contents).
@usableFromInline struct BoxedNames: Equatable, Sendable {
    struct Entry: Equatable, Sendable {
        var field: UInt8
        var name: Name
    }

    private(set) var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }

    subscript(field: UInt8) -> Name? {
        get { entries.first { $0.field == field }?.name }
        set {
            let i = entries.firstIndex { $0.field >= field } ?? entries.endIndex
            let found = i < entries.endIndex && entries[i].field == field
            switch (newValue, found) {
            case (let name?, true): entries[i].name = name
            case (let name?, false): entries.insert(Entry(field: field, name: name), at: i)
            case (nil, true): entries.remove(at: i)
            case (nil, false): break
            }
        }
    }
}

/// Fields an owner holds in `Rare`, and the names it boxes among them.
@usableFromInline protocol RareFields: Equatable, Sendable {
    init()
    /// Whether every field has its default: the owner then drops the box.
    var isEmpty: Bool { get }
    var names: BoxedNames { get set }
}

extension Rare {
    /// The name in `slot`, which is field `field` of the owner.
    @inlinable @inline(__always) func name(_ slot: NameSlot, field: UInt8) -> Name? {
        if let name = slot.tableName { return name }
        return slot == .none ? nil : boxedName(field)
    }

    /// Read-only to the optimizer: an inlined getter then reads the owner in place instead of copying it
    /// whole (with its references retained) around this call.
    @_effects(readonly) @usableFromInline func boxedName(_ field: UInt8) -> Name? {
        box?.fields.names[field]
    }

    /// Stores `name` as field `field`, whose slot was `old`, and returns its slot.
    @inlinable @inline(__always) mutating func slot(_ name: Name?, field: UInt8, replacing old: NameSlot) -> NameSlot {
        if old != .boxed {
            guard let name else { return .none }
            if let slot = NameSlot.of(name) { return slot }
        }
        return boxedSlot(name, field: field)
    }

    @usableFromInline mutating func boxedSlot(_ name: Name?, field: UInt8) -> NameSlot {
        guard let name else {
            update { $0.names[field] = nil }
            return .none
        }
        if let slot = NameSlot.of(name) {
            update { $0.names[field] = nil }
            return slot
        }
        update { $0.names[field] = name }
        return .boxed
    }
}
