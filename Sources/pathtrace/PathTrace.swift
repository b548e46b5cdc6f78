import ArgumentParser
import PathTraceCore

@main
struct PathTrace: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pathtrace",
        abstract: "Show where a packet went inside netfilter: tables, chains, verdicts and NAT.",
        subcommands: [Replay.self],
        defaultSubcommand: Replay.self
    )
}
