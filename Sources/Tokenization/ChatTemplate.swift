// ChatTemplate: the turn formats of Hugging Face model families, so a Hub checkpoint is trained
// and sampled in the format it was fine-tuned on.
//
// A Hub model ships its format as a Jinja `chat_template` (in tokenizer_config.json, or in
// chat_template.jinja as recent `transformers` versions save it). No Jinja engine is available
// as a Swift package and a general one would not stay small, so Ponder recognises the family from
// the template's own tokens and renders that family's turns itself:
//
//   ponder   <|endoftext|><|im_start|>role<|im_sep|>content<|im_end|>     (ChatFormat.swift)
//   chatml   <|im_start|>role\ncontent<|im_end|>\n                         Qwen2, SmolLM
//            a default system message when the template writes one and the conversation has none
//   llama3   BOS<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>   (content trimmed)
//            Llama 3.1 and later: a system turn always, opened by "Cutting Knowledge Date: ...
//            \nToday Date: ...\n\n" as the template writes them
//   llama2   <s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] ...   Llama 2,
//            TinyLlama chat (the system folded into the first user turn; contents stripped)
//
// Refused, with the template's first line quoted: `[INST]` templates without Llama 2's <<SYS>>
// block (Mistral's variants place the system message and spaces differently), templates that
// render thinking themselves (`enable_thinking`, `reasoning_content`), and anything not recognised.
// A checkpoint trained from a Hub model keeps its template as chat_template.jinja but not its
// tokenizer_config.json: reloaded, BOS and EOS are the family's usual ones (<|begin_of_text|>;
// <s> and </s>).
//
// Rendering is checked against `transformers`' apply_chat_template (ChatTemplates/ fixtures).
// The text between two template tokens is encoded as one string, as `transformers` encodes the
// whole rendered text, so pre-tokenizer pieces that cross a header/content boundary come out the
// same. One deliberate difference: a special token's spelling inside a message (a user typing
// "<|im_end|>") stays plain text, as in Ponder's own format; `transformers` would parse it.
// Loss mask: 1 on the assistant's content and its end-of-turn token, 0 elsewhere; a token that
// straddles the header/content boundary counts as content (its last byte is content). Token bytes
// are matched to the run's bytes from its end, so the "▁" a SentencePiece tokenizer prepends to a
// run does not shift the boundary.
// Thinking renders as the text "<think>...</think>" inside the content (how R1-style Hub models
// write it); tool calls need Ponder's tool tokens and are refused in these formats.

import Foundation
import PonderCore

public enum ChatFamily: String, Sendable, Codable, CaseIterable {
    case ponder, chatml, llama3, llama2
}

public struct ChatTemplate: Sendable, Equatable {
    public var family: ChatFamily
    /// chatml: the system message the template writes when the conversation has none.
    public var defaultSystem: String?
    /// llama3 (3.1 and later): the text that opens the system turn, which is always rendered.
    public var systemPreamble: String?
    /// llama3, llama2: the beginning-of-text token (tokenizer_config.json `bos_token`).
    public var bos: String?
    /// llama2: the end-of-text token that closes an answer (tokenizer_config.json `eos_token`).
    public var eos: String?
    /// The Jinja source it was recognised from, written back beside the checkpoints trained
    /// from it (chat_template.jinja) so they load with the same format.
    public var source: String?

    public init(family: ChatFamily, defaultSystem: String? = nil, systemPreamble: String? = nil, bos: String? = nil, eos: String? = nil) {
        self.family = family; self.defaultSystem = defaultSystem
        self.systemPreamble = systemPreamble; self.bos = bos; self.eos = eos
    }

    public static let ponder = ChatTemplate(family: .ponder)

    /// The template's end-of-turn token: what sampling stops at and what the model learns to write.
    public var endOfTurn: String {
        switch family {
        case .ponder: return SpecialToken.imEnd.text
        case .chatml: return "<|im_end|>"
        case .llama3: return "<|eot_id|>"
        case .llama2: return eos ?? "</s>"
        }
    }

    /// The family of a Jinja template's source, or an error that quotes its first line.
    /// `file` names where the template was read, for the message.
    public static func recognise(_ source: String, file: String, bos: String? = nil, eos: String? = nil) throws -> ChatTemplate {
        var template = try family(of: source, file: file, bos: bos, eos: eos)
        template.source = source
        return template
    }

    private static func family(of source: String, file: String, bos: String?, eos: String?) throws -> ChatTemplate {
        let firstLine = source.split(whereSeparator: \.isNewline).first { !$0.allSatisfy(\.isWhitespace) }
            .map { String($0.trimmingCharacters(in: .whitespaces).prefix(120)) } ?? ""
        for marker in ["enable_thinking", "reasoning_content"] where source.contains(marker) {
            throw ChatTemplateError.unsupported(file: file, firstLine: firstLine,
                reason: "it renders thinking itself (`\(marker)`); Ponder writes <think> spans as text and would not match it")
        }
        if source.contains("<|start_header_id|>") && source.contains("<|eot_id|>") {
            var template = ChatTemplate(family: .llama3, bos: bos ?? "<|begin_of_text|>")
            if source.contains("Cutting Knowledge Date") {
                guard let knowledge = firstMatch(#"Cutting Knowledge Date: ([^\\"'\n]+)"#, in: source),
                      let today = firstMatch(#"date_string\s*=\s*["']([^"']+)["']"#, in: source) else {
                    throw ChatTemplateError.unsupported(file: file, firstLine: firstLine,
                        reason: "a Llama 3.1 style template whose knowledge or default date Ponder cannot read")
                }
                template.systemPreamble = "Cutting Knowledge Date: \(knowledge)\nToday Date: \(today)\n\n"
            }
            return template
        }
        if source.contains("<|im_start|>") && source.contains("<|im_end|>") {
            let system = firstMatch(#"<\|im_start\|>system(?:\\n|\n)([^'"{}\\]*(?:\\n[^'"{}\\]*)*)<\|im_end\|>"#, in: source)
            return ChatTemplate(family: .chatml, defaultSystem: system?.replacingOccurrences(of: "\\n", with: "\n"))
        }
        if source.contains("[INST]") && source.contains("[/INST]") && source.contains("<<SYS>>") {
            return ChatTemplate(family: .llama2, bos: bos ?? "<s>", eos: eos ?? "</s>")
        }
        if source.contains("[INST]") {
            throw ChatTemplateError.unsupported(file: file, firstLine: firstLine,
                reason: "an [INST] template without Llama 2's <<SYS>> block (Mistral's formats differ in where the system goes and in spacing) is not rendered")
        }
        throw ChatTemplateError.unsupported(file: file, firstLine: firstLine,
            reason: "Ponder renders the ChatML (Qwen2, SmolLM), Llama 3 and Llama 2 formats and recognises them by their tokens")
    }

    /// The template of a checkpoint directory: chat_template.jinja, else tokenizer_config.json's
    /// `chat_template` (a string, or a list of named templates of which "default" is used);
    /// nil when the directory has neither.
    public static func load(checkpointDirectory directory: URL) throws -> ChatTemplate? {
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        var config: [String: Any] = [:]
        if let data = FileManager.default.contents(atPath: configURL.path) {
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw ChatTemplateError.corrupt(file: configURL.path, reason: "it is not a JSON object")
            }
            config = object
        }
        func token(_ key: String) -> String? { (config[key] as? String) ?? ((config[key] as? [String: Any])?["content"] as? String) }
        let (bos, eos) = (token("bos_token"), token("eos_token"))
        let jinja = directory.appendingPathComponent("chat_template.jinja")
        if let data = FileManager.default.contents(atPath: jinja.path) {
            return try recognise(String(decoding: data, as: UTF8.self), file: jinja.path, bos: bos, eos: eos)
        }
        switch config["chat_template"] {
        case nil, is NSNull:
            return nil
        case let source as String:
            return try recognise(source, file: "\(configURL.path) (chat_template)", bos: bos, eos: eos)
        case let named as [[String: Any]]:
            guard let source = named.first(where: { $0["name"] as? String == "default" })?["template"] as? String else {
                throw ChatTemplateError.corrupt(file: configURL.path, reason: "`chat_template` is a list with no template named \"default\"")
            }
            return try recognise(source, file: "\(configURL.path) (chat_template \"default\")", bos: bos, eos: eos)
        default:
            throw ChatTemplateError.corrupt(file: configURL.path, reason: "`chat_template` is neither a string nor a list of named templates")
        }
    }

    private static func firstMatch(_ pattern: String, in text: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
              let range = Range(match.range(at: 1), in: text) else { return nil }
        return String(text[range])
    }
}

public enum ChatTemplateError: Error, CustomStringConvertible, Equatable {
    case unsupported(file: String, firstLine: String, reason: String)
    case corrupt(file: String, reason: String)

    public var description: String {
        switch self {
        case .unsupported(let file, let firstLine, let reason):
            return "\(file): chat template not supported: \(reason). Its first line: \(firstLine)"
        case .corrupt(let file, let reason):
            return "\(file): \(reason)"
        }
    }
}

/// How the Hub formats spell what Ponder's format writes with special tokens: their tokenizers
/// have no tool tokens, so thinking, tool calls and tool output are tags in the text. The
/// engine runs a call when the model writes the closing tag (`ToolCallInjector`).
public enum TextTags {
    public static let thinkOpen = "<think>", thinkClose = "</think>"
    public static let outputOpen = "<output>", outputClose = "</output>"
    public static func open(_ tool: Tool) -> String { "<\(tool.rawValue)>" }
    public static func close(_ tool: Tool) -> String { "</\(tool.rawValue)>" }
}

/// One piece of a rendered conversation: a template token, or text (with whether it is learned).
private enum ChatPart {
    case token(String, learn: Bool)
    case text(String, learn: Bool)
}

extension Tokenizer {
    /// The tokenizer's files in a checkpoint directory: tokenizer.json, and chat_template.jinja
    /// when its chat format came from a Hub model's template.
    public func checkpointFiles() throws -> [String: Data] {
        var files = [Self.checkpointFileName: try tokenizerJSONData()]
        if let source = chatTemplate.source { files["chat_template.jinja"] = Data(source.utf8) }
        return files
    }

    /// The id of an added token by its text (a Hub family's special tokens), or nil.
    public func addedTokenID(_ content: String) -> Int32? { added.first { $0.content == content }?.id }

    /// The id that ends an assistant turn in this tokenizer's chat format: sampling stops there.
    public var endOfTurnID: Int32 {
        chatTemplate.family == .ponder ? id(of: .imEnd) : addedTokenID(chatTemplate.endOfTurn) ?? -1
    }

    /// The id that ends a pretraining document: <|endoftext|>, or a Llama 3 tokenizer's
    /// <|end_of_text|>, or else the end-of-turn token.
    public var endOfTextID: Int32 {
        specialID(.endOfText) ?? addedTokenID("<|end_of_text|>") ?? endOfTurnID
    }

    // MARK: Hub formats (called by ChatFormat.swift when `chatTemplate` is not Ponder's)

    func renderTemplate(_ conversation: Conversation, generationPrompt: Bool) throws -> (ids: [Int32], mask: [Float]) {
        var parts: [ChatPart] = []
        var messages = conversation.messages
        let template = chatTemplate
        switch template.family {
        case .ponder:
            preconditionFailure("Ponder's format renders in ChatFormat.swift")
        case .chatml:
            if messages.first?.role != .system, let system = template.defaultSystem {
                messages.insert(Message(role: .system, segments: [.text(system)]), at: 0)
            }
            for message in messages {
                let learn = message.role == .assistant
                parts += [.token("<|im_start|>", learn: false), .text(message.role.rawValue + "\n", learn: false)]
                    + content(message, trim: false)
                    + [.token("<|im_end|>", learn: learn), .text("\n", learn: false)]
            }
            if generationPrompt { parts += [.token("<|im_start|>", learn: false), .text("assistant\n", learn: false)] }
        case .llama3:
            parts.append(.token(template.bos ?? "<|begin_of_text|>", learn: false))
            func header(_ role: String) -> [ChatPart] {
                [.token("<|start_header_id|>", learn: false), .text(role, learn: false),
                 .token("<|end_header_id|>", learn: false), .text("\n\n", learn: false)]
            }
            if let preamble = template.systemPreamble {
                var system = ""
                if messages.first?.role == .system { system = plainContent(messages.removeFirst(), trim: true) }
                parts += header("system") + [.text(preamble + system, learn: false), .token("<|eot_id|>", learn: false)]
            }
            for message in messages {
                let learn = message.role == .assistant
                parts += header(message.role.rawValue) + content(message, trim: true) + [.token("<|eot_id|>", learn: learn)]
            }
            if generationPrompt { parts += header("assistant") }
        case .llama2:
            var system: String?
            if messages.first?.role == .system { system = plainContent(messages.removeFirst(), trim: false) }
            for (i, message) in messages.enumerated() {
                if message.role == .user {
                    var text = plainContent(message, trim: false)
                    if i == 0, let system { text = "<<SYS>>\n\(system)\n<</SYS>>\n\n" + text }
                    text = text.trimmingCharacters(in: .whitespacesAndNewlines)
                    parts += [.token(template.bos ?? "<s>", learn: false), .text("[INST] \(text) [/INST]", learn: false)]
                } else {
                    parts += [.text(" ", learn: false)] + content(message, trim: true)
                        + [.text(" ", learn: true), .token(template.endOfTurn, learn: true)]
                }
            }
        }
        return try encodeParts(parts)
    }

    /// A message's content as the Hub formats write it: thinking, tool calls and tool output
    /// spelled as tags in the text (`TextTags`). The assistant learns its own words and tags;
    /// tool output and its tags are injected by the engine, so they are not learned. `trim`
    /// strips whitespace at both ends of the whole content, as Llama's templates do.
    private func content(_ message: Message, trim: Bool) -> [ChatPart] {
        let learn = message.role == .assistant
        var parts: [ChatPart] = message.segments.map { segment in
            switch segment {
            case .text(let t): .text(t, learn: learn)
            case .thinking(let t): .text(TextTags.thinkOpen + t + TextTags.thinkClose, learn: learn)
            case .toolCall(let tool, let input): .text(TextTags.open(tool) + input + TextTags.close(tool), learn: learn)
            case .toolOutput(let t): .text(TextTags.outputOpen + t + TextTags.outputClose, learn: false)
            }
        }
        guard trim else { return parts }
        if case .text(let t, let l) = parts.first { parts[0] = .text(String(t.drop { $0.isWhitespace }), learn: l) }
        if case .text(let t, let l) = parts.last {
            parts[parts.count - 1] = .text(String(t.reversed().drop { $0.isWhitespace }.reversed()), learn: l)
        }
        return parts
    }

    /// The content of a system or user message (text only; `validate` refuses anything else there).
    private func plainContent(_ message: Message, trim: Bool) -> String {
        content(message, trim: trim).map { part in
            if case .text(let t, _) = part { return t }
            return ""
        }.joined()
    }

    /// Ids and mask of the parts: each template token by its id, each run of text between two
    /// tokens encoded as one string with its mask taken byte by byte.
    private func encodeParts(_ parts: [ChatPart]) throws -> (ids: [Int32], mask: [Float]) {
        var ids: [Int32] = []
        var mask: [Float] = []
        var run: [UInt8] = []
        var learnByByte: [Bool] = []
        func flush() {
            guard !run.isEmpty else { return }
            let text = String(decoding: run, as: UTF8.self)
            let encoded = ids.isEmpty ? encode(text) : encode(continuing: text)
            // Token bytes against run bytes, aligned at the end: a prefix the tokenizer adds ("▁")
            // shifts nothing. A normalizer that changes lengths inside (NFC) could misplace the
            // boundary by a byte; the family tests hold the shipped tokenizers' cases.
            let shift = encoded.reduce(0) { $0 + bytes(of: $1).count } - run.count
            var offset = 0
            for id in encoded {
                offset += bytes(of: id).count
                ids.append(id)
                mask.append(learnByByte[min(max(offset - shift, 1), learnByByte.count) - 1] ? 1 : 0)
            }
            run.removeAll(); learnByByte.removeAll()
        }
        for part in parts {
            switch part {
            case .token(let content, let learn):
                flush()
                guard let id = addedTokenID(content) else { throw ChatFormatError.missingSpecialToken(content) }
                ids.append(id); mask.append(learn ? 1 : 0)
            case .text(let text, let learn):
                run.append(contentsOf: text.utf8)
                learnByByte.append(contentsOf: repeatElement(learn, count: text.utf8.count))
            }
        }
        flush()
        return (ids, mask)
    }

    /// The assistant message in generated ids of a Hub format: text up to the end-of-turn token
    /// (or any special added token), with its tags (`TextTags`) read back as thinking, tool calls
    /// and tool output.
    func parseTemplateAssistant(_ ids: some Sequence<Int32>) -> Message {
        let specials = Set(added.filter(\.special).map(\.id))
        var answer: [Int32] = []
        for id in ids {
            if specials.contains(id) { break }
            answer.append(id)
        }
        // The tokenizer's own decoder: a SentencePiece answer loses the space its first "▁" holds.
        var rest = Substring(decode(answer))
        if chatTemplate.family == .llama2 { rest = Substring(rest.trimmingCharacters(in: .whitespaces)) }
        return Message(role: .assistant, segments: Self.segments(tagged: rest))
    }

    /// Text written with `TextTags` split into segments. An unclosed span runs to the end, as
    /// in Ponder's own parser; a closing tag without its opening one stays text.
    static func segments(tagged text: Substring) -> [Segment] {
        let spans: [(open: String, close: String, make: (String) -> Segment)] = [
            (TextTags.thinkOpen, TextTags.thinkClose, { .thinking($0) }),
            (TextTags.open(.python), TextTags.close(.python), { .toolCall(.python, $0) }),
            (TextTags.open(.search), TextTags.close(.search), { .toolCall(.search, $0) }),
            (TextTags.outputOpen, TextTags.outputClose, { .toolOutput($0) }),
        ]
        var segments: [Segment] = []
        var rest = text
        while let (span, open) = spans.compactMap({ span in rest.range(of: span.open).map { (span, $0) } })
            .min(by: { $0.1.lowerBound < $1.1.lowerBound }) {
            if open.lowerBound > rest.startIndex { segments.append(.text(String(rest[..<open.lowerBound]))) }
            let inside = rest[open.upperBound...]
            guard let close = inside.range(of: span.close) else {
                segments.append(span.make(String(inside)))
                return segments
            }
            segments.append(span.make(String(inside[..<close.lowerBound])))
            rest = inside[close.upperBound...]
        }
        if !rest.isEmpty { segments.append(.text(String(rest))) }
        return segments
    }
}
