// The GRPO objective through a real tiny transformer (issue 6, item 4): with num_iterations 1
// the clipped objective's gradient is the plain policy gradient; clipped tokens give no
// gradient and are counted; k3 is 0 against identical weights and positive otherwise; the
// gradient matches finite differences of the loss with temperature, clipping and KL all on;
// recomputed log-probs at a temperature match the engine's.

import Foundation
import Testing
import PonderCore
import Model
import Training

/// A tiny model and a small batch shared by the GRPO tests.
enum GRPOFixture {
    static let config = ModelConfig(vocabSize: 12, dModel: 16, nLayers: 2, nHeads: 2, nKVHeads: 1,
                                    ffnHidden: 32, maxSeqLen: 16, tieEmbeddings: false)

    /// Weights larger than the training init, so log-probs differ visibly between tokens and
    /// gradients stand well above Float32 noise.
    static func model(seed: UInt64 = 7, scale: Double = 0.3) throws -> Transformer {
        let m = try Transformer(config: config, seed: seed)
        var rng = RNG(seed: seed &+ 100)
        for t in m.layout.tensors {
            for i in 0..<t.count {
                let noise = rng.nextGaussian()
                m.params[t.offset + i] = Float(t.kind == .norm ? 1 + 0.1 * noise : scale * noise)
            }
        }
        return m
    }

    static func copy(of m: Transformer) throws -> Transformer {
        let c = try Transformer(config: m.config)
        c.params.copy(from: m.params)
        return c
    }

    /// Two groups, prompts and completions of different lengths, one forced token.
    static let samples: [GRPO.Sample] = [
        GRPO.Sample(group: 0, promptIDs: [1, 2, 3], completionIDs: [4, 5], reward: 1),
        GRPO.Sample(group: 0, promptIDs: [1, 2, 3], completionIDs: [6, 7, 8, 9, 10], reward: 0),
        GRPO.Sample(group: 0, promptIDs: [1, 2, 3], completionIDs: [11], reward: 0.5),
        GRPO.Sample(group: 1, promptIDs: [9, 8], completionIDs: [3, 3, 2, 1], lossMask: [1, 0, 0, 1], reward: 0),
        GRPO.Sample(group: 1, promptIDs: [9, 8], completionIDs: [5, 6, 7], reward: 1),
    ]

    static func advantages(_ p: GRPO.Parameters) -> [Double] {
        GRPO.advantages(rewards: samples.map(\.reward), groups: samples.map(\.group), parameters: p)
    }

    /// The gradient of -sum_{i,t} coefficient(i, t, logp) over the batch, computed one sample
    /// at a time (B = 1, no padding) straight through `Transformer.backward(dlogp:)`: an
    /// independent path from GRPO's micro-batches. `coefficient` returns d(objective)/d(logp).
    static func perSampleGradient(_ m: Transformer, _ samples: [GRPO.Sample],
                                  _ coefficient: (Int, Int, Float) -> Double) -> [Float] {
        m.zeroGrad()
        for (i, s) in samples.enumerated() {
            let tokens = s.promptIDs + s.completionIDs.dropLast()
            var targets = [Int32](repeating: -1, count: tokens.count)
            for (j, t) in s.completionIDs.enumerated() { targets[s.promptIDs.count - 1 + j] = t }
            m.forward(tokens: tokens, B: 1, T: tokens.count)
            let (logp, _) = m.logProbs(targets: targets)
            var dlogp = [Float](repeating: 0, count: tokens.count)
            for j in s.completionIDs.indices {
                let n = s.promptIDs.count - 1 + j
                dlogp[n] = Float(-coefficient(i, j, logp[n]))
            }
            m.backward(dlogp: dlogp)
        }
        return m.grads.array
    }

    /// ||a - b|| / ||b||.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        var diff = 0.0, norm = 0.0
        for (x, y) in zip(a, b) {
            diff += Double(x - y) * Double(x - y)
            norm += Double(y) * Double(y)
        }
        return (diff / norm).squareRoot()
    }
}

@Suite struct GRPOObjectiveTests {
    @Test func tokenObjectiveByHand() {
        let p = GRPO.Parameters(beta: 0.1, epsLow: 0.2, epsHigh: 0.2)
        func at(_ rho: Double, _ A: Double, ref: Double? = nil) -> GRPO.TokenObjective {
            GRPO.tokenObjective(logp: -1, oldLogp: -1 - log(rho), refLogp: ref, advantage: A, parameters: p)
        }
        // A = 2, rho = 1.5 > 1.2: min(3, 2.4) = 2.4 on the clipped branch, gradient 0.
        var t = at(1.5, 2)
        #expect(abs(t.value - 2.4) < 1e-12 && t.gradient == 0 && t.clippedHigh && !t.clippedLow)
        // A = 2, rho = 0.5: min(1, 1.6) = 1 unclipped (a good token made less likely is not clipped),
        // gradient rho A = 1.
        t = at(0.5, 2)
        #expect(abs(t.value - 1) < 1e-12 && abs(t.gradient - 1) < 1e-12 && !t.clippedHigh && !t.clippedLow)
        // A = -1, rho = 0.5 < 0.8: min(-0.5, -0.8) = -0.8 clipped low, gradient 0.
        t = at(0.5, -1)
        #expect(abs(t.value - -0.8) < 1e-12 && t.gradient == 0 && t.clippedLow && !t.clippedHigh)
        // A = -1, rho = 1.5: min(-1.5, -1.2) = -1.5 unclipped (never cap how much worse a bad
        // token gets punished), gradient -1.5.
        t = at(1.5, -1)
        #expect(abs(t.value - -1.5) < 1e-12 && abs(t.gradient - -1.5) < 1e-12 && !t.clippedLow && !t.clippedHigh)
        // KL: A = 1, rho = 1.1, ref - logp = 0.2: k3 = e^0.2 - 0.2 - 1 = 0.0214027582;
        //   J = 1.1 - 0.1 * 0.0214027582 = 1.0978597242; dJ/dlogp = 1.1 + 0.1 (e^0.2 - 1) = 1.1221402758.
        t = at(1.1, 1, ref: -0.8)
        #expect(abs(t.kl - 0.0214027582) < 1e-9)
        #expect(abs(t.value - 1.0978597242) < 1e-9)
        #expect(abs(t.gradient - 1.1221402758) < 1e-9)
    }

    @Test func tokenGradientMatchesFiniteDifferences() {
        // Random points away from the clip edges; Double throughout.
        var rng = RNG(seed: 12)
        let p = GRPO.Parameters(beta: 0.05, epsLow: 0.2, epsHigh: 0.28)
        var checked = 0
        for _ in 0..<200 {
            let logp = -3 * rng.nextDouble(), old = logp + 0.8 * (rng.nextDouble() - 0.5)
            let ref = logp + rng.nextGaussian() * 0.5, A = rng.nextGaussian()
            let rho = exp(logp - old)
            if abs(rho - 0.8) < 0.01 || abs(rho - 1.28) < 0.01 { continue }
            let h = 1e-6
            let plus = GRPO.tokenObjective(logp: logp + h, oldLogp: old, refLogp: ref, advantage: A, parameters: p).value
            let minus = GRPO.tokenObjective(logp: logp - h, oldLogp: old, refLogp: ref, advantage: A, parameters: p).value
            let analytic = GRPO.tokenObjective(logp: logp, oldLogp: old, refLogp: ref, advantage: A, parameters: p).gradient
            #expect(abs((plus - minus) / (2 * h) - analytic) < 1e-6)
            checked += 1
        }
        #expect(checked > 150)
    }

    /// Issue 6 item 4: with num_iterations 1 the ratio is 1 and the clipped objective's
    /// gradient equals the plain policy-gradient one, sum_{i,t} w_{i,t} A_i grad log pi.
    @Test(arguments: GRPO.LossType.allCases)
    func ratioOneGivesThePolicyGradient(lossType: GRPO.LossType) throws {
        let m = try GRPOFixture.model()
        let p = GRPO.Parameters(lossType: lossType, epsLow: 0.2, epsHigh: 0.28, maxCompletionLength: 6)
        let samples = GRPOFixture.samples
        let A = GRPOFixture.advantages(p)
        #expect(A.contains { $0 > 0 } && A.contains { $0 < 0 })
        let weights = GRPO.tokenWeights(samples: samples, parameters: p)

        m.zeroGrad()
        let stats = GRPO.accumulateGradients(policy: m, samples: samples, advantages: A, weights: weights,
                                             oldLogProbs: nil, refLogProbs: nil, parameters: p, microBatch: 2)
        let grpo = m.grads.array
        #expect(stats.ratio == 1 && stats.clipRegion == 0 && stats.kl == 0)
        #expect(stats.tokens == 13)  // 2 + 5 + 1 + 2 (two forced) + 3

        // REINFORCE: d/dlogp of sum w A logp is w A, aggregated with the hand-written weights.
        let S = Double(samples.count)
        let learned = samples.map { $0.lossMask.reduce(0) { $0 + Double($1) } }
        let reinforce = GRPOFixture.perSampleGradient(m, samples) { i, j, _ in
            let mask = Double(samples[i].lossMask[j])
            let w: Double
            switch lossType {
            case .grpo: w = mask / (learned[i] * S)
            case .dapo: w = mask / 13
            case .drGRPO: w = mask / (S * 6)
            }
            return w * A[i]
        }
        let error = GRPOFixture.relativeError(grpo, reinforce)
        print("GRPO policy-gradient equivalence, \(lossType): relative gradient error \(error)")
        #expect(error < 1e-6, "relative gradient error \(error)")
        #expect(grpo.contains { $0 != 0 })

        // The num_iterations > 1 path (old log-probs from a separate no-grad forward) gives
        // the same ratio 1 and the same gradient at the weights that sampled.
        let old = GRPO.completionLogProbs(model: m, samples: samples, temperature: 1, microBatch: 2)
        m.zeroGrad()
        let again = GRPO.accumulateGradients(policy: m, samples: samples, advantages: A, weights: weights,
                                             oldLogProbs: old, refLogProbs: nil, parameters: p, microBatch: 2)
        #expect(again.ratio == 1 && again.clipRegion == 0)
        #expect(m.grads.array == grpo)
    }

    /// Ratios pushed outside [1 - eps_low, 1 + eps_high] by shifting the old log-probs: the
    /// clipped tokens give no gradient and the clip metrics count them.
    @Test func clippedTokensGiveNoGradient() throws {
        let m = try GRPOFixture.model()
        let p = GRPO.Parameters(lossType: .grpo, epsLow: 0.2, epsHigh: 0.28)
        let samples = GRPOFixture.samples
        let A = GRPOFixture.advantages(p)
        let weights = GRPO.tokenWeights(samples: samples, parameters: p)
        let current = GRPO.completionLogProbs(model: m, samples: samples, temperature: 1, microBatch: 2)
        // shift -0.5: rho = e^0.5 = 1.65 > 1.28; +0.5: rho = e^-0.5 = 0.61 < 0.8; 0: rho = 1.
        func shift(_ i: Int, _ j: Int) -> Float { [Float(-0.5), 0, 0.5][(i + j) % 3] }
        let old = current.enumerated().map { i, row in row.enumerated().map { j, lp in lp + shift(i, j) } }

        m.zeroGrad()
        let stats = GRPO.accumulateGradients(policy: m, samples: samples, advantages: A, weights: weights,
                                             oldLogProbs: old, refLogProbs: nil, parameters: p, microBatch: 3)
        let clipped = m.grads.array

        // By construction: clipped where (A > 0, rho > 1.28) or (A < 0, rho < 0.8), else rho A.
        var low = 0.0, high = 0.0, tokens = 0.0
        for (i, s) in samples.enumerated() {
            for j in s.completionIDs.indices where s.lossMask[j] > 0 {
                tokens += 1
                if A[i] > 0 && shift(i, j) < 0 { high += 1 }
                if A[i] < 0 && shift(i, j) > 0 { low += 1 }
            }
        }
        #expect(low > 0 && high > 0)
        #expect(abs(stats.clipLow - low / tokens) < 1e-12 && abs(stats.clipHigh - high / tokens) < 1e-12)
        #expect(abs(stats.clipRegion - (low + high) / tokens) < 1e-12)

        let expected = GRPOFixture.perSampleGradient(m, samples) { i, j, _ in
            let rho = exp(-Double(shift(i, j)))
            let isClipped = (A[i] > 0 && rho > 1.28) || (A[i] < 0 && rho < 0.8)
            return isClipped ? 0 : weights[i][j] * rho * A[i]
        }
        let error = GRPOFixture.relativeError(clipped, expected)
        print("GRPO clipping: \(Int(low)) low- and \(Int(high)) high-clipped of \(Int(tokens)) tokens, relative gradient error \(error)")
        #expect(error < 1e-6, "relative gradient error \(error)")

        // And the clipped tokens matter: without clipping the gradient is different.
        let unclipped = GRPOFixture.perSampleGradient(m, samples) { i, j, _ in
            weights[i][j] * exp(-Double(shift(i, j))) * A[i]
        }
        #expect(GRPOFixture.relativeError(clipped, unclipped) > 1e-2)
    }

    /// num_iterations 2: two AdamW steps on one batch; the first pass has rho == 1, the second
    /// sees the weights the first step moved, so its ratios differ from 1.
    @Test func severalIterationsReuseTheOldLogProbs() throws {
        let m = try GRPOFixture.model()
        let p = GRPO.Parameters(lossType: .dapo, epsLow: 0.2, epsHigh: 0.2, numIterations: 2, learningRate: 3e-2)
        let optimizer = AdamW(layout: m.layout)
        let before = m.params.array
        let metrics = GRPO.optimize(policy: m, reference: nil, optimizer: optimizer, samples: GRPOFixture.samples,
                                    advantages: GRPOFixture.advantages(p), parameters: p, learningRate: 3e-2, microBatch: 2)
        #expect(optimizer.step == 2 && metrics["optimizer_steps"] == 2)
        #expect(m.params.array != before)
        // The mean over the two passes: pass 1 contributes exactly 1, pass 2 something else.
        #expect(metrics["ratio_mean"]! != 1)
        #expect(metrics["tokens"] == 13 && metrics["learning_rate"] == Double(Float(3e-2)))
        for key in ["loss", "policy_loss", "kl", "entropy", "clip_ratio_low", "clip_ratio_high",
                    "clip_ratio_region", "grad_norm", "advantage_mean", "advantage_std", "advantage_min",
                    "advantage_max", "truncated_masked"] {
            #expect(metrics[key]?.isFinite == true, "\(key) missing or not finite")
        }
    }

    /// k3 on real model log-probs: 0 against identical weights, positive against perturbed ones.
    @Test func klIsZeroAgainstItselfAndPositiveOtherwise() throws {
        let policy = try GRPOFixture.model()
        let samples = GRPOFixture.samples
        let same = try GRPOFixture.copy(of: policy)
        let perturbed = try GRPOFixture.copy(of: policy)
        var rng = RNG(seed: 3)
        for i in 0..<perturbed.params.count { perturbed.params[i] += Float(0.05 * rng.nextGaussian()) }

        let lp = GRPO.completionLogProbs(model: policy, samples: samples, temperature: 1, microBatch: 4)
        let lpSame = GRPO.completionLogProbs(model: same, samples: samples, temperature: 1, microBatch: 4)
        let lpOther = GRPO.completionLogProbs(model: perturbed, samples: samples, temperature: 1, microBatch: 4)
        var klSame = 0.0, klOther = 0.0
        for i in lp.indices {
            for j in lp[i].indices {
                let k = GRPO.k3(logp: Double(lp[i][j]), refLogp: Double(lpOther[i][j]))
                #expect(k >= 0)
                klOther += k
                klSame += GRPO.k3(logp: Double(lp[i][j]), refLogp: Double(lpSame[i][j]))
            }
        }
        #expect(abs(klSame) < 1e-6)
        #expect(klOther > 1e-4, "k3 sum against perturbed weights: \(klOther)")

        // Through optimize: the logged KL (beta 0, reference given) is measured before the step.
        func loggedKL(reference: Transformer?) throws -> Double {
            let m = try GRPOFixture.copy(of: policy)
            let p = GRPO.Parameters(beta: 0, learningRate: 1e-3)
            let metrics = GRPO.optimize(policy: m, reference: reference, optimizer: AdamW(layout: m.layout),
                                        samples: samples, advantages: GRPOFixture.advantages(p), parameters: p,
                                        learningRate: 1e-3, microBatch: 2)
            return metrics["kl"]!
        }
        #expect(try abs(loggedKL(reference: same)) < 1e-6)
        #expect(try loggedKL(reference: perturbed) > 1e-5)
        #expect(try loggedKL(reference: nil) == 0)
    }

    /// The whole loss (temperature 0.7, beta 0.05 against a perturbed reference, old
    /// log-probs shifted so some tokens clip, micro-batches of 2) against central
    /// differences through every tensor.
    @Test func lossGradientMatchesFiniteDifferences() throws {
        let m = try GRPOFixture.model(seed: 9, scale: 0.4)
        let reference = try GRPOFixture.copy(of: m)
        var rng = RNG(seed: 4)
        for i in 0..<reference.params.count { reference.params[i] += Float(0.1 * rng.nextGaussian()) }
        let p = GRPO.Parameters(lossType: .grpo, beta: 0.05, epsLow: 0.2, epsHigh: 0.28, temperature: 0.7)
        let samples = GRPOFixture.samples
        let A = GRPOFixture.advantages(p)
        let weights = GRPO.tokenWeights(samples: samples, parameters: p)
        let ref = GRPO.completionLogProbs(model: reference, samples: samples, temperature: 0.7, microBatch: 2)
        let current = GRPO.completionLogProbs(model: m, samples: samples, temperature: 0.7, microBatch: 2)
        let old = current.enumerated().map { i, row in row.enumerated().map { j, lp in lp + [Float(-0.5), 0, 0.5][(i + j) % 3] } }
        func loss(backward: Bool) -> GRPO.PassStatistics {
            GRPO.accumulateGradients(policy: m, samples: samples, advantages: A, weights: weights, oldLogProbs: old,
                                     refLogProbs: ref, parameters: p, microBatch: 2, backward: backward)
        }
        m.zeroGrad()
        let stats = loss(backward: true)
        #expect(stats.clipRegion > 0 && stats.kl > 0)
        let analytic = m.grads.array

        var pick = RNG(seed: 5)
        // Central differences of a Float32 loss: the loss noise (about 1e-5) over 2h dominates
        // for small h, the curvature error for large h. A wrong gradient fails at both steps;
        // a right one passes at the better of the two.
        func numeric(_ i: Int, _ h: Float) -> Double {
            let saved = m.params[i]
            m.params[i] = saved + h
            let plus = loss(backward: false).loss
            m.params[i] = saved - h
            let minus = loss(backward: false).loss
            m.params[i] = saved
            return (plus - minus) / Double(2 * h)
        }
        var checked = 0
        for t in m.layout.tensors {
            for _ in 0..<4 {
                let i = t.offset + pick.nextInt(below: t.count)
                let a = Double(analytic[i])
                let (coarse, fine) = (numeric(i, 1e-2), numeric(i, 3e-3))
                let error = min(abs(coarse - a), abs(fine - a))
                #expect(error <= 1e-3 + 3e-2 * abs(a),
                        "\(t.name)[\(i - t.offset)]: analytic \(a), numeric \(coarse) (h 1e-2), \(fine) (h 3e-3)")
                if abs(a) > 1e-3 { checked += 1 }
            }
        }
        #expect(checked > 20, "only \(checked) gradients above 1e-3")
    }

    /// Log-probs recomputed at a temperature are those the engine sampled with.
    @Test func recomputedLogProbsMatchTheEngine() throws {
        let m = try GRPOFixture.model()
        let engine = Engine(model: m, sequences: 8, maxLength: 16)
        var rng = RNG(seed: 2)
        let prompts: [[Int32]] = [[1, 2, 3], [9, 8]]
        let temperature: Float = 0.7
        let out = engine.generate(prompts: prompts, samplesPerPrompt: 4,
                                  parameters: SamplingParameters(temperature: temperature, maxNewTokens: 6), rng: &rng)
        var samples: [GRPO.Sample] = []
        for (i, gens) in out.enumerated() {
            for g in gens { samples.append(GRPO.Sample(group: i, promptIDs: prompts[i], completionIDs: g.tokens, reward: 0)) }
        }
        let recomputed = GRPO.completionLogProbs(model: m, samples: samples, temperature: temperature, microBatch: 3)
        let sampled = out.flatMap { $0.map(\.logProbs) }
        var worst: Float = 0
        for (a, b) in zip(recomputed, sampled) {
            #expect(a.count == b.count)
            for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)) }
        }
        #expect(worst < 1e-4, "largest log-prob difference \(worst)")
        // At temperature 1 they differ: the temperature is really applied.
        let plain = GRPO.completionLogProbs(model: m, samples: samples, temperature: 1, microBatch: 3)
        #expect(zip(plain, sampled).contains { a, b in zip(a, b).contains { abs($0 - $1) > 1e-2 } })
    }
}
