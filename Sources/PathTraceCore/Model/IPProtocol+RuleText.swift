extension IPProtocol {
    /// The protocol a rule in save syntax matches with `-p NAME` or `--protocol NAME` (`-p icmp`,
    /// `-p ipv6-icmp`, `-p 47`); nil when there is none, when it is negated (`! -p tcp`, `-p ! tcp`)
    /// or `all`, and for words inside a quoted comment.
    public static func match(inRule text: String) -> UInt8? {
        var previous: Substring = ""
        var quoted = false
        var tokens = text.split(separator: " ").makeIterator()
        while let token = tokens.next() {
            let quotes = token.utf8.count(where: { $0 == UInt8(ascii: "\"") })
            defer {
                if quotes % 2 == 1 { quoted.toggle() }
                previous = token
            }
            if quoted || quotes > 0 || (token != "-p" && token != "--protocol") { continue }
            guard previous != "!", let name = tokens.next(), name != "!" else { return nil }
            guard let number = IPProtocol.number(String(name)), number != 0 else { return nil }
            return number
        }
        return nil
    }
}
