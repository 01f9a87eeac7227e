// Whole-model checks: finite differences through every tensor of a tiny transformer, for the
// supervised loss and for the RL heads (log-probs, entropy, hidden state); a tiny model must
// overfit a fixed batch.

import Testing
import PonderCore
@testable import Model

@Suite struct TransformerGradientTests {
    static let config = ModelConfig(vocabSize: 11, dModel: 8, nLayers: 2, nHeads: 2, nKVHeads: 1,
                                    ffnHidden: 16, maxSeqLen: 8, tieEmbeddings: false, qkvBias: true)

    /// A model with larger weights than the training init, so every gradient is well above
    /// the Float32 noise of finite differences.
    static func model(tied: Bool = false) throws -> Transformer {
        var c = config
        c.tieEmbeddings = tied
        let m = try Transformer(config: c, seed: 11)
        var rng = RNG(seed: 5)
        for t in m.layout.tensors {
            for i in 0..<t.count {
                let noise = Float(rng.nextGaussian())
                m.params[t.offset + i] = t.kind == .norm ? 1 + 0.2 * noise : 0.4 * noise
            }
        }
        return m
    }

    /// Central differences of `objective` at `samples` parameters of each tensor.
    static func check(_ m: Transformer, samples: Int = 6, objective: () -> Double) {
        let analytic = m.grads.array
        var rng = RNG(seed: 99)
        let h: Float = 5e-3
        for t in m.layout.tensors {
            var worst = 0.0
            for _ in 0..<samples {
                let i = t.offset + rng.nextInt(below: t.count)
                let saved = m.params[i]
                m.params[i] = saved + h
                let lp = objective()
                m.params[i] = saved - h
                let lm = objective()
                m.params[i] = saved
                let numeric = (lp - lm) / Double(2 * h)
                let a = Double(analytic[i])
                let tol = 2e-3 + 3e-2 * max(abs(numeric), abs(a))
                worst = max(worst, abs(numeric - a) / tol)
                #expect(abs(numeric - a) <= tol, "\(t.name)[\(i - t.offset)]: analytic \(a), numeric \(numeric)")
            }
            #expect(worst <= 1, "\(t.name): worst error ratio \(worst)")
        }
    }

    static let (B, T) = (2, 5)
    static func batch() -> (tokens: [Int32], targets: [Int32], weights: [Float]) {
        var rng = RNG(seed: 3)
        let tokens = (0..<(B * T)).map { _ in Int32(rng.nextInt(below: 11)) }
        var targets = (0..<(B * T)).map { _ in Int32(rng.nextInt(below: 11)) }
        targets[3] = -1
        let weights: [Float] = [1, 1, 0.5, 1, 0, 1, 2, 1, 1, 1]
        return (tokens, targets, weights)
    }

    @Test(arguments: [false, true])
    func crossEntropyGradient(tied: Bool) throws {
        let m = try Self.model(tied: tied)
        let (tokens, targets, weights) = Self.batch()
        m.zeroGrad()
        m.forward(tokens: tokens, B: Self.B, T: Self.T)
        _ = m.crossEntropy(targets: targets, weights: weights)
        m.backwardCrossEntropy()
        Self.check(m) {
            m.forward(tokens: tokens, B: Self.B, T: Self.T)
            return Double(m.crossEntropy(targets: targets, weights: weights))
        }
    }

    @Test func headsGradient() throws {
        let m = try Self.model()
        let (tokens, targets, _) = Self.batch()
        let N = Self.B * Self.T, C = Self.config.dModel
        var rng = RNG(seed: 8)
        let a = (0..<N).map { _ in Float(rng.nextGaussian()) }
        let b = (0..<N).map { _ in Float(rng.nextGaussian()) }
        let r = (0..<(N * C)).map { _ in Float(rng.nextGaussian()) }
        func objective() -> Double {
            m.forward(tokens: tokens, B: Self.B, T: Self.T)
            var s = 0.0
            for (i, x) in m.hidden.enumerated() { s += Double(x) * Double(r[i]) }
            let (lp, ent) = m.logProbs(targets: targets)
            for n in 0..<N { s += Double(a[n]) * Double(lp[n]) + Double(b[n]) * Double(ent[n]) }
            return s
        }
        m.zeroGrad()
        _ = objective()
        m.backward(dlogp: a, dentropy: b, dhidden: r)
        Self.check(m, objective: objective)
    }

    @Test func hiddenOnlyGradient() throws {
        let m = try Self.model()
        let (tokens, _, _) = Self.batch()
        let N = Self.B * Self.T, C = Self.config.dModel
        var rng = RNG(seed: 9)
        let r = (0..<(N * C)).map { _ in Float(rng.nextGaussian()) }
        func objective() -> Double {
            m.forward(tokens: tokens, B: Self.B, T: Self.T, computeLogits: false)
            var s = 0.0
            for (i, x) in m.hidden.enumerated() { s += Double(x) * Double(r[i]) }
            return s
        }
        m.zeroGrad()
        _ = objective()
        m.backward(dhidden: r)
        // The LM head gets no gradient from the hidden state.
        let head = m.layout.tensor(named: "lm_head.weight")!
        #expect(m.grads.slice(head.offset, head.count).allSatisfy { $0 == 0 })
        Self.check(m, objective: objective)
    }

    @Test func causality() throws {
        // Changing a later token must not change earlier positions' logits.
        let m = try Self.model()
        var tokens: [Int32] = [1, 2, 3, 4, 5]
        m.forward(tokens: tokens, B: 1, T: 5)
        let before = Array(m.logits)
        tokens[4] = 9
        m.forward(tokens: tokens, B: 1, T: 5)
        let after = Array(m.logits)
        let V = 11
        #expect(Array(before[0..<(4 * V)]) == Array(after[0..<(4 * V)]))
        #expect(Array(before[(4 * V)...]) != Array(after[(4 * V)...]))
    }

    @Test func overfitsAFixedBatch() throws {
        let c = ModelConfig(vocabSize: 32, dModel: 32, nLayers: 2, nHeads: 2, maxSeqLen: 16)
        let m = try Transformer(config: c, seed: 1)
        let opt = AdamW(layout: m.layout, parameters: AdamWParameters(weightDecay: 0))
        var rng = RNG(seed: 2)
        let (B, T) = (4, 16)
        let data = (0..<(B * (T + 1))).map { _ in Int32(rng.nextInt(below: 32)) }
        var tokens: [Int32] = [], targets: [Int32] = []
        for b in 0..<B {
            let start: Int = b * (T + 1)
            tokens.append(contentsOf: data[start..<(start + T)])
            targets.append(contentsOf: data[(start + 1)...(start + T)])
        }
        let weights = [Float](repeating: 1, count: B * T)
        var loss: Float = 0
        for _ in 0..<200 {
            m.zeroGrad()
            m.forward(tokens: tokens, B: B, T: T)
            loss = m.crossEntropy(targets: targets, weights: weights)
            m.backwardCrossEntropy()
            clipGradientNorm(m.grads, maxNorm: 1)
            opt.update(params: m.params, grads: m.grads, lr: 1e-2)
        }
        #expect(loss < 0.05, "final loss \(loss)")
    }

    @Test func schedules() {
        let cos = LRSchedule.cosine(warmup: 10, total: 110, minRatio: 0.1)
        #expect(abs(cos.lr(step: 0, peak: 1) - 0.1) < 1e-6)
        #expect(abs(cos.lr(step: 9, peak: 1) - 1) < 1e-6)
        #expect(abs(cos.lr(step: 60, peak: 1) - 0.55) < 1e-6)
        #expect(abs(cos.lr(step: 110, peak: 1) - 0.1) < 1e-6)
        let lin = LRSchedule.linear(warmup: 0, total: 100, minRatio: 0)
        #expect(abs(lin.lr(step: 25, peak: 2) - 1.5) < 1e-6)
        #expect(LRSchedule.constant.lr(step: 1000, peak: 3) == 3)
    }

    @Test func clipping() throws {
        let m = try Transformer(config: Self.config, seed: 1)
        for i in 0..<m.grads.count { m.grads[i] = 1 }
        let norm = clipGradientNorm(m.grads, maxNorm: 1)
        #expect(abs(norm - Float(m.grads.count).squareRoot()) < 1e-2)
        let after = clipGradientNorm(m.grads, maxNorm: 0)
        #expect(abs(after - 1) < 1e-4)
    }
}
