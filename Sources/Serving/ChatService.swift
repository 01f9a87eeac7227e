// ChatService: a checkpoint answering chat-completion requests, concurrent ones batched.
//
// One worker thread owns the engine. Requests wait in a queue; whenever the engine is free the
// worker takes every waiting request that fits in its slots (a request with n choices takes n)
// and decodes them together, each with its own sampling settings and random stream
// (`Engine.generate(_:observe:)`). Requests that arrive while a batch decodes join the next one.
// Each request receives its text as events while it is generated, so streaming and collecting
// are the same path. Stop strings are cut from the text (held back while they might still
// begin); a consumer that goes away ends its sequences at the next token.
//
// Validation here is the API's: every refusal is an `APIError` with the status and the field.
// Not here: HTTP (HTTPServer.swift), tool calls (a served model answers without tools).

import Foundation
import Model
import PonderCore
import Tokenization

/// What a request receives while it is answered.
public enum CompletionEvent: Sendable {
    /// New text of one choice, with the log-probabilities of the tokens it came from (when asked).
    case text(choice: Int, String, [TokenLogprob])
    case finished(choice: Int, reason: String)
    /// The last event: token counts of the whole request.
    case done(Usage)
}

public final class ChatService: @unchecked Sendable {
    public let modelName: String
    /// The model's context: prompt and completion together.
    public let contextLength: Int
    /// The most sequences decoded at once (a request with n choices counts n).
    public let maxBatch: Int
    public let tokenizer: Tokenizer
    let engine: Engine
    let created = Int(Date().timeIntervalSince1970)

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var counters = ServiceCounters()
    private var stopping = false

    /// Loads `checkpoint` (weights and tokenizer); the model's name defaults to the directory's.
    public convenience init(checkpoint: URL, modelName: String? = nil, maxBatch: Int = 32) throws {
        let (model, _) = try Checkpoint.load(from: checkpoint)
        let tokenizer = try Tokenizer.load(checkpointDirectory: checkpoint)
        self.init(model: model, tokenizer: tokenizer, modelName: modelName ?? checkpoint.standardizedFileURL.lastPathComponent,
                  maxBatch: maxBatch)
    }

    public init(model: Transformer, tokenizer: Tokenizer, modelName: String, maxBatch: Int = 32) {
        self.modelName = modelName
        self.tokenizer = tokenizer
        self.maxBatch = max(1, maxBatch)
        contextLength = model.config.maxSeqLen
        engine = Engine(model: model, sequences: self.maxBatch, maxLength: contextLength)
        let worker = Thread { [unowned self] in self.work() }
        worker.name = "ponder-serve-engine"
        worker.stackSize = 8 << 20
        worker.start()
    }

    /// Stops the worker after the batch it is decoding; waiting requests end with no choices.
    public func shutdown() {
        condition.lock()
        stopping = true
        let waiting = queue
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
        for job in waiting { job.continuation.finish() }
    }

    public var models: ModelList { ModelList(data: [ModelCard(id: modelName, created: created)]) }

    /// What the server has done so far (GET /health reports it).
    public var statistics: ServiceCounters { condition.withLock { counters } }

    // MARK: Requests

    /// Checks `request`, renders its prompt and queues it; its answer arrives as events.
    public func submit(_ request: ChatCompletionRequest) throws(APIError) -> AsyncStream<CompletionEvent> {
        let job = try prepare(request)
        let (stream, continuation) = AsyncStream<CompletionEvent>.makeStream()
        job.continuation = continuation
        continuation.onTermination = { _ in job.cancel() }
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw APIError(status: 503, message: "the server is shutting down", type: "server_error") }
        queue.append(job)
        condition.signal()
        return stream
    }

    /// Answers `request` whole (no streaming).
    public func complete(_ request: ChatCompletionRequest) async throws(APIError) -> ChatCompletionResponse {
        let stream = try submit(request)
        let n = request.n ?? 1
        var text = [String](repeating: "", count: n)
        var logprobs = [[TokenLogprob]](repeating: [], count: n)
        var reasons = [String?](repeating: nil, count: n)
        var usage: Usage?
        for await event in stream {
            switch event {
            case .text(let i, let piece, let lps): text[i] += piece; logprobs[i] += lps
            case .finished(let i, let reason): reasons[i] = reason
            case .done(let u): usage = u
            }
        }
        guard let usage else { throw APIError(status: 503, message: "the server stopped before answering", type: "server_error") }
        let wantLogprobs = request.logprobs ?? false
        return ChatCompletionResponse(
            id: Self.newID(), created: Int(Date().timeIntervalSince1970), model: modelName,
            choices: (0..<n).map { i in
                ChatCompletionChoice(index: i, message: ChatMessage(role: "assistant", content: text[i]),
                                     logprobs: wantLogprobs ? ChoiceLogprobs(content: logprobs[i]) : nil,
                                     finishReason: reasons[i] ?? "stop")
            },
            usage: usage)
    }

    static func newID() -> String {
        "chatcmpl-" + String((0..<24).map { _ in "0123456789abcdefghijklmnopqrstuvwxyz".randomElement()! })
    }

    /// The API's checks, in the order a client would fix them.
    func prepare(_ r: ChatCompletionRequest) throws(APIError) -> Job {
        guard r.model == modelName else {
            throw APIError(status: 404, message: "the model \"\(r.model)\" does not exist; this server has \"\(modelName)\"",
                           param: "model", code: "model_not_found")
        }
        func bad(_ param: String, _ message: String) -> APIError { APIError(status: 400, message: message, param: param) }
        guard !r.messages.isEmpty else { throw bad("messages", "messages must hold at least one message") }
        var messages: [Message] = []
        for (i, m) in r.messages.enumerated() {
            guard let role = Role(rawValue: m.role) else {
                throw bad("messages", "messages[\(i)].role: \"\(m.role)\" is not one of system, user, assistant")
            }
            messages.append(Message(role: role, text: m.content))
        }
        let temperature = r.temperature ?? 1, topP = r.topP ?? 1, n = r.n ?? 1
        guard (0...2).contains(temperature) else { throw bad("temperature", "temperature must be between 0 and 2, not \(temperature)") }
        guard topP > 0 && topP <= 1 else { throw bad("top_p", "top_p must be in (0, 1], not \(topP)") }
        guard n >= 1 && n <= maxBatch else { throw bad("n", "n must be between 1 and \(maxBatch) (the server's batch), not \(n)") }
        let stops = r.stop?.values ?? []
        guard stops.count <= 4, stops.allSatisfy({ !$0.isEmpty }) else { throw bad("stop", "stop takes at most 4 non-empty strings") }
        let top = r.topLogprobs ?? 0
        guard (0...20).contains(top) else { throw bad("top_logprobs", "top_logprobs must be between 0 and 20, not \(top)") }
        guard top == 0 || r.logprobs == true else { throw bad("top_logprobs", "top_logprobs needs logprobs: true") }
        let maxTokens = r.maxCompletionTokens ?? r.maxTokens
        if let maxTokens, maxTokens < 1 { throw bad("max_tokens", "max_tokens must be at least 1, not \(maxTokens)") }

        let prompt: [Int32]
        do {
            prompt = try tokenizer.renderForCompletion(Conversation(messages))
        } catch {
            throw bad("messages", "\(error)")
        }
        guard prompt.count < contextLength else {
            throw APIError(status: 413, message: "the prompt has \(prompt.count) tokens; the model's context holds \(contextLength) (prompt and completion together)",
                           param: "messages", code: "context_length_exceeded")
        }
        // A completion longer than the context allows is cut at the context (finish reason "length").
        let room = contextLength - prompt.count
        let parameters = SamplingParameters(temperature: Float(temperature), topP: Float(topP),
                                            maxNewTokens: min(maxTokens ?? room, room), stopTokens: [tokenizer.endOfTurnID])
        let seeds: [UInt64] = (0..<n).map { i in
            if let seed = r.seed { return UInt64(bitPattern: seed) &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15 }
            return UInt64.random(in: .min ... .max)
        }
        let wantLogprobs = r.logprobs ?? false
        return Job(requests: seeds.map { GenerationRequest(prompt: prompt, parameters: parameters, rng: RNG(seed: $0),
                                                           topLogProbs: wantLogprobs ? max(top, 1) : 0) },
                   stops: stops, reportTop: wantLogprobs ? top : -1)
    }

    // MARK: The worker

    private func work() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if stopping { condition.unlock(); return }
            var batch: [Job] = []
            var used = 0
            while let job = queue.first, used + job.requests.count <= maxBatch {
                batch.append(queue.removeFirst())
                used += job.requests.count
            }
            let live = batch.filter { !$0.isCancelled }
            counters.batches += live.isEmpty ? 0 : 1
            counters.requests += live.count
            counters.largestBatch = max(counters.largestBatch, live.reduce(0) { $0 + $1.requests.count })
            condition.unlock()
            run(live)
        }
    }

    private func run(_ batch: [Job]) {
        guard !batch.isEmpty else { return }
        var owners: [(job: Job, choice: Int)] = []
        var requests: [GenerationRequest] = []
        for job in batch {
            for (i, request) in job.requests.enumerated() {
                owners.append((job, i))
                requests.append(request)
            }
        }
        var texts = owners.map { TextStream(tokenizer: tokenizer, stops: $0.job.stops) }
        let results = engine.generate(requests) { s, token, reported in
            let (job, choice) = owners[s]
            if job.isCancelled { return false }
            let (piece, stopped) = texts[s].push(token)
            let lps = job.reportTop >= 0 ? reported.map { [self.wire($0, top: job.reportTop)] } ?? [] : []
            if !piece.isEmpty || !lps.isEmpty { job.continuation.yield(.text(choice: choice, piece, lps)) }
            return !stopped
        }
        for (s, result) in results.enumerated() {
            let (job, choice) = owners[s]
            let rest = texts[s].finish()
            if !rest.isEmpty { job.continuation.yield(.text(choice: choice, rest, [])) }
            job.continuation.yield(.finished(choice: choice, reason: result.generation.finishReason == .length ? "length" : "stop"))
        }
        var start = 0
        for job in batch {
            let generated = results[start..<start + job.requests.count].reduce(0) { $0 + $1.generation.tokens.count }
            start += job.requests.count
            let prompt = job.requests[0].prompt.count
            job.continuation.yield(.done(Usage(promptTokens: prompt, completionTokens: generated, totalTokens: prompt + generated)))
            job.continuation.finish()
        }
    }

    func wire(_ p: PositionLogProbs, top: Int) -> TokenLogprob {
        func piece(_ t: TokenLogProb) -> TopLogprob {
            let bytes = Array(tokenizer.bytes(of: t.token))
            return TopLogprob(token: String(decoding: bytes, as: UTF8.self), logprob: Double(t.logProb), bytes: bytes)
        }
        let chosen = piece(p.chosen)
        return TokenLogprob(token: chosen.token, logprob: chosen.logprob, bytes: chosen.bytes, topLogprobs: p.top.prefix(top).map(piece))
    }
}

public struct ServiceCounters: Codable, Sendable, Equatable {
    public var requests = 0
    public var batches = 0
    /// The most sequences one batch decoded together.
    public var largestBatch = 0
    enum CodingKeys: String, CodingKey { case requests, batches, largestBatch = "largest_batch" }
}

/// One request in the queue: its sequences, its stop strings, and where its events go.
final class Job: @unchecked Sendable {
    let requests: [GenerationRequest]
    let stops: [String]
    /// How many alternatives each token reports; -1 when the request did not ask for logprobs.
    let reportTop: Int
    var continuation: AsyncStream<CompletionEvent>.Continuation!
    private let lock = NSLock()
    private var cancelled = false

    init(requests: [GenerationRequest], stops: [String], reportTop: Int) {
        self.requests = requests
        self.stops = stops
        self.reportTop = reportTop
    }

    var isCancelled: Bool { lock.withLock { cancelled } }
    func cancel() { lock.withLock { cancelled = true } }
}

/// A sequence's text as it is decoded: whole characters only, stop strings cut, and any tail
/// that might begin a stop string held back until the next token decides.
struct TextStream {
    var decoder: StreamingDecoder
    let stops: [[UInt8]]
    /// The longest stop string's length: a new stop can only begin this far before the sent text's end.
    let longest: Int
    var bytes: [UInt8] = []
    var sent = 0
    var stopped = false

    init(tokenizer: Tokenizer, stops: [String]) {
        decoder = StreamingDecoder(tokenizer: tokenizer, skipSpecial: false)
        self.stops = stops.map { Array($0.utf8) }
        longest = self.stops.map(\.count).max() ?? 0
    }

    /// Adds a token; returns the text that is now safe to send, and whether a stop string ended it.
    mutating func push(_ token: Int32) -> (String, Bool) {
        bytes.append(contentsOf: decoder.push(token).utf8)
        if let cut = firstStop(from: max(0, sent - longest)) {
            stopped = true
            return (take(upTo: cut), true)
        }
        return (take(upTo: bytes.count - heldBack()), false)
    }

    /// The rest of the text once the sequence has ended (nothing after a stop string).
    mutating func finish() -> String {
        if stopped { return "" }
        bytes.append(contentsOf: decoder.finish().utf8)
        if let cut = firstStop(from: max(0, sent - longest)) { return take(upTo: cut) }
        return take(upTo: bytes.count)
    }

    private mutating func take(upTo end: Int) -> String {
        guard end > sent else { return "" }
        defer { sent = end }
        return String(decoding: bytes[sent..<end], as: UTF8.self)
    }

    private func firstStop(from start: Int) -> Int? {
        guard !stops.isEmpty, start < bytes.count else { return nil }
        for i in start..<bytes.count {
            for stop in stops where i + stop.count <= bytes.count && bytes[i..<i + stop.count].elementsEqual(stop) { return i }
        }
        return nil
    }

    /// The length of the longest tail of the text that is a proper beginning of a stop string.
    private func heldBack() -> Int {
        var best = 0
        for stop in stops {
            for k in stride(from: min(stop.count - 1, bytes.count - sent), to: best, by: -1)
                where bytes[(bytes.count - k)...].elementsEqual(stop[..<k]) {
                best = k
                break
            }
        }
        return best
    }
}
