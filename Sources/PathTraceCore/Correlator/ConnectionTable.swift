/// The reply linker's remembered connections: a packed tuple to the packet number of the walk that
/// opened it, in an `OpenTable` (a Swift Dictionary of `ReplyLinker.FlowKey` cost about 200
/// instructions per lookup and 600 per insert on /tmp/t10.log, where most walks open a NATed connection).
typealias ConnectionTable = OpenTable<ReplyLinker.FlowWords, Int>

/// The reply linker's openers' NAT types by packet number.
typealias PacketTable<Value> = OpenTable<Int, Value>
