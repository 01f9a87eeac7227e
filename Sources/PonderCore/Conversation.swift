// Conversation: the chat data every part of Ponder speaks (DESIGN.md §4).
//
// A conversation is a list of messages; a message has a role and a list of segments. Only the
// assistant writes structure: thinking spans, tool calls, and the tool output the engine injects.
// Keeping that structure (instead of one string with markup) lets the renderer set the loss mask
// exactly (tool output is never learned) and lets verifiers read the final answer directly.
// Rendering to tokens lives in Tokenization; this file has no dependencies.

public enum Role: String, Codable, Sendable, CaseIterable {
    case system, user, assistant
}

/// The tools a model can call through special tokens.
public enum Tool: String, Codable, Sendable, CaseIterable {
    /// `<|python_start|>code<|python_end|>`: run in the sandbox, stdout injected.
    case python
    /// `<|search_start|>query<|search_end|>`: the knowledge environment's document store.
    case search
}

/// One piece of a message. User and system messages hold only `.text`.
public enum Segment: Codable, Sendable, Equatable {
    /// Plain text; for the assistant, the visible answer.
    case text(String)
    /// `<think>...</think>`: reasoning the format reward looks for.
    case thinking(String)
    /// The model's call of a tool, with the code or query it wrote.
    case toolCall(Tool, String)
    /// What the engine injected between `<|output_start|>` and `<|output_end|>` (never learned).
    case toolOutput(String)
}

public struct Message: Codable, Sendable, Equatable {
    public var role: Role
    public var segments: [Segment]

    public init(role: Role, segments: [Segment]) {
        self.role = role
        self.segments = segments
    }

    public init(role: Role, text: String) {
        self.init(role: role, segments: [.text(text)])
    }

    public static func system(_ text: String) -> Message { Message(role: .system, text: text) }
    public static func user(_ text: String) -> Message { Message(role: .user, text: text) }
    public static func assistant(_ segments: [Segment]) -> Message { Message(role: .assistant, segments: segments) }
    public static func assistant(_ text: String) -> Message { Message(role: .assistant, text: text) }

    /// The visible answer: the text segments after the last thinking span or tool output,
    /// joined. This is what verifiers grade.
    public var finalText: String {
        var tail: [String] = []
        for segment in segments {
            switch segment {
            case .text(let t): tail.append(t)
            case .thinking, .toolCall, .toolOutput: tail.removeAll()
            }
        }
        return tail.joined()
    }

    /// All segments' text in order, markup dropped: for display and free-text extraction.
    public var plainText: String {
        segments.map { segment -> String in
            switch segment {
            case .text(let t), .thinking(let t), .toolCall(_, let t), .toolOutput(let t): return t
            }
        }.joined(separator: "\n")
    }
}

public struct Conversation: Codable, Sendable, Equatable {
    public var messages: [Message]

    public init(_ messages: [Message]) { self.messages = messages }

    public init(system: String? = nil, user: String) {
        var m: [Message] = []
        if let system { m.append(.system(system)) }
        m.append(.user(user))
        messages = m
    }

    public func appending(_ message: Message) -> Conversation {
        Conversation(messages + [message])
    }
}
