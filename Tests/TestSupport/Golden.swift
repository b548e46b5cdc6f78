import Foundation
import Testing

/// Compares text with a golden file under Fixtures/golden/; `RECORD_GOLDEN=1` rewrites it.
public func assertGolden(
    _ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let url = Fixtures.url("golden/\(name)")
    if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1" {
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try actual.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        Issue.record("golden file \(name) is missing; run with RECORD_GOLDEN=1", sourceLocation: sourceLocation)
        return
    }
    if expected != actual {
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var diff: [String] = []
        for i in 0..<max(e.count, a.count) {
            let el = i < e.count ? String(e[i]) : "<none>"
            let al = i < a.count ? String(a[i]) : "<none>"
            if el != al { diff.append("line \(i + 1):\n- \(el)\n+ \(al)") }
            if diff.count >= 8 { break }
        }
        let message = "\(name) differs from golden:\n" + diff.joined(separator: "\n")
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
    }
}
