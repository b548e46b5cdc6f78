/// Tracks a double-quoted string (a comment, an nft prefix) while a ruleset line is split into
/// tokens: inside it, blanks, braces and semicolons belong to the token, and `\"` does not end it.
struct QuotedRun {
    private var inQuote = false
    private var escaped = false

    /// True when `ch` opens, continues or closes a quoted string (the caller keeps it in the token).
    mutating func take(_ ch: Character) -> Bool {
        if inQuote {
            if escaped {
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else if ch == "\"" {
                inQuote = false
            }
            return true
        }
        if ch == "\"" {
            inQuote = true
            return true
        }
        return false
    }
}
