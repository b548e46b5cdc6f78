/// Counts skipped lines by reason and keeps the first positions of each for the summary.
public struct SkipReport: Sendable {
    public private(set) var count = 0
    private var reasons: [(reason: String, count: Int, first: [SourcePosition])] = []
    private let maxReasons = 8

    public init() {}

    public mutating func add(_ line: SkippedLine) {
        count += 1
        let reason = reasons.count < maxReasons || reasons.contains { $0.reason == line.reason } ? line.reason : "other"
        if let i = reasons.firstIndex(where: { $0.reason == reason }) {
            reasons[i].count += 1
            if reasons[i].first.count < 3 { reasons[i].first.append(line.source) }
        } else {
            reasons.append((reason, 1, [line.source]))
        }
    }

    /// `733 × not a trace or log record (first: stdin:1, stdin:2, stdin:3)`, one line per reason.
    public func summaryLines() -> [String] {
        reasons.map { r in
            let more = r.count > r.first.count ? ", …" : ""
            return "\(r.count) × \(r.reason) (first: \(r.first.map(\.description).joined(separator: ", "))\(more))"
        }
    }
}

/// `1 walk`, `2 walks`.
public func plural(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }
