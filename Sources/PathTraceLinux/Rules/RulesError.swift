#if os(Linux)
import Glibc
import PathTraceCore

/// Everything that can go wrong installing, removing or recording trace rules.
public enum RulesError: Error, Equatable, CustomStringConvertible {
    /// A program is not installed; `package` is the Debian package that provides it.
    case missingBinary(String, package: String)
    /// A program ran and failed.
    case commandFailed(argv: [String], status: Int32, stderr: String)
    /// A system call failed while starting or talking to a program.
    case system(operation: String, errno: Int32)
    case invalidNamespace(String)
    /// `/run/netns/NAME` does not exist.
    case namespaceMissing(String)
    /// A sysctl held or was to be given a value that is not a plain word.
    case unexpectedSysctlValue(key: String, value: String)
    case stateFile(path: String, reason: String)
    /// The session was torn down (a signal) while installing.
    case cancelled
    case plan(TraceRulePlanError)

    public var description: String {
        switch self {
        case .missingBinary(let program, let package):
            return "\(program) not found; install the Debian package '\(package)' (apt-get install \(package))"
        case .commandFailed(let argv, let status, let stderr):
            let detail = stderr.split(separator: "\n").first.map { ": \($0)" } ?? ""
            return "\(PlannedCommand(argv)) failed with status \(status)\(detail)"
        case .system(let operation, let errno):
            return "\(operation) failed: \(String(cString: strerror(errno)))"
        case .invalidNamespace(let name): return "--netns: '\(name)' is not a namespace name"
        case .namespaceMissing(let name): return "network namespace '\(name)' does not exist"
        case .unexpectedSysctlValue(let key, let value): return "\(key) holds an unexpected value '\(value)'"
        case .stateFile(let path, let reason): return "\(path): \(reason)"
        case .cancelled: return "interrupted while installing trace rules; what was installed has been removed"
        case .plan(let e): return e.description
        }
    }
}
#endif
