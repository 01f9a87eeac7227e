// `ponder serve` run as a subprocess on a free loopback port, for tests that talk to it over HTTP.
import Foundation

public final class ServedCheckpoint: @unchecked Sendable {
    public let process = Process()
    public let port: Int
    public let key: String
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    private var stopped: Int32?

    /// Starts the server and waits (up to 60 s) for its "listening on" line.
    public init(ponder: URL, checkpoint: URL, key: String, extra: [String] = []) throws {
        self.key = key
        process.executableURL = ponder
        process.arguments = ["serve", checkpoint.path, "--port", "0", "--api-key-env", "PONDER_TEST_SERVE_KEY"] + extra
        process.environment = ProcessInfo.processInfo.environment.merging(["PONDER_TEST_SERVE_KEY": key]) { _, new in new }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = ""
        let deadline = Date().addingTimeInterval(60)
        var found: Int?
        while found == nil && Date() < deadline && process.isRunning {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            seen += String(decoding: data, as: UTF8.self)
            if let range = seen.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                found = Int(seen[range].split(separator: ":").last!)
            }
        }
        guard let found else {
            process.terminate()
            throw ServeError(message: "ponder serve did not start: \(seen)")
        }
        port = found
        // Keep draining stdout so the server never blocks on a full pipe.
        Thread.detachNewThread { while !out.fileHandleForReading.availableData.isEmpty {} }
    }

    /// SIGKILL: the server vanishes mid-conversation, as a crashed judge would.
    public func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        stopped = process.terminationStatus
    }

    /// SIGTERM, then waits; returns the exit status (idempotent).
    @discardableResult
    public func stop() -> Int32 {
        if let stopped { return stopped }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        stopped = process.terminationStatus
        return process.terminationStatus
    }

    public struct ServeError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}
