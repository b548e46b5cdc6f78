import PathTraceCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads a file (or stdin for `-`) in large chunks; bounded memory whatever the file size.
struct InputFile: ByteSource {
    let path: String

    /// Steps cite standard input as `stdin:N`.
    var name: String { path == "-" ? "stdin" : path }
    let fd: Int32

    init(path: String) throws {
        self.path = path
        if path == "-" {
            fd = 0
            return
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CLIFailure.unreadable("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            Glibc.close(fd)
            throw CLIFailure.unreadable("cannot read \(path): it is a directory")
        }
        self.fd = fd
    }

    /// Calls `body` with each chunk read until end of file.
    func forEachChunk(_ body: (UnsafeBufferPointer<UInt8>) -> Void) throws {
        let size = 1 << 20
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer, size)
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIFailure.unreadable("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return }
            body(UnsafeBufferPointer(start: buffer, count: n))
        }
    }

    func close() {
        if fd > 2 { _ = Glibc.close(fd) }
    }
}
