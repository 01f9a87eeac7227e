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
    static let plain = GRPO.Parameters(lossType: .grpo, learningRate: 1e-2, maxCompletionLength: 3)
    /// The other options: leave-one-out baseline, batch std, token-mean loss, two optimizer
    /// steps per batch (so ratios leave 1 and clip), clip-higher, the KL to the initial weights
    /// logged (beta 0).
    static let full = GRPO.Parameters(advantage: .rloo, scaleRewards: .batch, lossType: .dapo, beta: 0,
                                      epsLow: 0.2, epsHigh: 0.28, numIterations: 2,
                                      learningRate: 1e-2, maxCompletionLength: 3)

    static func run(seed: UInt64, steps: Int, parameters p: GRPO.Parameters = plain) throws -> Run {
        let policy = try Transformer(config: config, seed: seed)
        var reference: Transformer? = nil
        if p.numIterations > 1 {
            reference = try Transformer(config: config)
            reference!.params.copy(from: policy.params)
        }
        let optimizer = AdamW(layout: policy.layout, parameters: AdamWParameters(weightDecay: 0))
        let engine = Engine(model: policy, sequences: prompts.count * G, maxLength: config.maxSeqLen)
        let sampling = SamplingParameters(temperature: p.samplingTemperature, maxNewTokens: p.maxCompletionLength, stopTokens: [stop])
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
            let metrics = GRPO.optimize(policy: policy, reference: reference, optimizer: optimizer, samples: samples,
                                        advantages: advantages, parameters: p, learningRate: Float(p.learningRate), microBatch: 8)
            run.rewards.append(rewards.reduce(0, +) / Double(rewards.count))
            run.metrics.append(metrics)
        }
        run.finalParams = policy.params.array
        return run
    }
}

@Suite struct GRPOToyTests {
    static func expectLearned(_ run: GRPOToy.Run, _ label: String) {
        let curve = run.rewards.enumerated().map { "\($0.offset):\(String(format: "%.3f", $0.element))" }
        print("GRPO toy reward curve (\(label)): " + curve.joined(separator: " "))
        let last = run.rewards.suffix(5)
        let mean = last.reduce(0, +) / Double(last.count)
        #expect(run.rewards[0] < 0.5, "the untrained model already answers 7: \(run.rewards[0])")
        #expect(mean > 0.95, "mean reward over the last 5 steps \(mean); curve \(curve)")
        for m in run.metrics { #expect(m["grad_norm"]!.isFinite && m["loss"]!.isFinite) }
    }

    @Test func learnsToAnswerSeven() throws {
        let run = try GRPOToy.run(seed: 1, steps: 30)
        Self.expectLearned(run, "grpo, group std, grpo loss")
        for m in run.metrics {
            #expect(m["ratio_mean"] == 1 && m["clip_ratio_region"] == 0 && m["kl"] == 0)
        }
    }

    /// The same task with rloo, batch std, dapo, two iterations and a logged reference KL.
    /// (Over seeds 1-6, five reach 1.0 by step 13; seed 5 settles at 2 of 3 prompts solved,
    /// its third prompt's policy collapsed on a wrong token with no reward spread left.)
    @Test func learnsToAnswerSevenWithEveryOption() throws {
        let run = try GRPOToy.run(seed: 1, steps: 30, parameters: GRPOToy.full)
        Self.expectLearned(run, "rloo, batch std, dapo, 2 iterations")
        #expect(run.metrics.contains { $0["clip_ratio_region"]! > 0 }, "the second pass never clipped")
        #expect(run.metrics.allSatisfy { $0["optimizer_steps"] == 2 })
        #expect(run.metrics[0]["kl"]! < run.metrics.last!["kl"]!, "the KL to the initial weights must grow")
    }

    @Test func sameSeedSameRun() throws {
        for parameters in [GRPOToy.plain, GRPOToy.full] {
            let a = try GRPOToy.run(seed: 5, steps: 6, parameters: parameters)
            let b = try GRPOToy.run(seed: 5, steps: 6, parameters: parameters)
            #expect(a.rewards == b.rewards)
            #expect(a.metrics == b.metrics)
            #expect(a.finalParams == b.finalParams)
            let c = try GRPOToy.run(seed: 6, steps: 6, parameters: parameters)
            #expect(c.finalParams != a.finalParams)
        }
    }
}
