import Foundation

/// Reads and writes topology snapshots (`pathtrace topology --save`, `replay --topology`).
public enum TopologyFile {
    /// Reads the snapshot at `path`; a newer `format` is refused with `TopologyError.newerFormat`.
    public static func load(_ path: String) throws -> Topology {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TopologyError.invalid(source: path, why: "cannot be read")
        }
        return try Topology.decode(data, source: path)
    }

    /// The snapshot as JSON: pretty-printed, keys sorted, ending in a newline.
    public static func encode(_ topology: Topology) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(topology)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Writes `encode(topology)` to `path`.
    public static func save(_ topology: Topology, to path: String) throws {
        try encode(topology).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
