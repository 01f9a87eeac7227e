// ChatFormat: conversations to token ids with a loss mask, and generated ids back to a message.
//
// Layout (DESIGN.md §4), for a conversation [system, user, assistant]:
//   <|endoftext|>
//   <|im_start|>system<|im_sep|>...<|im_end|>
//   <|im_start|>user<|im_sep|>...<|im_end|>
//   <|im_start|>assistant<|im_sep|>...<|im_end|>
// The leading <|endoftext|> is the beginning-of-sequence token: pretraining puts it before every
// document, so a chat sample starts in the same state as a fresh document.
// Assistant content renders segment by segment: text as is, `<think>`...`</think>`,
// `<|python_start|>`...`<|python_end|>`, `<|search_start|>`...`<|search_end|>`, and injected
// tool output `<|output_start|>`...`<|output_end|>`.
// Loss mask: 1 on the assistant's content and its closing <|im_end|> (the model learns to stop);
// 0 on the BOS token, system and user turns, every turn header, and tool output together with
// its two delimiters (the engine injects them; the model learns to emit the closing tool-call
// token, after which the engine forces the output).
// Text segments are encoded with `allowSpecial: false`: a user typing "<|im_end|>" cannot end
// a turn.

import PonderCore

public enum ChatFormatError: Error, CustomStringConvertible, Equatable {
    case emptyConversation
    /// The tokenizer (a foreign checkpoint's) lacks a token the chat format needs.
    case missingSpecialToken(String)
    case systemNotFirst(index: Int)
    /// The first turn after an optional system message must be the user's.
    case mustStartWithUser(index: Int, role: Role)
    /// Two turns of the same role in a row.
    case repeatedRole(index: Int, role: Role)
    case emptyMessage(index: Int, role: Role)
    /// Thinking, tool calls and tool output belong to the assistant only.
    case segmentNotAllowed(index: Int, role: Role, segment: String)
    case toolOutputWithoutCall(index: Int, segment: Int)
    /// `renderForCompletion` needs the conversation to end with a user turn.
    case completionNeedsUserLast(role: Role)

    public var description: String {
        switch self {
        case .emptyConversation:
            return "conversation has no messages"
        case .missingSpecialToken(let t):
            return "tokenizer has no special token \(t); Ponder's chat format needs its special tokens, and a checkpoint from elsewhere needs its chat template (tokenizer_config.json `chat_template` or chat_template.jinja)"
        case .systemNotFirst(let i):
            return "message \(i): a system message may only come first"
        case .mustStartWithUser(let i, let role):
            return "message \(i): the first turn must be the user's, not the \(role.rawValue)'s"
        case .repeatedRole(let i, let role):
            return "message \(i): two \(role.rawValue) turns in a row; user and assistant turns must alternate"
        case .emptyMessage(let i, let role):
            return "message \(i) (\(role.rawValue)) is empty"
        case .segmentNotAllowed(let i, let role, let segment):
            return "message \(i): a \(role.rawValue) message cannot hold \(segment); only the assistant writes thinking and tool calls"
        case .toolOutputWithoutCall(let i, let s):
            return "message \(i), segment \(s): tool output with no tool call right before it"
        case .completionNeedsUserLast(let role):
            return "the conversation to complete must end with a user turn, not a \(role.rawValue) turn"
        }
    }
}

/// Where the assistant parser is inside generated text.
private enum Span { case text, thinking, python, search, output }

extension Tokenizer {
    /// Token ids and loss mask (1 = learn this token) of a whole conversation.
    public func render(_ conversation: Conversation) throws -> (ids: [Int32], mask: [Float]) {
        try validate(conversation)
        if chatTemplate.family != .ponder { return try renderTemplate(conversation, generationPrompt: false) }
        var ids: [Int32] = [id(of: .endOfText)]
        var mask: [Float] = [0]
        for message in conversation.messages { appendTurn(message, ids: &ids, mask: &mask) }
        return (ids, mask)
    }

    /// The prompt for sampling the next assistant turn: the conversation (ending with a user
    /// turn) followed by `<|im_start|>assistant<|im_sep|>`.
    public func renderForCompletion(_ conversation: Conversation) throws -> [Int32] {
        try validate(conversation)
        if let last = conversation.messages.last?.role, last != .user { throw ChatFormatError.completionNeedsUserLast(role: last) }
        if chatTemplate.family != .ponder { return try renderTemplate(conversation, generationPrompt: true).ids }
        var ids: [Int32] = [id(of: .endOfText)]
        var mask: [Float] = [0]
        for message in conversation.messages { appendTurn(message, ids: &ids, mask: &mask) }
        ids.append(id(of: .imStart))
        ids.append(contentsOf: encode(Role.assistant.rawValue))
        ids.append(id(of: .imSep))
        return ids
    }

    /// Splits generated assistant ids into thinking, tool calls, tool output and text. Reading
    /// stops at `<|im_end|>` (or `<|im_start|>` / `<|endoftext|>`). Tolerant: an unclosed span
    /// runs to the end (an unclosed `<think>` becomes thinking), an opening token closes the
    /// current span, a stray closing token is dropped, and empty spans of text are left out.
    public func parseAssistant(_ ids: some Sequence<Int32>) -> Message {
        if chatTemplate.family != .ponder { return parseTemplateAssistant(ids) }
        var segments: [Segment] = []
        var span = Span.text
        var buffer: [UInt8] = []

        func flush() {
            let s = String(decoding: buffer, as: UTF8.self)
            buffer.removeAll()
            switch span {
            case .text: if !s.isEmpty { segments.append(.text(s)) }
            case .thinking: segments.append(.thinking(s))
            case .python: segments.append(.toolCall(.python, s))
            case .search: segments.append(.toolCall(.search, s))
            case .output: segments.append(.toolOutput(s))
            }
        }
        func open(_ next: Span) {
            if span != .text || !buffer.isEmpty { flush() }
            span = next
        }
        func close(_ current: Span) {
            guard span == current else { return }  // stray closing token
            flush()
            span = .text
        }

        loop: for id in ids {
            guard let special = specialToken(for: id) else {
                buffer.append(contentsOf: bytes(of: id))
                continue
            }
            switch special {
            case .imEnd, .imStart, .endOfText: break loop
            case .imSep: continue
            case .thinkStart: open(.thinking)
            case .thinkEnd: close(.thinking)
            case .pythonStart: open(.python)
            case .pythonEnd: close(.python)
            case .searchStart: open(.search)
            case .searchEnd: close(.search)
            case .outputStart: open(.output)
            case .outputEnd: close(.output)
            }
        }
        if span != .text || !buffer.isEmpty { flush() }
        return Message(role: .assistant, segments: segments)
    }

    // MARK: Rendering helpers

    private func appendTurn(_ message: Message, ids: inout [Int32], mask: inout [Float]) {
        func add(_ new: [Int32], _ weight: Float) {
            ids.append(contentsOf: new)
            mask.append(contentsOf: repeatElement(weight, count: new.count))
        }
        add([id(of: .imStart)] + encode(message.role.rawValue) + [id(of: .imSep)], 0)
        let learn: Float = message.role == .assistant ? 1 : 0
        for segment in message.segments {
            switch segment {
            case .text(let t):
                add(encode(t), learn)
            case .thinking(let t):
                add([id(of: .thinkStart)] + encode(t) + [id(of: .thinkEnd)], learn)
            case .toolCall(.python, let code):
                add([id(of: .pythonStart)] + encode(code) + [id(of: .pythonEnd)], learn)
            case .toolCall(.search, let query):
                add([id(of: .searchStart)] + encode(query) + [id(of: .searchEnd)], learn)
            case .toolOutput(let output):
                add([id(of: .outputStart)] + encode(output) + [id(of: .outputEnd)], 0)
            }
        }
        add([id(of: .imEnd)], learn)
    }

    private func validate(_ conversation: Conversation) throws {
        for special in SpecialToken.allCases where chatTemplate.family == .ponder && specialID(special) == nil {
            throw ChatFormatError.missingSpecialToken(special.rawValue)
        }
        let messages = conversation.messages
        guard !messages.isEmpty else { throw ChatFormatError.emptyConversation }
        var previous: Role? = nil
        for (i, message) in messages.enumerated() {
            switch message.role {
            case .system:
                if i != 0 { throw ChatFormatError.systemNotFirst(index: i) }
            case .user, .assistant:
                if message.role == previous { throw ChatFormatError.repeatedRole(index: i, role: message.role) }
                if (previous == nil || previous == .system) && message.role != .user {
                    throw ChatFormatError.mustStartWithUser(index: i, role: message.role)
                }
            }
            previous = message.role
            let hasContent = message.segments.contains { segment in
                if case .text(let t) = segment { return !t.isEmpty }
                return true
            }
            if !hasContent { throw ChatFormatError.emptyMessage(index: i, role: message.role) }
            for (s, segment) in message.segments.enumerated() {
                switch segment {
                case .text: continue
                case .thinking, .toolCall, .toolOutput:
                    guard message.role == .assistant else {
                        throw ChatFormatError.segmentNotAllowed(index: i, role: message.role, segment: Self.kind(segment))
                    }
                }
                if case .toolOutput = segment {
                    guard s > 0, case .toolCall = message.segments[s - 1] else {
                        throw ChatFormatError.toolOutputWithoutCall(index: i, segment: s)
                    }
                }
            }
        }
    }

    private static func kind(_ segment: Segment) -> String {
        switch segment {
        case .text: return "text"
        case .thinking: return "a thinking span"
        case .toolCall: return "a tool call"
        case .toolOutput: return "tool output"
        }
    }
}
