/// What runs once per hook: an iptables table, or (nft) a table's base chain, to which the user
/// chains it jumps to belong. Two names, so a step compares and records it without building a string.
struct ChainUnit: Hashable {
    var table: Name
    /// The base chain (nft); nil for an iptables table.
    var chain: Name?

    /// `table:chain`, or the table alone, as notes name it.
    var label: String { chain.map { "\(table):\($0)" } ?? table.string }
}
