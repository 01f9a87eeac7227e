// Tool calls in a Hub model's chat format, which has no tool tokens: the model writes
// `<python>code</python>` as text, the closing tag runs the real sandbox, and the output is
// forced as `<output>...</output>`.

import Environments
import Foundation
import PonderCore
import Testing
import Tokenization
import Training

@Suite struct HubToolCallTests {
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("TokenizationTests/ChatTemplates")

    @Test(arguments: ["chatml", "llama31", "llama2"])
    func closingTagRunsTheSandboxAndForcesTheOutput(_ name: String) throws {
        let tok = try Tokenizer.load(checkpointDirectory: Self.templates.appendingPathComponent(name))
        let python = PythonTool()
        var injector = ToolCallInjector(tokenizer: tok, allowedTools: [.python], tools: { _, code in
            let r = python.run(code)
            return (r.text, r.failure.map { "\($0)" })
        })
        // Token by token, as the engine calls it: nothing runs before the closing tag.
        var tokens: [Int32] = []
        var forced: [Int32]?
        for t in tok.encode("Let me compute. <python>print(6 * 7)</python>") {
            #expect(forced == nil, "\(name): ran before the closing tag")
            tokens.append(t)
            forced = injector.respond(to: tokens)
        }
        let output = try #require(forced, "\(name): the closing tag ran nothing")
        #expect(tok.decode(output) == "<output>42\n</output>", "\(name): \(tok.decode(output).debugDescription)")
        #expect(injector.records == [ToolCallRecord(tool: .python, input: "print(6 * 7)", output: "42\n", failure: nil)])
        tokens += output

        // After the output, a closing tag with no opening one runs nothing; a tool the task does
        // not allow gets an error as its output.
        for t in tok.encode(midText: " It is 42.</python> <search>Zorbia</search>") {
            tokens.append(t)
            if let refused = injector.respond(to: tokens) {
                #expect(tok.decode(refused).contains("not available"))
                tokens += refused
            }
        }
        #expect(injector.records.count == 2 && injector.records[1].tool == .search && injector.records[1].failure == "tool not allowed")
        let message = tok.parseAssistant(tokens + [tok.endOfTurnID])
        #expect(Array(message.segments.prefix(4)) == [.text("Let me compute. "), .toolCall(.python, "print(6 * 7)"),
                                                      .toolOutput("42\n"), .text(" It is 42.</python> ")], "\(name): \(message.segments)")
    }

    @Test func outputIsCappedToItsTokenBudget() throws {
        let tok = try Tokenizer.load(checkpointDirectory: Self.templates.appendingPathComponent("chatml"))
        var injector = ToolCallInjector(tokenizer: tok, allowedTools: [.python], tools: { _, _ in
            (String(repeating: "1234567890", count: 20), nil)
        }, maxOutputTokens: 5)
        var tokens: [Int32] = []
        var forced: [Int32]?
        for t in tok.encode("<python>print(1)</python>") where forced == nil {
            tokens.append(t)
            forced = injector.respond(to: tokens)
        }
        let output = try #require(forced)
        let open = tok.encode(midText: "<output>"), close = tok.encode(midText: "</output>")
        #expect(output.count == open.count + 5 + close.count)
        #expect(Array(output.prefix(open.count)) == open && Array(output.suffix(close.count)) == close)
        #expect(tok.decode(output) == "<output>" + tok.decode(tok.encode("1234567890").prefix(5)) + "</output>")
    }
}
