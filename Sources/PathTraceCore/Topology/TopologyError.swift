/// Problems reading a topology snapshot.
public enum TopologyError: Error, Equatable, CustomStringConvertible {
    /// The file says `format` N, newer than this pathtrace reads.
    case newerFormat(source: String, format: Int, known: Int)
    /// Not a topology: unreadable, not JSON, or a required key is missing.
    case invalid(source: String, why: String)

    public var description: String {
        switch self {
        case .newerFormat(let source, let format, let known):
            return "topology \(source): format \(format) is newer than this pathtrace reads (up to \(known)); "
                + "update pathtrace"
        case .invalid(let source, let why): return "topology \(source): \(why)"
        }
    }
}
