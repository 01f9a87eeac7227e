// Where a judge's replies come from: anything that answers OpenAI chat-completion requests.
//
// - `OpenAIBackend`: any OpenAI-compatible endpoint over HTTP (`ponder serve`, llama.cpp's
//   server, vLLM, Ollama, hosted APIs), through async-http-client, with a key read from a named
//   environment variable, a timeout per call, retries with exponential backoff on connection
//   failures, 429 and 5xx (never on other 4xx: the request itself is wrong), and a cap on calls
//   in flight.
// - `LocalBackend`: a checkpoint answered in process by a `ChatService` (the server's batching
//   without HTTP).
// A call that fails after its retries throws `JudgeCallError`; the judge records it as a failure.

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Serving

public protocol JudgeBackend: Sendable {
    /// Names the backend and its model in the cache key and in reports.
    var identity: String { get }
    /// The model name sent in requests.
    var model: String { get }
    func complete(_ request: ChatCompletionRequest) async throws -> ChatCompletionResponse
}

public struct JudgeCallError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public final class LocalBackend: JudgeBackend {
    public let service: ChatService
    public let identity: String
    public var model: String { service.modelName }

    public init(service: ChatService, identity: String) {
        self.service = service
        self.identity = identity
    }

    public func complete(_ request: ChatCompletionRequest) async throws -> ChatCompletionResponse {
        do { return try await service.complete(request) } catch { throw JudgeCallError("\(error)") }
    }
}

public final class OpenAIBackend: JudgeBackend {
    public let baseURL: String
    public let model: String
    let apiKey: String?
    let timeout: TimeAmount
    let retries: Int
    let limiter: Limiter
    /// "URL MODEL", unless the caller names the judge otherwise (a `serve:` judge's port changes
    /// from run to run; its checkpoint does not, and the cache should hit across runs).
    public let identity: String

    /// `baseURL` ends before `/chat/completions` (e.g. `http://127.0.0.1:8080/v1`).
    public init(baseURL: String, model: String, apiKey: String?, timeoutSeconds: Double = 60, retries: Int = 3, concurrency: Int = 16,
                identity: String? = nil) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.identity = identity ?? "\(self.baseURL) \(model)"
        self.model = model
        self.apiKey = apiKey
        timeout = .milliseconds(Int64(timeoutSeconds * 1000))
        self.retries = retries
        limiter = Limiter(max(1, concurrency))
    }

    public func complete(_ request: ChatCompletionRequest) async throws -> ChatCompletionResponse {
        await limiter.acquire()
        defer { Task { await limiter.release() } }
        var http = HTTPClientRequest(url: baseURL + "/chat/completions")
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey { http.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        http.body = .bytes(ByteBuffer(bytes: try JSONEncoder.api.encode(request)))
        var attempt = 0
        while true {
            let retryable: String
            do {
                let response = try await judgeHTTPClient.execute(http, timeout: timeout)
                let body = try await response.body.collect(upTo: 16 << 20)
                let data = Data(buffer: body)
                if response.status == .ok {
                    do {
                        return try JSONDecoder().decode(ChatCompletionResponse.self, from: data)
                    } catch {
                        throw JudgeCallError("\(baseURL): the answer is not a chat completion: \(error)")
                    }
                }
                let message = String(decoding: data.prefix(500), as: UTF8.self)
                guard response.status == .tooManyRequests || response.status.code >= 500 else {
                    throw JudgeCallError("\(baseURL): HTTP \(response.status.code): \(message)")
                }
                retryable = "HTTP \(response.status.code): \(message)"
            } catch let error as JudgeCallError {
                throw error
            } catch {
                retryable = "\(error)"
            }
            guard attempt < retries else {
                throw JudgeCallError("\(baseURL): failed after \(retries + 1) attempts: \(retryable)")
            }
            try await Task.sleep(nanoseconds: UInt64(250_000_000 * (1 << attempt)))
            attempt += 1
        }
    }
}

/// One client for the process (never shut down, like `HTTPClient.shared`), which fails a refused
/// connection at once instead of retrying it until the request's deadline: the backend's own
/// retries, with backoff, decide when to give up, and a stopped judge costs seconds, not minutes.
let judgeHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(10)
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
}()

/// At most `count` holders at once; the others wait in arrival order.
actor Limiter {
    private var available: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { available = count }

    func acquire() async {
        if available > 0 { available -= 1; return }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { available += 1 } else { waiting.removeFirst().resume() }
    }
}
