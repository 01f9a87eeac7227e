// The KV-cache engine against full recomputation, seeded sampling, forced tokens, stops.

import Testing
import PonderCore
@testable import Model

@Suite struct EngineTests {
    static func model() throws -> Transformer {
        let c = ModelConfig(vocabSize: 40, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2,
                            maxSeqLen: 64, qkvBias: true)
        let m = try Transformer(config: c, seed: 21)
        // Larger weights than the init, so the argmax is decisive and paths differ per prompt.
        for t in m.layout.tensors where t.kind != .norm {
            for i in 0..<t.count { m.params[t.offset + i] *= 12 }
        }
        return m
    }

    static let prompts: [[Int32]] = [[1, 2, 3], [5, 6, 7, 8, 9, 10, 11], [4]]

    /// Greedy continuation by running the whole sequence through `forward` at every step.
    static func greedyByRecomputation(_ m: Transformer, _ prompt: [Int32], _ n: Int) -> [Int32] {
        var seq = prompt
        let V = m.config.vocabSize
        for _ in 0..<n {
            m.forward(tokens: seq, B: 1, T: seq.count)
            let last = Array(m.logits[((seq.count - 1) * V)..<(seq.count * V)])
            seq.append(Int32(last.indices.max { last[$0] < last[$1] || (last[$0] == last[$1] && $0 > $1) }!))
        }
        return Array(seq[prompt.count...])
    }

    @Test func greedyWithCacheEqualsRecomputation() throws {
        let m = try Self.model()
        let engine = Engine(model: m, sequences: 6, maxLength: 40, maxRows: 4)  // prefill in chunks
        var rng = RNG(seed: 1)
        let out = engine.generate(prompts: Self.prompts, samplesPerPrompt: 2,
                                  parameters: .greedy(maxNewTokens: 20), rng: &rng)
        for (i, prompt) in Self.prompts.enumerated() {
            let reference = Self.greedyByRecomputation(m, prompt, 20)
            #expect(out[i][0].tokens == reference, "prompt \(i)")
            #expect(out[i][1].tokens == reference, "prompt \(i), second sample")
            #expect(out[i][0].finishReason == .length)
        }
        #expect(out[0][0].tokens != out[1][0].tokens)
    }

    @Test func logProbsMatchTheModel() throws {
        let m = try Self.model()
        let engine = Engine(model: m, sequences: 2, maxLength: 32)
        var rng = RNG(seed: 4)
        let temperature: Float = 0.7
        let gen = engine.generate(prompts: [[3, 1, 4]], samplesPerPrompt: 2,
                                  parameters: SamplingParameters(temperature: temperature, maxNewTokens: 8), rng: &rng)[0][1]
        let seq: [Int32] = [3, 1, 4] + gen.tokens
        m.forward(tokens: seq, B: 1, T: seq.count)
        let V = m.config.vocabSize
        for (k, token) in gen.tokens.enumerated() {
            let row = (2 + k) * V
            let z = (0..<V).map { Double(m.logits[row + $0]) / Double(temperature) }
            let mx = z.max()!
            let logZ = mx + log(z.map { exp($0 - mx) }.reduce(0, +))
            #expect(abs(Double(gen.logProbs[k]) - (z[Int(token)] - logZ)) < 1e-3)
        }
    }

    @Test func samplingIsReproducible() throws {
        let m = try Self.model()
        let engine = Engine(model: m, sequences: 12, maxLength: 40)
        let sp = SamplingParameters(temperature: 1, topK: 20, topP: 0.95, maxNewTokens: 16)
        var a = RNG(seed: 7), b = RNG(seed: 7), c = RNG(seed: 8)
        let x = engine.generate(prompts: Self.prompts, samplesPerPrompt: 4, parameters: sp, rng: &a)
        let y = engine.generate(prompts: Self.prompts, samplesPerPrompt: 4, parameters: sp, rng: &b)
        let z = engine.generate(prompts: Self.prompts, samplesPerPrompt: 4, parameters: sp, rng: &c)
        #expect(x == y)
        #expect(x != z)
        // Samples of one prompt differ from each other.
        #expect(Set(x[1].map(\.tokens)).count > 1)
    }

    @Test func topKOneIsGreedy() throws {
        let m = try Self.model()
        let engine = Engine(model: m, sequences: 3, maxLength: 40)
        var rng = RNG(seed: 2)
        let out = engine.generate(prompts: Self.prompts, parameters: SamplingParameters(temperature: 1.3, topK: 1, maxNewTokens: 10), rng: &rng)
        for (i, prompt) in Self.prompts.enumerated() {
            #expect(out[i][0].tokens == Self.greedyByRecomputation(m, prompt, 10))
        }
    }

    @Test func samplesFollowTheDistribution() throws {
        // First-token frequencies over many samples match softmax(logits / T).
        let c = ModelConfig(vocabSize: 6, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8)
        let m = try Transformer(config: c, seed: 3)
        for i in 0..<m.params.count { m.params[i] *= 30 }
        let prompt: [Int32] = [1, 2]
        m.forward(tokens: prompt, B: 1, T: 2)
        let z = (0..<6).map { Double(m.logits[6 + $0]) }
        let mx = z.max()!
        let e = z.map { exp($0 - mx) }
        let probs = e.map { $0 / e.reduce(0, +) }
        let engine = Engine(model: m, sequences: 200, maxLength: 8)
        var counts = [Double](repeating: 0, count: 6)
        var rng = RNG(seed: 11)
        for _ in 0..<20 {
            for g in engine.generate(prompts: [prompt], samplesPerPrompt: 200, parameters: SamplingParameters(maxNewTokens: 1), rng: &rng)[0] {
                counts[Int(g.tokens[0])] += 1
            }
        }
        for j in 0..<6 {
            let expected = probs[j] * 4000
            #expect(abs(counts[j] - expected) <= 5 * (expected + 1).squareRoot() + 2, "token \(j): \(counts[j]) vs \(expected)")
        }
    }

    @Test func forcedTokensAndStops() throws {
        let m = try Self.model()
        let engine = Engine(model: m, sequences: 2, maxLength: 48)
        var rng = RNG(seed: 1)
        let free = engine.generate(prompts: [[1, 2, 3]], parameters: .greedy(maxNewTokens: 6), rng: &rng)[0][0]
        let trigger = free.tokens[1]
        let forced: [Int32] = [30, 31, 32]
        var calls = 0
        let hook: ForceHook = { _, tokens in
            calls += 1
            return tokens.count == 2 && tokens.last == trigger ? forced : nil
        }
        let out = engine.generate(prompts: [[1, 2, 3]], parameters: .greedy(maxNewTokens: 12), rng: &rng, hook: hook)[0][0]
        #expect(Array(out.tokens[0..<2]) == Array(free.tokens[0..<2]))
        #expect(Array(out.tokens[2..<5]) == forced)
        #expect(out.forced == [false, false, true, true, true] + [Bool](repeating: false, count: 7))
        #expect(out.logProbs[2..<5].allSatisfy { $0 == 0 })
        // After the forced run, decoding continues as if the forced tokens had been in the prompt.
        let prefix: [Int32] = [1, 2, 3] + Array(out.tokens[0..<5])
        #expect(Array(out.tokens[5...]) == Self.greedyByRecomputation(m, prefix, 7))
        #expect(calls == 12 - 3)

        // A stop token ends the sequence and is kept.
        let stop = free.tokens[3]
        let stopped = engine.generate(prompts: [[1, 2, 3]], parameters: .greedy(maxNewTokens: 20, stopTokens: [stop]), rng: &rng)[0][0]
        #expect(stopped.finishReason == .stop)
        #expect(stopped.tokens.last == stop)
        #expect(stopped.tokens.count <= 4)
    }
}

#if canImport(Glibc)
import Glibc
#endif
