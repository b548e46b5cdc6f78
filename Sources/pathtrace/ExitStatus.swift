/// How pathtrace ends: every exit status it uses, defined here only. `--help`, the README's table and the
/// man page list these cases in this order.
enum ExitStatus: Int32, CaseIterable {
    /// Everything went as asked.
    case success = 0
    /// An input, ruleset, topology or lab file could not be read, an output file could not be written,
    /// live tracing could not start, a rule could not be removed, or a lab's trace differs from what the
    /// lab expects; the message says which.
    case failure = 1
    /// Bad usage: an option's value, an unknown namespace, lab or packet; the message names the option.
    case usage = 2
    /// `replay --strict` skipped lines it could not read as trace records.
    case skippedLines = 3
    /// Live tracing, `lab`, `cleanup` or another namespace's topology without CAP_NET_ADMIN; nothing was
    /// changed.
    case noNetAdmin = 4

    /// One line (under 75 characters) for the help text and the README's table.
    var summary: String {
        switch self {
        case .success: return "ok"
        case .failure: return "failed; the message says what (unreadable input, a removal, a lab check)"
        case .usage: return "bad usage; the message names the option"
        case .skippedLines: return "replay --strict skipped lines"
        case .noNetAdmin: return "no CAP_NET_ADMIN for live tracing, labs, cleanup or another namespace"
        }
    }

    /// The help text's list: `  0  ok` a line.
    static var helpText: String {
        allCases.map { "  \($0.rawValue)  \($0.summary)" }.joined(separator: "\n")
    }
}
