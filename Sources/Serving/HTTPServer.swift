// The OpenAI-compatible HTTP server over a ChatService, on Hummingbird 2.
//
//   POST /v1/chat/completions   JSON answer, or server-sent events ending with `data: [DONE]`
//   GET  /v1/models             the one model this server holds
//   GET  /health                200 {"status": "ok", "model", "requests", "batches", "largest_batch"}
//                               (no key needed)
//
// Every refusal is the API's error object (`{"error": {"message", "type", "param", "code"}}`)
// with 400 (malformed JSON, wrong types, bad values), 401 (missing or wrong key), 404 (unknown
// model), 413 (a prompt longer than the context, or a body over 8 MiB); nothing a client sends
// stops the server. With an API key set, /v1 routes need `Authorization: Bearer KEY`.

import Foundation
import Hummingbird
import Logging
import NIOCore

public struct ServerOptions: Sendable {
    public var host: String
    /// 0 picks a free port; `onListening` is told which.
    public var port: Int
    public var apiKey: String?

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKey: String? = nil) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
    }
}

struct Health: Encodable {
    var status = "ok"
    var model: String
    var counters: ServiceCounters
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(status, forKey: Key("status"))
        try c.encode(model, forKey: Key("model"))
        try counters.encode(to: encoder)
    }
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

public enum HTTPServer {
    static let maxBody = 8 << 20

    /// Serves `service` until SIGINT or SIGTERM (when `installSignalHandlers`) or until the task
    /// is cancelled; `onListening(port)` runs once the socket is bound.
    public static func run(_ service: ChatService, options: ServerOptions, installSignalHandlers: Bool = true,
                           onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let router = Router()
        let key = options.apiKey
        router.get("health") { _, _ in json(Health(model: service.modelName, counters: service.statistics)) }
        router.get("v1/models") { request, _ in
            if let refusal = authorize(request, key) { return error(refusal) }
            return json(service.models)
        }
        router.post("v1/chat/completions") { request, _ in
            if let refusal = authorize(request, key) { return error(refusal) }
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxBody)
            } catch {
                return Self.error(APIError(status: 413, message: "the request body is over \(maxBody >> 20) MiB"))
            }
            let completion: ChatCompletionRequest
            do {
                completion = try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(buffer: body))
            } catch let e as DecodingError {
                return error(APIError(status: 400, message: e.apiDescription, param: e.apiParam))
            } catch {
                return Self.error(APIError(status: 400, message: "the body is not valid JSON"))
            }
            do {
                if completion.stream == true { return try stream(service, completion) }
                return json(try await service.complete(completion))
            } catch {
                return Self.error(error)
            }
        }
        let app = Application(router: router, configuration: .init(address: .hostname(options.host, port: options.port),
                                                                    serverName: "ponder"),
                              onServerRunning: { channel in onListening(channel.localAddress?.port ?? options.port) },
                              logger: quietLogger)
        try await app.runService(gracefulShutdownSignals: installSignalHandlers ? [.sigterm, .sigint] : [])
        service.shutdown()
    }

    /// Server-sent events: a first chunk with the role, text chunks, a last chunk per choice with
    /// its finish reason, a usage chunk when `stream_options.include_usage`, then `[DONE]`.
    static func stream(_ service: ChatService, _ request: ChatCompletionRequest) throws(APIError) -> Response {
        let events = try service.submit(request)
        let id = ChatService.newID(), created = Int(Date().timeIntervalSince1970), model = service.modelName
        let n = request.n ?? 1, includeUsage = request.streamOptions?.includeUsage ?? false
        let wantLogprobs = request.logprobs ?? false
        let body = ResponseBody { writer in
            func send(_ choices: [ChunkChoice], usage: Usage? = nil) async throws {
                let chunk = ChatCompletionChunk(id: id, created: created, model: model, choices: choices, usage: usage)
                var buffer = ByteBuffer(string: "data: ")
                buffer.writeBytes(try JSONEncoder.api.encode(chunk))
                buffer.writeString("\n\n")
                try await writer.write(buffer)
            }
            try await send((0..<n).map { ChunkChoice(index: $0, delta: ChunkDelta(role: "assistant", content: "")) })
            for await event in events {
                switch event {
                case .text(let i, let text, let lps):
                    try await send([ChunkChoice(index: i, delta: ChunkDelta(content: text),
                                                logprobs: wantLogprobs ? ChoiceLogprobs(content: lps) : nil)])
                case .finished(let i, let reason):
                    try await send([ChunkChoice(index: i, delta: ChunkDelta(), finishReason: reason)])
                case .done(let usage):
                    if includeUsage { try await send([], usage: usage) }
                }
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Warnings and errors only: the caller prints its own "listening on" line.
    static var quietLogger: Logger {
        var logger = Logger(label: "ponder-serve")
        logger.logLevel = .warning
        return logger
    }

    static func authorize(_ request: Request, _ key: String?) -> APIError? {
        guard let key else { return nil }
        if request.headers[.authorization] == "Bearer \(key)" { return nil }
        return APIError(status: 401, message: request.headers[.authorization] == nil
                            ? "no API key given; send Authorization: Bearer KEY"
                            : "the API key is not this server's", code: "invalid_api_key")
    }

    static func json(_ value: some Encodable) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let data = (try? JSONEncoder.api.encode(value)) ?? Data("{}".utf8)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ error: any Error) -> Response {
        let api = error as? APIError ?? APIError(status: 500, message: "\(error)", type: "server_error")
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: HTTPResponse.Status(code: api.status), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(bytes: api.json())))
    }
}
