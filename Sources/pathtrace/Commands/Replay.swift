import ArgumentParser
import PathTraceCore

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reconstruct packet walks from saved trace output.")
    @Argument var files: [String] = []
    func run() async throws {}
}
