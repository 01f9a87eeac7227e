// GRPO end to end on a toy task (issue 6, item 4): a tiny transformer must learn to answer
// "7" when only that first token is rewarded, sampling with the engine and updating with
// `GRPO.advantages` + `GRPO.optimize`; the same seed gives the same run.

import Foundation
import Testing
import PonderCore
import Model
import Training

enum GRPOToy {
    static let config = ModelConfig(vocabSize: 12, dModel: 32, nLayers: 1, nHeads: 4, maxSeqLen: 16)
    static let prompts: [[Int32]] = [[1, 2, 3], [4, 5], [6, 8, 9, 10]]
    static let seven: Int32 = 7
    static let stop: Int32 = 11
    static let G = 8

    struct Run {
        var rewards: [Double] = []            // mean reward per step
        var metrics: [[String: Double]] = []  // optimize's metrics per step
        var finalParams: [Float] = []
    }

    /// `steps` GRPO steps from the seed: G samples of 1-3 tokens per prompt at temperature 1,
    /// reward 1 when the first completion token is 7, else 0.
    static func run(seed: UInt64, steps: Int) throws -> Run {
        let policy = try Transformer(config: config, seed: seed)
        let optimizer = AdamW(layout: policy.layout, parameters: AdamWParameters(weightDecay: 0))
        let engine = Engine(model: policy, sequences: prompts.count * G, maxLength: config.maxSeqLen)
        let p = GRPO.Parameters(lossType: .grpo, learningRate: 1e-2, maxCompletionLength: 3)
        let sampling = SamplingParameters(temperature: p.temperature, maxNewTokens: p.maxCompletionLength, stopTokens: [stop])
        var rng = RNG(seed: seed).fork("sampling")
        var run = Run()
        for _ in 0..<steps {
            let generations = engine.generate(prompts: prompts, samplesPerPrompt: G, parameters: sampling, rng: &rng)
            var samples: [GRPO.Sample] = []
            for (i, group) in generations.enumerated() {
                for g in group {
                    samples.append(GRPO.Sample(
                        group: i, promptIDs: prompts[i], completionIDs: g.tokens,
                        lossMask: g.forced.map { $0 ? 0 : 1 },
                        reward: g.tokens.first == seven ? 1 : 0, truncated: g.finishReason == .length))
                }
            }
            let rewards = samples.map(\.reward)
            let advantages = GRPO.advantages(rewards: rewards, groups: samples.map(\.group), parameters: p)
            let metrics = GRPO.optimize(policy: policy, reference: nil, optimizer: optimizer, samples: samples,
                                        advantages: advantages, parameters: p, learningRate: p.learningRate, microBatch: 8)
            run.rewards.append(rewards.reduce(0, +) / Double(rewards.count))
            run.metrics.append(metrics)
        }
        run.finalParams = policy.params.array
        return run
    }
}

@Suite struct GRPOToyTests {
    @Test func learnsToAnswerSeven() throws {
        let run = try GRPOToy.run(seed: 1, steps: 30)
        let curve = run.rewards.enumerated().map { "\($0.offset):\(String(format: "%.3f", $0.element))" }
        print("GRPO toy reward curve: " + curve.joined(separator: " "))
        let last = run.rewards.suffix(5)
        let mean = last.reduce(0, +) / Double(last.count)
        #expect(run.rewards[0] < 0.5, "the untrained model already answers 7: \(run.rewards[0])")
        #expect(mean > 0.95, "mean reward over the last 5 steps \(mean); curve \(curve)")
        for m in run.metrics {
            #expect(m["ratio_mean"] == 1 && m["clip_ratio_region"] == 0 && m["kl"] == 0)
            #expect(m["grad_norm"]!.isFinite && m["loss"]!.isFinite)
        }
    }

    @Test func sameSeedSameRun() throws {
        let a = try GRPOToy.run(seed: 5, steps: 6)
        let b = try GRPOToy.run(seed: 5, steps: 6)
        #expect(a.rewards == b.rewards)
        #expect(a.metrics == b.metrics)
        #expect(a.finalParams == b.finalParams)
        let c = try GRPOToy.run(seed: 6, steps: 6)
        #expect(c.finalParams != a.finalParams)
    }
}
