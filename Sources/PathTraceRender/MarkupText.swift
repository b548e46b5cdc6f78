/// Escaping shared by the SVG and DOT renderers (flow diagrams, topology).
enum MarkupText {
    /// XML text and attribute escaping (SVG, and DOT's HTML-like labels).
    static func xml(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A DOT quoted string: `"` and `\` escaped, a newline as `\n`.
    static func dotQuoted(_ s: String) -> String {
        var out = "\""
        for c in s {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out + "\""
    }
}
