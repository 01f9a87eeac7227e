// Tool-call injection on scripted token sequences, and Rollouts.generate end to end on a tiny
// model steered to call the python tool.
import Foundation
import Environments
import Model
import PonderCore
import Testing
import Tokenization
import Training

/// Counts executor calls across threads.
final class CallLog: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [(Tool, String)] = []
    func add(_ tool: Tool, _ input: String) { lock.lock(); calls.append((tool, input)); lock.unlock() }
    var all: [(Tool, String)] { lock.lock(); defer { lock.unlock() }; return calls }
}

struct RolloutTests {
    let tok = Fixtures.tokenizer
    func id(_ s: SpecialToken) -> Int32 { tok.id(of: s) }

    @Test func injectorRunsAllowedToolAndFormatsOutput() {
        let log = CallLog()
        var injector = ToolCallInjector(tokenizer: tok, allowedTools: [.python], tools: { tool, input in
            log.add(tool, input)
            return ("5\n", nil)
        })
        let code = tok.encode("print(2+3)")
        var tokens = tok.encode("Let me compute.") + [id(.pythonStart)] + code
        #expect(injector.respond(to: tokens) == nil)  // no closing token yet
        tokens.append(id(.pythonEnd))
        let forced = injector.respond(to: tokens)
        #expect(forced == [id(.outputStart)] + tok.encode("5\n") + [id(.outputEnd)])
        #expect(log.all.count == 1 && log.all[0].0 == .python && log.all[0].1 == "print(2+3)")
        #expect(injector.records == [ToolCallRecord(tool: .python, input: "print(2+3)", output: "5\n", failure: nil)])

        // After the output, a stray closing token does not run anything.
        tokens += forced! + tok.encode("Answer: 5") + [id(.pythonEnd)]
        #expect(injector.respond(to: tokens) == nil)
        #expect(log.all.count == 1)
        // And the whole completion parses into call, output and answer.
        let message = tok.parseAssistant(tokens)
        #expect(message.segments.contains(.toolCall(.python, "print(2+3)")))
        #expect(message.segments.contains(.toolOutput("5\n")))
        #expect(message.finalText == "Answer: 5")
    }

    @Test func injectorRefusesToolsTheTaskDoesNotAllow() {
        let log = CallLog()
        var injector = ToolCallInjector(tokenizer: tok, allowedTools: [.python], tools: { tool, input in
            log.add(tool, input)
            return ("found", nil)
        })
        let tokens = [id(.searchStart)] + tok.encode("capital of Zorbia") + [id(.searchEnd)]
        let response = injector.respond(to: tokens)
        #expect(log.all.isEmpty)
        guard let forced = response else { Issue.record("no forced tokens"); return }
        #expect(forced.first == id(.outputStart) && forced.last == id(.outputEnd))
        #expect(tok.decode(forced.dropFirst().dropLast()).contains("not available"))
        #expect(injector.records.first?.failure == "tool not allowed" && injector.records.first?.tool == .search)
    }

    @Test func injectorCapsOutputTokensAndCalls() {
        var injector = ToolCallInjector(tokenizer: tok, allowedTools: [.python], tools: { _, _ in
            (String(repeating: "1234567890", count: 20), nil)
        }, maxOutputTokens: 7, maxCalls: 1)
        var tokens = [id(.pythonStart)] + tok.encode("print(1)") + [id(.pythonEnd)]
        let forced = injector.respond(to: tokens)!
        #expect(forced.count == 7 + 2)
        tokens += forced + [id(.pythonStart)] + tok.encode("print(2)") + [id(.pythonEnd)]
        let second = injector.respond(to: tokens)!
        #expect(second.count <= 7 + 2)
        #expect(injector.records[1].output.contains("too many tool calls"))
        #expect(injector.records.count == 2 && injector.records[1].input == "print(2)")
    }

    /// An untied tiny model whose residual stream carries a large constant in dimension 0, and
    /// whose LM head reads only that dimension for a few tokens: <|python_start|>,
    /// <|python_end|> and <|im_end|> get fixed logits, everything else logit 0.
    func steeredModel() -> Transformer {
        let model = Fixtures.model(seed: 3, maxSeqLen: 256, tied: false)
        let C = model.config.dModel, V = model.config.vocabSize
        let p = model.params.pointer
        for v in 0..<V { p[model.layout.embed + v * C] = 20 }
        let finalNorm = model.layout.finalNorm
        for c in 0..<C { p[finalNorm + c] = c == 0 ? 1 : 0 }
        let head = model.layout.lmHead
        for i in 0..<(V * C) { p[head + i] = 0 }
        let unit = 1 / Float(C).squareRoot()  // hidden[0] is about sqrt(C)
        p[head + Int(id(.pythonStart)) * C] = 4.5 * unit
        p[head + Int(id(.pythonEnd)) * C] = 4.5 * unit
        p[head + Int(id(.imEnd)) * C] = 2.5 * unit
        return model
    }

    @Test func generateRunsToolsAndMasksForcedTokens() throws {
        let model = steeredModel()
        var rng = RNG(seed: 5)
        let tasks = Fixtures.arithmetic.sample(&rng, count: 4)
        #expect(tasks.allSatisfy { $0.tools == [.python] })
        let G = 3
        let engine = Engine(model: model, sequences: tasks.count * G, maxLength: 256)
        let log = CallLog()
        var sampleRNG = RNG(seed: 8)
        let rollouts = Rollouts.generate(
            engine: engine, tokenizer: tok, tasks: tasks, samplesPerTask: G,
            sampling: SamplingParameters(temperature: 1, maxNewTokens: 40), tools: { tool, input in
                log.add(tool, input)
                return ("42", nil)
            }, rng: &sampleRNG)

        #expect(rollouts.count == tasks.count && rollouts.allSatisfy { $0.count == G })
        var forcedSeen = 0
        for (i, group) in rollouts.enumerated() {
            let prompt = try tok.renderForCompletion(tasks[i].prompt)
            for r in group {
                #expect(r.promptIDs == prompt)
                #expect(r.tokens.count == r.logProbs.count && r.tokens.count == r.lossMask.count)
                #expect(r.tokens.count <= 40)
                switch r.finishReason {
                case .stop: #expect(r.tokens.last == id(.imEnd) && r.lossMask.last == 1)
                case .length: #expect(r.tokens.count == 40)
                }
                // Forced runs are exactly <|output_start|> ... <|output_end|> after a <|python_end|>, mask 0.
                var t = 0
                while t < r.tokens.count {
                    if r.lossMask[t] == 0 {
                        #expect(r.tokens[t] == id(.outputStart) && t > 0 && r.tokens[t - 1] == id(.pythonEnd))
                        #expect(r.logProbs[t] == 0)
                        forcedSeen += 1
                        while t < r.tokens.count && r.lossMask[t] == 0 { t += 1 }
                        if t < r.tokens.count || r.finishReason == .stop {
                            #expect(r.tokens[t - 1] == id(.outputEnd))
                        }
                    } else {
                        t += 1
                    }
                }
                let calls = r.message.segments.filter { if case .toolCall = $0 { return true }; return false }
                #expect(r.toolCalls.count <= calls.count + 1)
                #expect(r.toolCalls.allSatisfy { $0.tool == .python && $0.output == "42" && $0.failure == nil })
                #expect(r.text == tok.decode(r.tokens))
            }
        }
        #expect(forcedSeen > 0, "the steered model made no tool call")
        #expect(log.all.count == rollouts.joined().map(\.toolCalls.count).reduce(0, +))

        // Same seed, same rollouts.
        var again = RNG(seed: 8)
        let replay = Rollouts.generate(engine: engine, tokenizer: tok, tasks: tasks, samplesPerTask: G,
                                       sampling: SamplingParameters(temperature: 1, maxNewTokens: 40),
                                       tools: { _, _ in ("42", nil) }, rng: &again)
        #expect(replay.map { $0.map(\.tokens) } == rollouts.map { $0.map(\.tokens) })
    }
}
