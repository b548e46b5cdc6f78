import Foundation
import PathTraceCore

/// `pathtrace topology --format json` (and `--save`): the snapshot as one pretty-printed JSON object with
/// its keys sorted, the form `TopologyFile.load` reads back.
public enum TopologyJSON {
    public static func render(_ topology: Topology) throws -> String {
        String(decoding: try TopologyFile.encode(topology), as: UTF8.self)
    }
}
