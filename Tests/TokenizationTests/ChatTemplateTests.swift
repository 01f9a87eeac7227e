// Hub chat formats against `transformers`: ChatTemplates/*/expected.json holds what
// apply_chat_template renders and encodes for each family (make_fixtures.py); Ponder must give
// the same ids, learn exactly the assistant's content and end-of-turn token, and refuse what it
// does not render with the template's first line quoted.

import Foundation
import PonderCore
import Testing
@testable import Tokenization

@Suite struct ChatTemplateTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("ChatTemplates")

    struct Case: Decodable {
        struct Turn: Decodable { var role: String; var content: String }
        var messages: [Turn]
        var add_generation_prompt: Bool
        var text: String
        var ids: [Int32]
    }

    /// A fixture message as Ponder's segments: "<think>...</think>" spans become thinking.
    static func message(_ turn: Case.Turn) -> Message {
        let role = Role(rawValue: turn.role)!
        guard role == .assistant, let open = turn.content.range(of: "<think>"),
              let close = turn.content.range(of: "</think>") else { return Message(role: role, text: turn.content) }
        var segments: [Segment] = [.thinking(String(turn.content[open.upperBound..<close.lowerBound]))]
        let rest = String(turn.content[close.upperBound...])
        if !rest.isEmpty { segments.append(.text(rest)) }
        return Message(role: role, segments: segments)
    }

    @Test(arguments: [("chatml_default_system", ChatFamily.chatml), ("chatml", .chatml), ("llama3", .llama3), ("llama31", .llama3),
                      ("llama2", .llama2)])
    func rendersAsTransformersDoes(_ name: String, family: ChatFamily) throws {
        let dir = Self.directory.appendingPathComponent(name)
        let tok = try Tokenizer.load(checkpointDirectory: dir)
        #expect(tok.chatTemplate.family == family)
        let cases = try JSONDecoder().decode([String: [Case]].self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))["cases"]!
        let specials = ["<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|start_header_id|>", "<s>", "</s>"].filter { tok.addedTokenID($0) != nil }
        for (index, c) in cases.enumerated() {
            let conversation = Conversation(c.messages.map(Self.message))
            let ids = c.add_generation_prompt ? try tok.renderForCompletion(conversation) : try tok.render(conversation).ids
            // The rendered text back (a SentencePiece decode puts the "▁" of a run after <s> back
            // as a space, so there the ids below are the check).
            if family != .llama2 { #expect(tok.decode(ids) == c.text, "\(name) case \(index)") }
            if c.messages.contains(where: { m in specials.contains { m.content.contains($0) } }) {
                // transformers parses a special token typed inside a message; Ponder keeps it text.
                #expect(ids.count > c.ids.count, "\(name) case \(index)")
            } else {
                #expect(ids == c.ids, "\(name) case \(index): \(tok.decode(ids).debugDescription)")
            }
            guard !c.add_generation_prompt else { continue }
            // The mask learns each assistant message's content and its end-of-turn token, nothing else.
            let (_, mask) = try tok.render(conversation)
            let learned = zip(ids, mask).filter { $0.1 == 1 }.map(\.0)
            let groups = learned.split(separator: tok.endOfTurnID, omittingEmptySubsequences: false).dropLast()
            let answers = c.messages.filter { $0.role == "assistant" }.map(\.content)
            #expect(learned.last == tok.endOfTurnID && groups.count == answers.count, "\(name) case \(index)")
            for (group, answer) in zip(groups, answers) {
                let text = tok.decode(Array(group) + [tok.endOfTurnID])
                let end = tok.chatTemplate.endOfTurn
                switch family {
                case .chatml: #expect(text == answer + end, "\(name) case \(index)")
                case .llama3: #expect(text == answer.trimmingCharacters(in: .whitespacesAndNewlines) + end, "\(name) case \(index)")
                case .llama2:
                    // " answer </s>": the space before the answer is the [/INST] run's, learned with
                    // the answer's first "▁" token.
                    #expect(text.trimmingCharacters(in: .whitespaces) == answer.trimmingCharacters(in: .whitespacesAndNewlines) + " " + end,
                            "\(name) case \(index): \(text.debugDescription)")
                case .ponder: Issue.record("not a Hub family")
                }
            }
        }
    }

    @Test func generatedIdsParseBackAndStopAtTheEndOfTurn() throws {
        for (name, end) in [("chatml", "<|im_end|>"), ("llama31", "<|eot_id|>"), ("llama2", "</s>")] {
            let tok = try Tokenizer.load(checkpointDirectory: Self.directory.appendingPathComponent(name))
            #expect(tok.endOfTurnID == tok.addedTokenID(end) && tok.endOfTurnID >= 0)
            let ids = tok.encode("<think>17 + 25</think>It is 42.") + [tok.endOfTurnID] + tok.encode("not read")
            #expect(tok.parseAssistant(ids) == .assistant([.thinking("17 + 25"), .text("It is 42.")]))
            #expect(tok.parseAssistant(tok.encode("<think>unclosed")) == .assistant([.thinking("unclosed")]))
        }
    }

    /// Tool calls and their output are tags in the text (`TextTags`); the assistant learns its
    /// call and its answer, not the output the engine injects.
    @Test(arguments: ["chatml", "llama31", "llama2"])
    func toolCallsAreTagsInHubFormats(_ name: String) throws {
        let tok = try Tokenizer.load(checkpointDirectory: Self.directory.appendingPathComponent(name))
        let segments: [Segment] = [.toolCall(.python, "print(6 * 7)"), .toolOutput("42\n"), .text("It is 42.")]
        let (ids, mask) = try tok.render(Conversation([.user("What is 6 * 7?"), .assistant(segments)]))
        let answer = "<python>print(6 * 7)</python><output>42\n</output>It is 42."
        #expect(tok.decode(ids).contains(answer), "\(name): \(tok.decode(ids).debugDescription)")
        let learned = tok.decode(zip(ids, mask).filter { $0.1 == 1 }.map(\.0))
        #expect(learned.contains("<python>print(6 * 7)</python>") && learned.hasSuffix("It is 42." + (name == "llama2" ? " " : "") + tok.chatTemplate.endOfTurn),
                "\(name): \(learned.debugDescription)")
        #expect(!learned.contains("output") && !learned.contains("42\n"), "\(name): \(learned.debugDescription)")
        // Generated ids with the same spelling parse back into the same segments.
        #expect(tok.parseAssistant(tok.encode(answer) + [tok.endOfTurnID]) == .assistant(segments))
        #expect(tok.parseAssistant(tok.encode("<think>6 * 7</think><search>Zorbia") + [tok.endOfTurnID])
                == .assistant([.thinking("6 * 7"), .toolCall(.search, "Zorbia")]))
    }

    @Test func recognitionReadsDefaultsAndRefusesWhatItDoesNotRender() throws {
        let qwenLike = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen.\\nBe brief.<|im_end|>\\n' }}{%- endif %}"
        #expect(try ChatTemplate.recognise(qwenLike, file: "t").defaultSystem == "You are Qwen.\nBe brief.")
        #expect(try ChatTemplate.recognise("{{ '<|im_start|>' + m + '<|im_end|>' }}", file: "t").defaultSystem == nil)
        let llama31 = try String(contentsOf: Self.directory.appendingPathComponent("llama31/chat_template.jinja"), encoding: .utf8)
        #expect(try ChatTemplate.recognise(llama31, file: "t").systemPreamble == "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n")

        func refusal(_ source: String) -> String {
            do { _ = try ChatTemplate.recognise(source, file: "dir/chat_template.jinja"); return "" } catch { return "\(error)" }
        }
        let mistral = refusal("{% if messages[0]['role'] == 'system' %}\n{{ bos_token + '[INST] ' + content + ' [/INST]' }}")
        #expect(mistral.contains("dir/chat_template.jinja") && mistral.contains("<<SYS>>") && mistral.contains("{% if messages[0]['role'] == 'system' %}"))
        let unknown = refusal("\n  {% for m in messages %}<start_of_turn>{{ m['role'] }}\n{% endfor %}")
        #expect(unknown.contains("ChatML") && unknown.contains("Its first line: {% for m in messages %}<start_of_turn>"))
        let thinking = refusal("{%- if enable_thinking %}<|im_start|>assistant<|im_end|>{% endif %}")
        #expect(thinking.contains("enable_thinking"))
    }

    @Test func checkpointFilesThatAreNotTemplatesAreClearErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-template-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try ChatTemplate.load(checkpointDirectory: dir) == nil)
        let config = dir.appendingPathComponent("tokenizer_config.json")
        try Data("[1, 2]".utf8).write(to: config)
        #expect(throws: ChatTemplateError.corrupt(file: config.path, reason: "it is not a JSON object")) { try ChatTemplate.load(checkpointDirectory: dir) }
        try Data(#"{"chat_template": [{"name": "tool_use", "template": "x"}]}"#.utf8).write(to: config)
        #expect(throws: ChatTemplateError.self) { try ChatTemplate.load(checkpointDirectory: dir) }
        try Data(#"{"chat_template": [{"name": "default", "template": "<|im_start|>{{ m }}<|im_end|>"}], "bos_token": {"content": "<s>"}}"#.utf8).write(to: config)
        #expect(try ChatTemplate.load(checkpointDirectory: dir)?.family == .chatml)
    }
}
