// What `ponder chat` and `ponder sample` print: a completion's special tokens shown as what they
// mean, never raw, with the text between them intact.
import Testing
import PonderCore
@testable import Tokenization

@Suite struct ChatDisplayTests {
    @Test func specialTokensAreShownNotPrinted() throws {
        let tok = Fixtures.tokenizer
        let reply = Message.assistant([.thinking("12 times 34"), .toolCall(.python, "print(12 * 34)"), .toolOutput("408\n"),
                                       .text("Answer: 408")])
        let (ids, _) = try tok.render(Conversation([.user("What is 12 * 34?"), reply]))
        // The assistant's tokens after its header, as the engine would stream them.
        let start = try tok.renderForCompletion(Conversation(user: "What is 12 * 34?")).count
        var display = ChatDisplay(tokenizer: tok)
        var shown = ""
        for id in ids[start...] { shown += display.push(id) }
        shown += display.finish()
        #expect(!shown.contains("<|") && !shown.contains("<think>") && !shown.contains("</think>"), "\(shown)")
        #expect(shown.contains("(thinking) 12 times 34"), "\(shown)")
        #expect(shown.contains("[python] print(12 * 34)"), "\(shown)")
        #expect(shown.contains("[output] 408"), "\(shown)")
        #expect(shown.hasSuffix("Answer: 408"), "\(shown)")
    }

    /// A stray closing token (what an undertrained model emits) prints nothing.
    @Test func aStrayClosingTokenPrintsNothing() {
        let tok = Fixtures.tokenizer
        var display = ChatDisplay(tokenizer: tok)
        let shown = display.push([tok.id(of: .pythonEnd)] + tok.encode("Answer: 0")) + display.finish()
        #expect(shown == "Answer: 0")
    }
}
