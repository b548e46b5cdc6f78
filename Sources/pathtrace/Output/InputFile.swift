import PathTraceCore
import PathTraceLinux
import SystemPackage

/// Reads a file (or stdin for `-`); bounded memory whatever the file size. A regular file is mapped and
/// parsed in place (`MappedFile`); standard input, pipes, what `mmap` refuses, and whatever was appended
/// to a file after it was opened are read in large chunks.
struct InputFile: ByteSource {
    let path: String

    /// Steps cite standard input as `stdin:N`.
    var name: String { path == "-" ? "stdin" : path }
    let fd: FileDescriptor

    init(path: String) throws {
        self.path = path
        if path == "-" {
            fd = .standardInput
            return
        }
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly, options: .closeOnExec)
        } catch {
            throw CLIFailure.unreadable("cannot read \(path): \(error)")
        }
        if (try? fd.stat().type) == .directory {
            try? fd.close()
            throw CLIFailure.unreadable("cannot read \(path): it is a directory")
        }
        self.fd = fd
    }

    /// Calls `body` with each chunk until end of file.
    func forEachChunk(_ body: (UnsafeBufferPointer<UInt8>) -> Void) throws {
        if fd != .standardInput, let mapped = MappedFile(fd, name: path) {
            let end = mapped.forEachWindow(body)
            do {
                _ = try fd.seek(offset: Int64(end), from: .start)
            } catch {
                throw CLIFailure.unreadable("cannot read \(path): \(error)")
            }
        }
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            let n: Int
            do {
                n = try fd.read(into: buffer)
            } catch {
                throw CLIFailure.unreadable("cannot read \(path): \(error)")
            }
            if n == 0 { return }
            body(UnsafeBufferPointer(start: buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), count: n))
        }
    }

    func close() {
        if fd != .standardInput { try? fd.close() }
    }
}
