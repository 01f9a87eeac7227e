// One GRPO optimisation step over a batch of scored samples: micro-batched forward passes,
// the per-token objective fed back through `Transformer.backward(dlogp:)`, gradient
// accumulation with fixed whole-batch weights, global-norm clipping and AdamW. The objective
// and every shortcut are stated in GRPO.swift's header.
//
// Sequence layout: a sample of prompt p (P tokens) and completion o (L tokens) is fed as the
// P + L - 1 tokens p o_0 .. o_{L-2}; position P - 1 + j predicts o_j. Rows of a micro-batch are
// right-padded with token 0 to the longest; causal attention means padding never influences
// the real positions, and its targets are -1 (no log-prob, no gradient). Prompt positions have
// target -1 too.

import Model
import PonderCore

extension GRPO {
    /// What one forward/backward pass over the batch measured. Means are over loss-masked
    /// tokens (weighted by the effective mask m), so forced tool output never counts.
    public struct PassStatistics: Sendable, Equatable {
        /// -sum w J: the loss whose gradient the pass accumulated.
        public var loss = 0.0
        /// -sum w min(rho A, clip(rho) A): the loss without the KL term.
        public var policyLoss = 0.0
        /// Mean k3 against the reference (0 without one).
        public var kl = 0.0
        /// Mean entropy of softmax(logits / temperature) at the learned positions.
        public var entropy = 0.0
        /// Mean rho (exactly 1 when the old log-probs are the current ones).
        public var ratio = 0.0
        public var clipLow = 0.0
        public var clipHigh = 0.0
        /// Share of tokens on either clipped branch.
        public var clipRegion = 0.0
        /// sum of m over the batch (the number of learned tokens).
        public var tokens = 0.0
    }

    /// A micro-batch of samples, padded to its longest sequence.
    struct MicroBatch {
        var rows: [Int] = []           // sample index of each row
        var T = 0
        var tokens: [Int32] = []       // [B, T]
        var targets: [Int32] = []      // [B, T], -1 = ignored
        var firstTarget: [Int] = []    // flat index of each row's o_0 prediction
    }

    /// Splits `samples[among]` (in order; all by default) into micro-batches of at most `size`
    /// sequences; samples without completion tokens have nothing to predict and are left out.
    static func microBatches(_ samples: [Sample], size: Int, maxSeqLen: Int, among: Range<Int>? = nil) -> [MicroBatch] {
        precondition(size >= 1, "GRPO: micro-batch size must be >= 1, got \(size)")
        let indices = (among ?? samples.indices).filter { !samples[$0].completionIDs.isEmpty }
        var out: [MicroBatch] = []
        var start = 0
        while start < indices.count {
            let rows = Array(indices[start..<min(indices.count, start + size)])
            start += size
            var b = MicroBatch(rows: rows)
            b.T = rows.map { samples[$0].promptIDs.count + samples[$0].completionIDs.count - 1 }.max()!
            precondition(b.T <= maxSeqLen, "GRPO: a prompt + completion of \(b.T + 1) tokens exceeds the model's \(maxSeqLen) positions")
            b.tokens = [Int32](repeating: 0, count: rows.count * b.T)
            b.targets = [Int32](repeating: -1, count: rows.count * b.T)
            for (r, i) in rows.enumerated() {
                let s = samples[i]
                precondition(!s.promptIDs.isEmpty, "GRPO: sample \(i) has an empty prompt")
                let sequence = s.promptIDs + s.completionIDs.dropLast()
                for (t, token) in sequence.enumerated() { b.tokens[r * b.T + t] = token }
                let first = r * b.T + s.promptIDs.count - 1
                for (j, token) in s.completionIDs.enumerated() { b.targets[first + j] = token }
                b.firstTarget.append(first)
            }
            out.append(b)
        }
        return out
    }

    /// Forward over a micro-batch; log-probs and entropies of softmax(logits / temperature).
    /// The temperature is applied by scaling the model's logits buffer in place between
    /// forward and `logProbs` (the Model has no temperature argument); the backward of the
    /// scaled logits is then d/d(z / tau), which `backwardScale` (1 / tau) turns into d/dz.
    static func forwardLogProbs(_ model: Transformer, _ b: MicroBatch, temperature: Float)
        -> (logp: UnsafeBufferPointer<Float>, entropy: UnsafeBufferPointer<Float>)
    {
        model.forward(tokens: b.tokens, B: b.rows.count, T: b.T)
        if temperature != 1 {
            let logits = model.logits
            let z = UnsafeMutablePointer(mutating: logits.baseAddress!)
            let inverse = 1 / temperature
            for k in 0..<logits.count { z[k] *= inverse }
        }
        return model.logProbs(targets: b.targets)
    }

    /// log pi(o_t | ...) of every completion token of every sample (of `samples[among]`; the
    /// others are left 0) under `model` at `temperature`, no gradient: the old policy's or the
    /// reference's log-probs.
    public static func completionLogProbs(model: Transformer, samples: [Sample], temperature: Float,
                                          microBatch: Int, among: Range<Int>? = nil) -> [[Float]] {
        var out = samples.map { [Float](repeating: 0, count: $0.completionIDs.count) }
        for b in microBatches(samples, size: microBatch, maxSeqLen: model.config.maxSeqLen, among: among) {
            let (logp, _) = forwardLogProbs(model, b, temperature: temperature)
            for (r, i) in b.rows.enumerated() {
                for j in 0..<samples[i].completionIDs.count { out[i][j] = logp[b.firstTarget[r] + j] }
            }
        }
        return out
    }

    /// The GRPO loss over the batch and, when `backward`, its gradient added into
    /// `policy.grads` (no zeroing, no clipping, no step: `optimize` does those).
    ///   weights: w_{i,t} from `tokenWeights`; oldLogProbs: nil = the current log-probs
    ///   detached (rho == 1 exactly); refLogProbs: nil = no reference (KL 0, beta must be 0).
    /// With a collective of N ranks, this rank takes its share of the samples (`share(of:)`) and
    /// the statistics are summed over the ranks; the gradient stays this rank's part (`optimize`
    /// sums it).
    public static func accumulateGradients(
        policy: Transformer, samples: [Sample], advantages: [Double], weights: [[Double]],
        oldLogProbs: [[Float]]?, refLogProbs: [[Float]]?, parameters: Parameters, microBatch: Int,
        backward: Bool = true, collective: any Collective = SingleProcess.shared
    ) -> PassStatistics {
        precondition(advantages.count == samples.count && weights.count == samples.count)
        precondition(refLogProbs != nil || parameters.beta == 0, "GRPO: beta > 0 needs a reference model")
        let backwardScale = 1 / Double(parameters.samplingTemperature)
        var stats = PassStatistics()
        let among = collective.share(of: samples.count)
        for b in microBatches(samples, size: microBatch, maxSeqLen: policy.config.maxSeqLen, among: among) {
            let (logp, entropy) = forwardLogProbs(policy, b, temperature: parameters.samplingTemperature)
            var dlogp = [Float](repeating: 0, count: b.tokens.count)
            for (r, i) in b.rows.enumerated() {
                let mask = effectiveMask(samples[i], parameters: parameters)
                for j in 0..<samples[i].completionIDs.count {
                    let n = b.firstTarget[r] + j
                    let lp = Double(logp[n])
                    let old = oldLogProbs.map { Double($0[i][j]) } ?? lp
                    let ref = refLogProbs.map { Double($0[i][j]) }
                    let token = tokenObjective(logp: lp, oldLogp: old, refLogp: ref, advantage: advantages[i],
                                               parameters: parameters)
                    let w = weights[i][j]
                    stats.loss -= w * token.value
                    stats.policyLoss -= w * token.surrogate
                    dlogp[n] = Float(-w * token.gradient * backwardScale)
                    let m = mask[j]
                    stats.tokens += m
                    stats.kl += m * token.kl
                    stats.entropy += m * Double(entropy[n])
                    stats.ratio += m * token.ratio
                    stats.clipLow += token.clippedLow ? m : 0
                    stats.clipHigh += token.clippedHigh ? m : 0
                    stats.clipRegion += token.clippedLow || token.clippedHigh ? m : 0
                }
            }
            if backward { policy.backward(dlogp: dlogp) }
        }
        if collective.isDistributed {
            let fields: [WritableKeyPath<PassStatistics, Double>] = [\.loss, \.policyLoss, \.kl, \.entropy, \.ratio, \.clipLow,
                                                                      \.clipHigh, \.clipRegion, \.tokens]
            var sums = fields.map { stats[keyPath: $0] }
            collective.sum(&sums)
            for (field, value) in zip(fields, sums) { stats[keyPath: field] = value }
        }
        if stats.tokens > 0 {
            for keyPath in [\PassStatistics.kl, \.entropy, \.ratio, \.clipLow, \.clipHigh, \.clipRegion] {
                stats[keyPath: keyPath] /= stats.tokens
            }
        }
        return stats
    }

    /// One GRPO update over `samples` (GRPO.swift's header, "One `optimize` call"): takes
    /// `parameters.numIterations` AdamW steps at `learningRate` and returns the metrics,
    /// averaged over those passes:
    ///   loss, policy_loss, kl, entropy, ratio_mean, clip_ratio_low, clip_ratio_high,
    ///   clip_ratio_region, grad_norm (before clipping), advantage_mean, advantage_std
    ///   (population), advantage_min, advantage_max, tokens (learned tokens in the batch),
    ///   truncated_masked (completions masked by mask_truncated_completions),
    ///   learning_rate, optimizer_steps.
    public static func optimize(
        policy: Transformer, reference: Transformer?, optimizer: AdamW, samples: [Sample], advantages: [Double],
        parameters: Parameters, learningRate: Float, microBatch: Int = 8, collective: any Collective = SingleProcess.shared
    ) -> [String: Double] {
        let problems = parameters.problems()
        precondition(problems.isEmpty, "GRPO parameters: " + problems.map { "\($0.key.stringValue) \($0.message)" }.joined(separator: "; "))
        precondition(reference != nil || parameters.beta == 0, "GRPO: beta = \(parameters.beta) needs a reference model")
        let weights = tokenWeights(samples: samples, parameters: parameters)
        let among = collective.share(of: samples.count)
        let ref = reference.map {
            completionLogProbs(model: $0, samples: samples, temperature: parameters.samplingTemperature, microBatch: microBatch,
                               among: among)
        }
        let old = parameters.numIterations > 1
            ? completionLogProbs(model: policy, samples: samples, temperature: parameters.samplingTemperature, microBatch: microBatch,
                                 among: among)
            : nil

        var sums: [String: Double] = [:]
        for _ in 0..<parameters.numIterations {
            policy.zeroGrad()
            let s = accumulateGradients(policy: policy, samples: samples, advantages: advantages, weights: weights,
                                        oldLogProbs: old, refLogProbs: ref, parameters: parameters, microBatch: microBatch,
                                        collective: collective)
            collective.sum(UnsafeMutableBufferPointer(start: policy.grads.pointer, count: policy.grads.count))
            let norm = clipGradientNorm(policy.grads, maxNorm: Float(parameters.gradClip))
            optimizer.update(params: policy.params, grads: policy.grads, lr: learningRate)
            let pass: [String: Double] = [
                "loss": s.loss, "policy_loss": s.policyLoss, "kl": s.kl, "entropy": s.entropy,
                "ratio_mean": s.ratio, "clip_ratio_low": s.clipLow, "clip_ratio_high": s.clipHigh,
                "clip_ratio_region": s.clipRegion, "grad_norm": Double(norm),
            ]
            sums.merge(pass, uniquingKeysWith: +)
        }
        var metrics = sums.mapValues { $0 / Double(parameters.numIterations) }

        let n = Double(max(advantages.count, 1))
        let mean = advantages.reduce(0, +) / n
        metrics["advantage_mean"] = mean
        metrics["advantage_std"] = (advantages.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
        metrics["advantage_min"] = advantages.min() ?? 0
        metrics["advantage_max"] = advantages.max() ?? 0
        metrics["tokens"] = samples.reduce(0) { $0 + effectiveMask($1, parameters: parameters).reduce(0, +) }
        metrics["truncated_masked"] = parameters.maskTruncatedCompletions ? Double(samples.filter(\.truncated).count) : 0
        metrics["learning_rate"] = Double(learningRate)
        metrics["optimizer_steps"] = Double(parameters.numIterations)
        return metrics
    }
}
