#if os(Linux)
/// Why a live trace could not start or run; the CLI maps each case to an exit code.
public enum LiveTraceError: Error, Equatable, CustomStringConvertible {
    /// The process cannot administer the network (`ExitStatus.noNetAdmin`); nothing was changed.
    case noNetAdmin
    /// A value the user gave cannot be traced (`ExitStatus.usage`).
    case usage(String)
    /// Tracing could not start, or its rules could not be installed (`ExitStatus.failure`); the text says why.
    case failed(String)

    public var description: String {
        switch self {
        case .noNetAdmin: return "this needs CAP_NET_ADMIN (run as root); nothing was changed"
        case .usage(let why), .failed(let why): return why
        }
    }
}
#endif
