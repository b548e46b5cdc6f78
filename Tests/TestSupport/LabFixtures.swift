import Foundation
import PathTraceCore

/// Lab files from `Fixtures/labs` with a namespace prefix of the test's own, so a lab a developer left up
/// (or another test's) cannot collide.
extension Fixtures {
    /// The lab `name`, decoded, its prefix replaced by `prefix`.
    public static func lab(_ name: String, prefix: String) throws -> LabSpec {
        var spec = try LabSpec.decode(try Data(contentsOf: url("labs/\(name).json")), source: name)
        spec.prefix = prefix
        return spec
    }

    /// A copy of the lab file `name` with `prefix` for the CLI to run, written into `directory` as
    /// `<name>.json` (the temporary directory: `<prefix>-<name>.json`); returns its path.
    public static func labFile(_ name: String, prefix: String, in directory: String? = nil) throws -> String {
        let text = try self.text("labs/\(name).json").replacingOccurrences(
            of: #""prefix": "[a-z0-9]+""#, with: "\"prefix\": \"\(prefix)\"", options: .regularExpression)
        let path = directory.map { "\($0)/\(name).json" } ?? NSTemporaryDirectory() + "\(prefix)-\(name).json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
