// The RLHF trainers' formulas against hand calculations (Bradley-Terry with margin and centring,
// DPO / cDPO / IPO / hinge, GAE, clipped value and policy losses, the adaptive KL controller),
// the best-of-n KL formula and estimator, the over-optimisation fits on synthetic points with
// known alpha and beta, and a tiny reward model learning a separable preference.
import Foundation
import Testing
@testable import Model
@testable import PonderCore
@testable import Tokenization
@testable import Training

struct RLHFFormulaTests {
    @Test func bradleyTerryMatchesAHandCalculation() {
        // r_c = 1.5, r_r = 0.5, m = 0.25: z = 0.75; -log sigmoid(0.75) = log(1 + e^-0.75) = 0.386871...
        let bt = RewardModelTraining.bradleyTerry(chosen: 1.5, rejected: 0.5, margin: 0.25, eta: 0)
        #expect(abs(bt.loss - 0.3868710) < 1e-6)
        let s = 1 / (1 + exp(0.75))  // 0.320821
        #expect(abs(bt.dChosen - -s) < 1e-12 && abs(bt.dRejected - s) < 1e-12)
        // Centring adds eta (r_c + r_r)^2 = 0.01 * 4 = 0.04 and 2 eta (r_c + r_r) = 0.04 to both derivatives.
        let c = RewardModelTraining.bradleyTerry(chosen: 1.5, rejected: 0.5, margin: 0.25, eta: 0.01)
        #expect(abs(c.loss - (0.3868710 + 0.04)) < 1e-6)
        #expect(abs(c.dChosen - (-s + 0.04)) < 1e-12 && abs(c.dRejected - (s + 0.04)) < 1e-12)
        // Finite differences.
        let h = 1e-6
        let up = RewardModelTraining.bradleyTerry(chosen: 1.5 + h, rejected: 0.5, margin: 0.25, eta: 0.01).loss
        let down = RewardModelTraining.bradleyTerry(chosen: 1.5 - h, rejected: 0.5, margin: 0.25, eta: 0.01).loss
        #expect(abs((up - down) / (2 * h) - c.dChosen) < 1e-6)
        // No overflow far from 0.
        #expect(RewardModelTraining.bradleyTerry(chosen: 800, rejected: 0).loss == 0)
        #expect(abs(RewardModelTraining.bradleyTerry(chosen: 0, rejected: 800).loss - 800) < 1e-9)
    }

    @Test func dpoLossesMatchHandCalculations() {
        // Policy - reference log-ratios: chosen -10 - (-11) = 1, rejected -12 - (-11.5) = -0.5; u = 1.5.
        let x = DPO.PairLogProbs(chosen: -10, rejected: -12, refChosen: -11, refRejected: -11.5, chosenTokens: 4, rejectedTokens: 6)
        // sigmoid, beta 0.1: h = 0.15, L = log(1 + e^-0.15) = 0.620957..., dL/dh = -sigmoid(-0.15) = -0.462570...
        let s = DPO.loss(x, beta: 0.1, type: .sigmoid)
        #expect(abs(s.loss - 0.6209570) < 1e-6)
        #expect(abs(s.dChosen - 0.1 * -0.4625702) < 1e-7 && abs(s.dRejected - 0.1 * 0.4625702) < 1e-7)
        // cDPO eps = 0.1: 0.9 * 0.620957 + 0.1 * log(1 + e^0.15) (= 0.770957) = 0.635957.
        let c = DPO.loss(x, beta: 0.1, type: .sigmoid, labelSmoothing: 0.1)
        #expect(abs(c.loss - 0.6359570) < 1e-6)
        // hinge: max(0, 1 - 0.15) = 0.85, dL/dh = -1.
        let h = DPO.loss(x, beta: 0.1, type: .hinge)
        #expect(abs(h.loss - 0.85) < 1e-12 && abs(h.dChosen - -0.1) < 1e-12 && abs(h.dRejected - 0.1) < 1e-12)
        #expect(DPO.loss(DPO.PairLogProbs(chosen: 0, rejected: -20, refChosen: 0, refRejected: 0), beta: 0.1, type: .hinge).dChosen == 0)
        // ipo: u' = 1/4 - (-0.5)/6 = 0.3333...; 1/(2 beta) = 5; L = (0.33333 - 5)^2 = 21.7778.
        let i = DPO.loss(x, beta: 0.1, type: .ipo)
        #expect(abs(i.loss - 21.777778) < 1e-5)
        #expect(abs(i.dChosen - 2 * (1.0 / 3 - 5) / 4) < 1e-9 && abs(i.dRejected - -2 * (1.0 / 3 - 5) / 6) < 1e-9)
        // Finite differences of each by the chosen log-probability.
        for type in DPO.Loss.allCases {
            let eps = 1e-6
            var a = x, b = x
            a.chosen += eps; b.chosen -= eps
            let fd = (DPO.loss(a, beta: 0.1, type: type, labelSmoothing: 0.1).loss - DPO.loss(b, beta: 0.1, type: type, labelSmoothing: 0.1).loss) / (2 * eps)
            #expect(abs(fd - DPO.loss(x, beta: 0.1, type: type, labelSmoothing: 0.1).dChosen) < 1e-5, "\(type)")
        }
    }

    @Test func gaeMatchesAHandComputedTrajectory() {
        // gamma 0.9, lambda 0.8; rewards (0, 0, 1), values (0.5, 0.4, 0.3).
        // deltas: t2 = 1 - 0.3 = 0.7; t1 = 0 + 0.9 * 0.3 - 0.4 = -0.13; t0 = 0 + 0.9 * 0.4 - 0.5 = -0.14
        // A2 = 0.7; A1 = -0.13 + 0.72 * 0.7 = 0.374; A0 = -0.14 + 0.72 * 0.374 = 0.12928
        let (a, r) = PPO.gae(rewards: [0, 0, 1], values: [0.5, 0.4, 0.3], gamma: 0.9, lambda: 0.8)
        for (x, y) in zip(a, [0.12928, 0.374, 0.7]) { #expect(abs(x - y) < 1e-12) }
        for (x, y) in zip(r, [0.62928, 0.774, 1.0]) { #expect(abs(x - y) < 1e-12) }
        // gamma = lambda = 1: the advantage is the return-to-go minus the value.
        let (a1, _) = PPO.gae(rewards: [1, 2, 3], values: [0, 0, 0], gamma: 1, lambda: 1)
        #expect(a1 == [6, 5, 3])
    }

    @Test func valueLossIsClippedAroundTheRolloutValue() {
        // Inside the clip range: the plain squared error.
        let inside = PPO.valueLoss(value: 0.1, oldValue: 0, return: 1, clip: 0.2)
        #expect(abs(inside.loss - 0.405) < 1e-12 && abs(inside.gradient - -0.9) < 1e-12 && !inside.clipped)
        // v moved 0.5 away from old towards... past the return: clipped v = 0.2 is further from R = 1: the clipped branch, no gradient.
        let outside = PPO.valueLoss(value: 0.5, oldValue: 0, return: 1, clip: 0.2)
        #expect(abs(outside.loss - 0.5 * 0.64) < 1e-12 && outside.gradient == 0 && outside.clipped)
        // Moving away from the return beyond the clip: the unclipped error is larger and keeps its gradient.
        let away = PPO.valueLoss(value: -0.5, oldValue: 0, return: 1, clip: 0.2)
        #expect(abs(away.loss - 0.5 * 2.25) < 1e-12 && abs(away.gradient - -1.5) < 1e-12 && !away.clipped)
    }

    @Test func policyLossClipsTheRatio() {
        // rho = 1: -A, gradient -A.
        let one = PPO.policyLoss(logp: -1, oldLogp: -1, advantage: 2, clip: 0.2)
        #expect(one.loss == -2 && one.gradient == -2 && !one.clipped)
        // rho = e^0.5 > 1.2 with A > 0: clipped at 1.2, no gradient.
        let high = PPO.policyLoss(logp: -0.5, oldLogp: -1, advantage: 2, clip: 0.2)
        #expect(abs(high.loss - -2.4) < 1e-12 && high.gradient == 0 && high.clipped)
        // The same ratio with A < 0 keeps the unclipped (larger) loss.
        let low = PPO.policyLoss(logp: -0.5, oldLogp: -1, advantage: -2, clip: 0.2)
        #expect(abs(low.loss - 2 * exp(0.5)) < 1e-12 && !low.clipped)
    }

    @Test func adaptiveKLAndWhitening() {
        // KL twice the target: error clipped at 0.2; coef * (1 + 0.2 * 256 / 10000).
        #expect(abs(PPO.adaptKL(0.1, kl: 12, target: 6, horizon: 10_000, batch: 256) - 0.1 * (1 + 0.2 * 0.0256)) < 1e-15)
        let w = PPO.whiten([1, 2, 3, 4])
        #expect(abs(w.reduce(0, +)) < 1e-12)
        #expect(abs(w[3] - 1.5 / (1.6666667).squareRoot()) < 1e-6)
        #expect(abs(PPO.explainedVariance(returns: [1, 2, 3], values: [1, 2, 3]) - 1) < 1e-12)
        #expect(PPO.explainedVariance(returns: [1, 2, 3], values: [3, 2, 1]) < 0)
    }

    @Test func bestOfNKLAndEstimator() {
        #expect(Overoptimization.bestOfNKL(1) == 0)
        #expect(abs(Overoptimization.bestOfNKL(4) - (log(4) - 0.75)) < 1e-15)
        #expect(abs(Overoptimization.bestOfNKL(64) - (log(64) - 63.0 / 64)) < 1e-15)
        // Four samples with proxies 1 < 2 < 3 < 4 and values 10, 20, 30, 40: best of 2 over the six
        // pairs picks 20 once, 30 twice, 40 three times: (20 + 60 + 120) / 6.
        let proxy = [3.0, 1, 4, 2], values = [30.0, 10, 40, 20]
        #expect(abs(Overoptimization.bestOfN(proxy: proxy, values: values, n: 1) - 25) < 1e-9)
        #expect(abs(Overoptimization.bestOfN(proxy: proxy, values: values, n: 2) - 200.0 / 6) < 1e-9)
        #expect(abs(Overoptimization.bestOfN(proxy: proxy, values: values, n: 4) - 40) < 1e-9)
        // Equal proxies share: best of 4 among four ties is the mean.
        #expect(abs(Overoptimization.bestOfN(proxy: [1, 1, 1, 1], values: values, n: 4) - 25) < 1e-9)
    }

    @Test func fitsRecoverKnownAlphaAndBeta() throws {
        let d = stride(from: 0.1, through: 3.0, by: 0.1).map { $0 }
        var rng = RNG(seed: 3)
        let bon = d.map { $0 * (0.8 - 0.3 * $0) + 0.002 * rng.nextGaussian() }
        let fit = try #require(Overoptimization.fit(d: d, gain: bon, form: .bestOfN))
        #expect(abs(fit.alpha - 0.8) < 0.01 && abs(fit.beta - 0.3) < 0.01 && fit.rSquared > 0.99)
        let peak = try #require(fit.peak)
        #expect(abs(peak.d - 0.8 / 0.6) < 0.05 && abs(peak.gold - 0.64 / 1.2) < 0.01)
        let rl = d.map { $0 * (0.5 - 0.2 * log($0)) + 0.002 * rng.nextGaussian() }
        let rlFit = try #require(Overoptimization.fit(d: d, gain: rl, form: .rl))
        #expect(abs(rlFit.alpha - 0.5) < 0.01 && abs(rlFit.beta - 0.2) < 0.01 && rlFit.rSquared > 0.99)
        #expect(abs(rlFit.peak!.d - exp(0.5 / 0.2 - 1)) < 0.3)
        #expect(Overoptimization.fit(d: [1], gain: [1], form: .bestOfN) == nil)
    }

    @Test func ensembleRules() {
        #expect(RewardEnsemble.combine([1, 2, 3], rule: .mean, lambda: 1) == 2)
        #expect(RewardEnsemble.combine([1, 2, 3], rule: .min, lambda: 1) == 1)
        #expect(abs(RewardEnsemble.combine([1, 2, 3], rule: .meanMinusStd, lambda: 0.5) - (2 - 0.5 * (2.0 / 3).squareRoot())) < 1e-12)
    }

    @Test func rewardModelBatchesCoverEveryPairOncePerEpoch() {
        let first = (1...5).flatMap { RewardModelTraining.batch(step: $0, batchSize: 4, count: 20, seed: 9) }
        #expect(Set(first).count == 20)
        #expect(RewardModelTraining.batch(step: 3, batchSize: 4, count: 20, seed: 9) == RewardModelTraining.batch(step: 3, batchSize: 4, count: 20, seed: 9))
    }
}

struct RewardModelLearningTests {
    /// A reward model learns "the longer answer is better" from 64 pairs to > 95% held-out accuracy.
    @Test func tinyRewardModelLearnsLongerOverShorter() throws {
        let tok = Fixtures.tokenizer
        var rng = RNG(seed: 5)
        func pair() -> PreferencePair {
            let a = rng.nextInt(in: 1...9), b = rng.nextInt(in: 1...9)
            let short = String(repeating: "7", count: rng.nextInt(in: 1...3))
            let long = String(repeating: "7", count: rng.nextInt(in: 8...14))
            return PreferencePair(prompt: Conversation(user: "What is \(a) + \(b)?"), chosen: .assistant(long), rejected: .assistant(short), source: "test")
        }
        let train = try RewardModelTraining.encode((0..<64).map { _ in pair() }, tokenizer: tok, maxSeqLen: 128)
        let held = try RewardModelTraining.encode((0..<64).map { _ in pair() }, tokenizer: tok, maxSeqLen: 128)
        let model = RewardModel(trunk: Fixtures.model(seed: 2))
        let before = RewardModelTraining.evaluate(model, pairs: held)
        var p = RewardModelTraining.Parameters()
        p.steps = 60
        p.batchSize = 16
        p.learningRate = 3e-3
        p.evalEvery = 0
        p.checkpointEvery = 0
        let dir = Fixtures.temporaryDirectory("rm-separable")
        defer { try? FileManager.default.removeItem(at: dir) }
        var losses: [Double] = []
        _ = try RewardModelTraining.train(model: model, tokenizer: tok, train: train, validation: held, parameters: p, seed: 1,
                                          checkpointDirectory: dir, resume: false) { losses.append($0.metrics["loss"]!); return true }
        let after = RewardModelTraining.evaluate(model, pairs: held)
        #expect(after["accuracy"]! > 0.95, "held-out accuracy \(after["accuracy"]!) (before \(before["accuracy"]!))")
        #expect(losses.last! < 0.3 && losses.first! > 0.6, "loss \(losses.first!) -> \(losses.last!)")
        // The saved model scores as the trained one.
        let loaded = try RewardModel.load(from: dir)
        #expect(loaded.scores([held[0].chosen]) == model.scores([held[0].chosen]))
    }

    /// PPO's first minibatch of its first epoch sees the policy that sampled: every ratio is 1,
    /// nothing is clipped and the update's KL is 0 (at a sampling temperature other than 1 too);
    /// after that step the next minibatch's ratios have moved.
    @Test func ppoRatioIsOneOnTheFirstMinibatch() throws {
        let policy = Fixtures.model(seed: 6)
        var r = GRPO.Parameters()
        r.temperature = 0.7
        r.microBatch = 2
        var p = PPO.Parameters()
        p.cliprange = 0.2
        let samples = (0..<4).map { i in
            GRPO.Sample(group: i, promptIDs: [1, 2, 3, Int32(4 + i)], completionIDs: [5, 6, Int32(7 + i), 8], reward: Double(i))
        }
        let old = GRPO.completionLogProbs(model: policy, samples: samples, temperature: r.samplingTemperature, microBatch: 3)
        let trajectories = samples.enumerated().map { i, s in
            PPO.Trajectory(sample: s, oldLogp: old[i].map(Double.init), oldValues: [0, 0, 0, 0],
                           advantages: [1, -1, 0.5, i % 2 == 0 ? 1 : -1], returns: [1, 1, 1, 1])
        }
        let optimizer = AdamW(layout: policy.layout, parameters: r.adamW)
        var head = ScalarHead(width: policy.config.dModel)
        let first = PPO.minibatchStep(policy: policy, head: &head, optimizer: optimizer, trajectories, p: p, r: r, lr: 1e-2)
        #expect(abs(first["ratio_mean"]! - 1) < 1e-5, "first minibatch ratio \(first["ratio_mean"]!)")
        #expect(first["clipfrac"]! == 0 && first["approx_kl"]! < 1e-9, "clipfrac \(first["clipfrac"]!), approx_kl \(first["approx_kl"]!)")
        let second = PPO.minibatchStep(policy: policy, head: &head, optimizer: optimizer, trajectories, p: p, r: r, lr: 1e-2)
        #expect(abs(second["ratio_mean"]! - 1) > 1e-4 && second["approx_kl"]! > 1e-9, "second minibatch ratio \(second["ratio_mean"]!)")
    }

    /// A smaller model kept from a bigger one: the same tensors for the layers it keeps; all
    /// layers kept gives the same log-probabilities; asking for more layers than there are is an error.
    @Test func keepingLayersCopiesTheFirstBlocks() throws {
        let model = try Transformer(config: ModelConfig(vocabSize: 64, dModel: 32, nLayers: 3, nHeads: 2, maxSeqLen: 32), seed: 3)
        let small = try model.keepingLayers(1)
        #expect(small.config.nLayers == 1 && model.config.nLayers > 1)
        for t in small.layout.tensors {
            let source = try #require(model.layout.tensor(named: t.name))
            #expect(Array(UnsafeBufferPointer(start: small.params.pointer + t.offset, count: t.count))
                    == Array(UnsafeBufferPointer(start: model.params.pointer + source.offset, count: t.count)), "\(t.name) differs")
        }
        let same = try model.keepingLayers(model.config.nLayers)
        let sample = [GRPO.Sample(group: 0, promptIDs: [1, 2, 3], completionIDs: [4, 5, 6], reward: 0)]
        let a = GRPO.completionLogProbs(model: model, samples: sample, temperature: 1, microBatch: 1)
        let b = GRPO.completionLogProbs(model: same, samples: sample, temperature: 1, microBatch: 1)
        let c = GRPO.completionLogProbs(model: small, samples: sample, temperature: 1, microBatch: 1)
        #expect(a == b && a != c)
        #expect(throws: ModelError.self) { try model.keepingLayers(model.config.nLayers + 1) }
    }

    /// DPO's first step: ratio-free, the implicit rewards are 0 and the loss is log 2 exactly.
    @Test func dpoStartsAtLogTwo() throws {
        let tok = Fixtures.tokenizer
        let pairs = (0..<8).map { i in
            PreferencePair(prompt: Conversation(user: "What is \(i) + 1?"), chosen: .assistant("Answer: \(i + 1)"), rejected: .assistant("Answer: 0"), source: "test")
        }
        let samples = try DPO.samples(pairs, tokenizer: tok, maxSeqLen: 128)
        let policy = Fixtures.model(seed: 4), reference = Fixtures.model(seed: 4)
        var p = DPO.Parameters()
        p.steps = 3; p.batchSize = 8; p.learningRate = 1e-3; p.evalEvery = 0; p.checkpointEvery = 0
        let dir = Fixtures.temporaryDirectory("dpo-start")
        defer { try? FileManager.default.removeItem(at: dir) }
        var metrics: [[String: Double]] = []
        _ = try DPO.train(policy: policy, reference: reference, tokenizer: tok, train: samples, validation: samples, parameters: p, seed: 1,
                          checkpointDirectory: dir, resume: false) { metrics.append($0.metrics); return true }
        #expect(abs(metrics[0]["loss"]! - log(2)) < 1e-5 && abs(metrics[0]["rewards/margins"]!) < 1e-5)
        // Then the margin grows: chosen answers gain on rejected ones.
        #expect(metrics[2]["rewards/margins"]! > 0 && metrics[2]["loss"]! < log(2))
    }
}
