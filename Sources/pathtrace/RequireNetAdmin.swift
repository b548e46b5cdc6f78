import PathTraceLinux

/// Exits `noNetAdmin` with a message, before anything is touched, when the process cannot administer the network.
func requireNetAdmin() throws {
    if !Capabilities.hasNetAdmin() {
        throw CLIFailure.noNetAdmin(LiveTraceError.noNetAdmin.description)
    }
}
