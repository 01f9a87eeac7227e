// Chat rendering, loss masks, malformed conversations, and parsing generated ids.

import Foundation
import PonderCore
import Testing
import Tokenization

@Suite struct ChatFormatTests {
    let tok = Fixtures.tokenizer

    var toolConversation: Conversation {
        Conversation([
            .system("You are careful."),
            .user("What is 12 * 34?"),
            .assistant([
                .thinking("Use the tool."),
                .toolCall(.python, "print(12 * 34)"),
                .toolOutput("408\n"),
                .text("It is 408."),
            ]),
            .user("And <|im_end|> plus 1?"),
            .assistant([.toolCall(.search, "numbers"), .toolOutput("doc"), .text("409")]),
        ])
    }

    @Test func masksOnAMultiTurnConversationWithToolCalls() throws {
        let (ids, mask) = try tok.render(toolConversation)
        #expect(ids.count == mask.count)
        #expect(ids.first == tok.id(of: .endOfText))
        // Rebuild the expected sequence piece by piece.
        var expected: [(ids: [Int32], learn: Float)] = [([tok.id(of: .endOfText)], 0)]
        func header(_ role: String) -> [Int32] { [tok.id(of: .imStart)] + tok.encode(role) + [tok.id(of: .imSep)] }
        expected += [(header("system") + tok.encode("You are careful.") + [tok.id(of: .imEnd)], 0)]
        expected += [(header("user") + tok.encode("What is 12 * 34?") + [tok.id(of: .imEnd)], 0)]
        expected += [(header("assistant"), 0)]
        expected += [([tok.id(of: .thinkStart)] + tok.encode("Use the tool.") + [tok.id(of: .thinkEnd)], 1)]
        expected += [([tok.id(of: .pythonStart)] + tok.encode("print(12 * 34)") + [tok.id(of: .pythonEnd)], 1)]
        expected += [([tok.id(of: .outputStart)] + tok.encode("408\n") + [tok.id(of: .outputEnd)], 0)]
        expected += [(tok.encode("It is 408.") + [tok.id(of: .imEnd)], 1)]
        expected += [(header("user") + tok.encode("And <|im_end|> plus 1?") + [tok.id(of: .imEnd)], 0)]
        expected += [(header("assistant"), 0)]
        expected += [([tok.id(of: .searchStart)] + tok.encode("numbers") + [tok.id(of: .searchEnd)], 1)]
        expected += [([tok.id(of: .outputStart)] + tok.encode("doc") + [tok.id(of: .outputEnd)], 0)]
        expected += [(tok.encode("409") + [tok.id(of: .imEnd)], 1)]
        let expectedIDs: [Int32] = expected.flatMap(\.ids)
        var expectedMask: [Float] = []
        for part in expected { expectedMask += Array(repeating: part.learn, count: part.ids.count) }
        #expect(ids == expectedIDs)
        #expect(mask == expectedMask)
        // The user's typed "<|im_end|>" is text: exactly one im_end per turn.
        #expect(ids.filter { $0 == tok.id(of: .imEnd) }.count == 5)
        #expect(tok.decode(ids) == "<|endoftext|><|im_start|>system<|im_sep|>You are careful.<|im_end|><|im_start|>user<|im_sep|>What is 12 * 34?<|im_end|><|im_start|>assistant<|im_sep|><think>Use the tool.</think><|python_start|>print(12 * 34)<|python_end|><|output_start|>408\n<|output_end|>It is 408.<|im_end|><|im_start|>user<|im_sep|>And <|im_end|> plus 1?<|im_end|><|im_start|>assistant<|im_sep|><|search_start|>numbers<|search_end|><|output_start|>doc<|output_end|>409<|im_end|>")
    }

    @Test func renderForCompletionEndsWithOpenAssistantTurn() throws {
        let prompt = try tok.renderForCompletion(Conversation(system: "Be brief.", user: "Hi"))
        let tail = [tok.id(of: .imStart)] + tok.encode("assistant") + [tok.id(of: .imSep)]
        #expect(Array(prompt.suffix(tail.count)) == tail)
        #expect(prompt.first == tok.id(of: .endOfText))
        let full = try tok.render(Conversation(system: "Be brief.", user: "Hi"))
        #expect(Array(prompt.prefix(full.ids.count)) == full.ids)
        #expect(throws: ChatFormatError.completionNeedsUserLast(role: .assistant)) {
            try tok.renderForCompletion(Conversation([.user("a"), .assistant("b")]))
        }
    }

    @Test func malformedConversationsAreRejected() {
        #expect(throws: ChatFormatError.emptyConversation) { try tok.render(Conversation([])) }
        #expect(throws: ChatFormatError.repeatedRole(index: 1, role: .user)) {
            try tok.render(Conversation([.user("a"), .user("b")]))
        }
        #expect(throws: ChatFormatError.repeatedRole(index: 2, role: .assistant)) {
            try tok.render(Conversation([.user("a"), .assistant("b"), .assistant("c")]))
        }
        #expect(throws: ChatFormatError.mustStartWithUser(index: 1, role: .assistant)) {
            try tok.render(Conversation([.system("s"), .assistant("b")]))
        }
        #expect(throws: ChatFormatError.systemNotFirst(index: 2)) {
            try tok.render(Conversation([.user("a"), .assistant("b"), .system("s")]))
        }
        #expect(throws: ChatFormatError.toolOutputWithoutCall(index: 1, segment: 1)) {
            try tok.render(Conversation([.user("a"), .assistant([.text("x"), .toolOutput("42")])]))
        }
        #expect(throws: ChatFormatError.toolOutputWithoutCall(index: 1, segment: 0)) {
            try tok.render(Conversation([.user("a"), .assistant([.toolOutput("42")])]))
        }
        #expect(throws: ChatFormatError.emptyMessage(index: 0, role: .user)) {
            try tok.render(Conversation([Message(role: .user, segments: [])]))
        }
        #expect(throws: ChatFormatError.emptyMessage(index: 1, role: .assistant)) {
            try tok.render(Conversation([.user("a"), .assistant("")]))
        }
        #expect(throws: ChatFormatError.segmentNotAllowed(index: 0, role: .user, segment: "a thinking span")) {
            try tok.render(Conversation([Message(role: .user, segments: [.thinking("x")])]))
        }
        #expect(ChatFormatError.repeatedRole(index: 1, role: .user).description.contains("two user turns in a row"))
    }

    @Test func foreignTokenizerWithoutChatTokensIsAClearError() throws {
        var json = try JSONSerialization.jsonObject(with: tok.tokenizerJSONData()) as! [String: Any]
        json["added_tokens"] = []
        let plain = try Tokenizer.load(tokenizerJSONData: JSONSerialization.data(withJSONObject: json))
        #expect(!plain.hasChatTokens)
        #expect(throws: ChatFormatError.missingSpecialToken("<|endoftext|>")) { try plain.render(Conversation(user: "hi")) }
    }

    @Test func parserInvertsRendering() throws {
        let assistant = toolConversation.messages[2]
        let (ids, _) = try tok.render(Conversation([.user("q"), assistant]))
        let header = try tok.renderForCompletion(Conversation([.user("q")]))
        let generated = Array(ids[header.count...])
        #expect(tok.parseAssistant(generated) == assistant)
        #expect(tok.parseAssistant(generated).finalText == "It is 408.")
    }

    @Test func parserIsTolerant() {
        func ids(_ s: String) -> [Int32] { tok.encode(s, allowSpecial: true) }
        // Unclosed thinking becomes thinking.
        #expect(tok.parseAssistant(ids("<think>still going")) == .assistant([.thinking("still going")]))
        // Stops at im_end; ignores what follows.
        #expect(tok.parseAssistant(ids("42<|im_end|>junk")) == .assistant("42"))
        // An unterminated tool call is still a tool call; an opening token closes the open span.
        #expect(tok.parseAssistant(ids("<|python_start|>print(1)")) == .assistant([.toolCall(.python, "print(1)")]))
        #expect(tok.parseAssistant(ids("<think>a<|search_start|>q<|search_end|><|output_start|>r<|output_end|>done")) ==
                .assistant([.thinking("a"), .toolCall(.search, "q"), .toolOutput("r"), .text("done")]))
        // Stray closing tokens are dropped; plain text stays text.
        let stray: Message = tok.parseAssistant(ids("x</think>y"))
        #expect(stray.plainText.replacingOccurrences(of: "\n", with: "") == "xy")
        #expect(tok.parseAssistant([]) == .assistant([]))
    }
}
