// The OpenAI chat-completions wire format, as far as Ponder serves and calls it: the request,
// the response, the streamed chunk, the model list and the error object. Field names are the
// API's (snake_case); unknown request fields are ignored, as OpenAI-compatible servers do.
//
// Both sides use these types: `ponder serve` decodes requests and encodes responses, and the
// judge's HTTP backend encodes requests and decodes responses.

import Foundation

public struct ChatMessage: Codable, Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    enum CodingKeys: String, CodingKey { case role, content }

    /// `content` is a string, null (an assistant turn without text), or a list of parts of which
    /// only `{"type": "text", "text": ...}` is understood.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        if try c.decodeNil(forKey: .content) {
            content = ""
        } else if let text = try? c.decode(String.self, forKey: .content) {
            content = text
        } else {
            let parts = try c.decode([ContentPart].self, forKey: .content)
            content = try parts.enumerated().map { i, part in
                guard part.type == "text", let text = part.text else {
                    throw DecodingError.dataCorrupted(.init(
                        codingPath: c.codingPath + [CodingKeys.content, IndexKey(i)],
                        debugDescription: "only text content parts are supported, not \"\(part.type)\""))
                }
                return text
            }.joined()
        }
    }

    struct ContentPart: Decodable { var type: String; var text: String? }
}

/// `stop` is one string or a list of them.
public struct StopStrings: Codable, Sendable, Equatable {
    public var values: [String]
    public init(_ values: [String]) { self.values = values }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let one = try? c.decode(String.self) { values = [one] } else { values = try c.decode([String].self) }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(values)
    }
}

public struct StreamOptions: Codable, Sendable, Equatable {
    public var includeUsage: Bool?
    public init(includeUsage: Bool? = nil) { self.includeUsage = includeUsage }
    enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
}

public struct ChatCompletionRequest: Codable, Sendable, Equatable {
    public var model: String
    public var messages: [ChatMessage]
    public var temperature: Double?
    public var topP: Double?
    public var maxTokens: Int?
    public var maxCompletionTokens: Int?
    public var stop: StopStrings?
    public var n: Int?
    public var seed: Int64?
    public var logprobs: Bool?
    public var topLogprobs: Int?
    public var stream: Bool?
    public var streamOptions: StreamOptions?

    public init(model: String, messages: [ChatMessage], temperature: Double? = nil, topP: Double? = nil,
                maxTokens: Int? = nil, stop: [String]? = nil, n: Int? = nil, seed: Int64? = nil,
                logprobs: Bool? = nil, topLogprobs: Int? = nil) {
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.topP = topP
        self.maxTokens = maxTokens
        self.stop = stop.map(StopStrings.init)
        self.n = n
        self.seed = seed
        self.logprobs = logprobs
        self.topLogprobs = topLogprobs
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, n, seed, logprobs, stop, stream
        case topP = "top_p", maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens"
        case topLogprobs = "top_logprobs", streamOptions = "stream_options"
    }
}

public struct TopLogprob: Codable, Sendable, Equatable {
    public var token: String
    public var logprob: Double
    public var bytes: [UInt8]?

    public init(token: String, logprob: Double, bytes: [UInt8]?) {
        self.token = token
        self.logprob = logprob
        self.bytes = bytes
    }
}

public struct TokenLogprob: Codable, Sendable, Equatable {
    public var token: String
    public var logprob: Double
    public var bytes: [UInt8]?
    public var topLogprobs: [TopLogprob]
    enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }

    public init(token: String, logprob: Double, bytes: [UInt8]?, topLogprobs: [TopLogprob]) {
        self.token = token
        self.logprob = logprob
        self.bytes = bytes
        self.topLogprobs = topLogprobs
    }
}

public struct ChoiceLogprobs: Codable, Sendable, Equatable {
    public var content: [TokenLogprob]?
}

public struct Usage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
    }
}

public struct ChatCompletionChoice: Codable, Sendable, Equatable {
    public var index: Int
    public var message: ChatMessage
    public var logprobs: ChoiceLogprobs?
    public var finishReason: String?
    enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason" }
}

public struct ChatCompletionResponse: Codable, Sendable, Equatable {
    public var id: String
    public var object = "chat.completion"
    public var created: Int
    public var model: String
    public var choices: [ChatCompletionChoice]
    public var usage: Usage?
}

public struct ChunkDelta: Codable, Sendable, Equatable {
    public var role: String?
    public var content: String?
}

public struct ChunkChoice: Codable, Sendable, Equatable {
    public var index: Int
    public var delta: ChunkDelta
    public var logprobs: ChoiceLogprobs?
    public var finishReason: String?
    enum CodingKeys: String, CodingKey { case index, delta, logprobs, finishReason = "finish_reason" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(delta, forKey: .delta)
        try c.encodeIfPresent(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)  // null until the last chunk, as the API sends it
    }
}

public struct ChatCompletionChunk: Codable, Sendable, Equatable {
    public var id: String
    public var object = "chat.completion.chunk"
    public var created: Int
    public var model: String
    public var choices: [ChunkChoice]
    public var usage: Usage?
}

public struct ModelCard: Codable, Sendable, Equatable {
    public var id: String
    public var object = "model"
    public var created: Int
    public var ownedBy = "ponder"
    enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
}

public struct ModelList: Codable, Sendable, Equatable {
    public var object = "list"
    public var data: [ModelCard]
}

/// A request the server refuses, with the HTTP status and the API's error object.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?

    public init(status: Int, message: String, type: String = "invalid_request_error", param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    public var description: String { "\(status) \(type): \(message)" }

    struct Body: Codable { var error: Fields }
    struct Fields: Codable { var message: String; var type: String; var param: String?; var code: String? }

    public func json() -> Data {
        let body = Body(error: Fields(message: message, type: type, param: param, code: code))
        return (try? JSONEncoder.api.encode(body)) ?? Data()
    }
}

/// A coding key for list positions in error paths.
struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ i: Int) { intValue = i }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

extension JSONEncoder {
    /// Compact and stable: keys sorted, slashes unescaped.
    public static var api: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

extension DecodingError {
    /// "messages[0].content: expected String" style, for the 400 the server returns.
    public var apiDescription: String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.reduce("") { acc, key in
                if let i = key.intValue { return acc + "[\(i)]" }
                return acc.isEmpty ? key.stringValue : acc + "." + key.stringValue
            }
        }
        switch self {
        case .typeMismatch(let type, let c): return "\(path(c.codingPath)): expected \(type)"
        case .valueNotFound(let type, let c): return "\(path(c.codingPath)): expected \(type), found null"
        case .keyNotFound(let key, let c): return "\(path(c.codingPath + [key])): required field is missing"
        case .dataCorrupted(let c):
            let at = path(c.codingPath)
            return at.isEmpty ? "the body is not valid JSON" : "\(at): \(c.debugDescription)"
        @unknown default: return "\(self)"
        }
    }

    /// The field the error is about, for the error object's `param`.
    public var apiParam: String? {
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return c.codingPath.first?.stringValue
        case .keyNotFound(let key, let c): return (c.codingPath.first ?? key).stringValue
        @unknown default: return nil
        }
    }
}
