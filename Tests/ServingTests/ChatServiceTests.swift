// The engine's per-request generation and the chat service in process: random streams kept per
// request, the model's log-probabilities against a Double reference, stop strings cut across
// token boundaries, and the API's refusals with their statuses.
import Foundation
import PonderCore
import Testing
import TestSupport
import Tokenization
@testable import Model
@testable import Serving

@Suite struct ChatServiceTests {
    let fixture: (Transformer, Tokenizer)

    init() throws {
        let tokenizer = try TinyCheckpoint.tokenizer()
        let config = ModelConfig(vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 2, nHeads: 2, maxSeqLen: TinyCheckpoint.context)
        fixture = (try Transformer(config: config, seed: 5), tokenizer)
    }

    func prompt(_ text: String) -> [Int32] {
        try! fixture.1.renderForCompletion(Conversation(user: text))
    }

    @Test func aRequestDrawsOnlyFromItsOwnStream() {
        let (model, _) = fixture
        let engine = Engine(model: model, sequences: 8, maxLength: TinyCheckpoint.context)
        let p = SamplingParameters(temperature: 1, maxNewTokens: 12)
        let mine = GenerationRequest(prompt: prompt("What is 1 + 2?"), parameters: p, rng: RNG(seed: 42))
        let alone = engine.generate([mine])[0].generation.tokens
        let others = (0..<5).map { GenerationRequest(prompt: prompt("Count \($0)"), parameters: p, rng: RNG(seed: UInt64($0))) }
        let together = engine.generate(others + [mine])[5].generation.tokens
        #expect(alone == together)
        // One request, one stream: the trainers' call with one prompt draws the same tokens.
        var rng = RNG(seed: 42)
        #expect(engine.generate(prompts: [mine.prompt], parameters: p, rng: &rng)[0][0].tokens == alone)
    }

    @Test func logProbsMatchADoubleReference() {
        let (model, _) = fixture
        let V = model.config.vocabSize
        var logits = [Float](repeating: 0, count: V)
        var rng = RNG(seed: 3)
        for j in 0..<V { logits[j] = Float(rng.nextFloat() * 8 - 4) }
        logits[17] = logits[40]  // a tie: the lower id comes first
        let got = logits.withUnsafeBufferPointer { modelLogProbs($0.baseAddress!, V, chosen: 9, top: 6) }
        let z = log(logits.reduce(0.0) { $0 + exp(Double($1)) })
        let order = (0..<V).sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        #expect(got.top.map { Int($0.token) } == Array(order.prefix(6)))
        for t in got.top + [got.chosen] { #expect(abs(Double(t.logProb) - (Double(logits[Int(t.token)]) - z)) < 1e-5) }
        #expect(got.chosen.token == 9)
    }

    @Test func stopStringsAreCutAcrossTokens() {
        let (_, tokenizer) = fixture
        var text = TextStream(tokenizer: tokenizer, stops: ["o w", "zz"])
        var sent = ""
        var stopped = false
        for token in tokenizer.encode("hello world, and more") where !stopped {
            let (piece, stop) = text.push(token)
            sent += piece
            stopped = stop
            #expect(!sent.contains("o w"))
        }
        #expect(stopped)
        #expect(sent == "hell")
        #expect(text.finish() == "")
        // A tail that only began a stop string is sent at the end.
        var partial = TextStream(tokenizer: tokenizer, stops: ["d!"])
        var all = ""
        for token in tokenizer.encode("a good d") { all += partial.push(token).0 }
        #expect(all == "a good ")
        #expect(partial.finish() == "d")
    }

    @Test func refusalsCarryTheirStatus() async throws {
        let (model, tokenizer) = fixture
        let service = ChatService(model: model, tokenizer: tokenizer, modelName: "tiny", maxBatch: 4)
        defer { service.shutdown() }
        let ask = [ChatMessage(role: "user", content: "What is 2 + 2?")]
        func status(_ r: ChatCompletionRequest) async -> Int {
            do { _ = try await service.complete(r); return 200 } catch { return error.status }
        }
        #expect(await status(ChatCompletionRequest(model: "tiny", messages: ask, maxTokens: 3)) == 200)
        #expect(await status(ChatCompletionRequest(model: "other", messages: ask)) == 404)
        #expect(await status(ChatCompletionRequest(model: "tiny", messages: ask, temperature: 2.5)) == 400)
        #expect(await status(ChatCompletionRequest(model: "tiny", messages: ask, n: 5)) == 400)
        #expect(await status(ChatCompletionRequest(model: "tiny", messages: ask, topLogprobs: 3)) == 400)
        #expect(await status(ChatCompletionRequest(model: "tiny", messages: [])) == 400)
        #expect(await status(ChatCompletionRequest(model: "tiny", messages: [ChatMessage(role: "assistant", content: "hi")])) == 400)
        let long = [ChatMessage(role: "user", content: String(repeating: "count ", count: 200))]
        #expect(await status(ChatCompletionRequest(model: "tiny", messages: long)) == 413)
        // A completion that would pass the context is cut there.
        let r = try await service.complete(ChatCompletionRequest(model: "tiny", messages: ask, maxTokens: 10_000))
        #expect(r.usage!.promptTokens + r.usage!.completionTokens <= TinyCheckpoint.context)
    }

    @Test func concurrentRequestsShareBatches() async throws {
        let (model, tokenizer) = fixture
        let service = ChatService(model: model, tokenizer: tokenizer, modelName: "tiny", maxBatch: 16)
        defer { service.shutdown() }
        let answers = try await withThrowingTaskGroup(of: ChatCompletionResponse.self) { group in
            for i in 0..<24 {
                group.addTask {
                    try await service.complete(ChatCompletionRequest(
                        model: "tiny", messages: [ChatMessage(role: "user", content: "What is \(i) + 1?")],
                        temperature: 0.8, maxTokens: 8, seed: Int64(i)))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.count == 24)
        #expect(answers.allSatisfy { $0.choices.count == 1 && ($0.usage?.completionTokens ?? 0) >= 1 })
        let counters = service.statistics
        #expect(counters.requests == 24)
        #expect(counters.largestBatch > 1)
        #expect(counters.largestBatch <= 16)
    }
}
