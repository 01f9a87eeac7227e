// A checkpoint served over loopback HTTP for the length of a run: what `backend: {serve: DIR}`
// asks for. The judge then talks to it exactly as to any OpenAI-compatible endpoint (the same
// client, the same failures), while the run owns its lifetime: `stop()` (or releasing the last
// reference) shuts the server down.

import Foundation
import Serving

public final class ServedJudge: @unchecked Sendable {
    public let service: ChatService
    public let port: Int
    private let task: Task<Void, Never>
    private let lock = NSLock()
    private var stopped = false

    /// Starts `service` on a free port of 127.0.0.1 and waits until it listens.
    public init(service: ChatService) throws {
        self.service = service
        final class PortBox: @unchecked Sendable { var port: Int?; var error: String? }
        let box = PortBox()
        let ready = DispatchSemaphore(value: 0)
        task = Task.detached {
            do {
                try await HTTPServer.run(service, options: ServerOptions(host: "127.0.0.1", port: 0),
                                         installSignalHandlers: false) { port in
                    box.port = port
                    ready.signal()
                }
            } catch {
                box.error = "\(error)"
                ready.signal()
            }
        }
        ready.wait()
        guard let port = box.port else {
            throw JudgeCallError("could not start the judge's server: \(box.error ?? "unknown error")")
        }
        self.port = port
    }

    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    public func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        task.cancel()
        service.shutdown()
    }

    deinit { stop() }
}
