// DPO (Rafailov et al. 2023): preference optimisation without a reward model. For a pair
// (x, y_c, y_r), with the sequence log-probabilities of the policy and of a frozen reference
// (the stage's starting checkpoint), summed over the answer's learned tokens (tool output is
// never learned):
//
//     u = (log pi(y_c) - log ref(y_c)) - (log pi(y_r) - log ref(y_r)),   h = beta u
//     sigmoid  L = -(1 - eps) log sigmoid(h) - eps log sigmoid(-h)    (eps = label_smoothing: cDPO)
//     ipo      L = (u' - 1 / (2 beta))^2, u' the same difference with each log-probability
//              divided by its answer's token count (as TRL does, with the IPO authors' consent)
//     hinge    L = max(0, 1 - h)
//
// The loss is the batch mean; dL/d log pi(y) is spread over y's learned tokens, so one backward
// through `Transformer.backward(dlogp:)` per micro-batch (a pair's two answers share one) does it.
// Reference log-probabilities are computed once, before the first step (the reference is frozen).
// Implicit rewards beta (log pi - log ref) are logged for chosen and rejected separately, with
// their accuracy (chosen above rejected) and margin, and the policy's own log-probabilities of
// both: users see DPO lower both while the margin grows.
// Batches follow the reward model's epoch permutation, so step N depends on (seed, N) only.

import Foundation
import Model
import PonderCore
import Tokenization

public enum DPO {
    public enum Loss: String, Codable, Sendable, CaseIterable {
        case sigmoid, ipo, hinge
    }

    public struct Parameters: Codable, Sendable, Equatable {
        public var steps = 100
        /// Pairs per step. Default 16.
        public var batchSize = 16
        /// Default 5e-5 (TRL's 1e-6 is for billion-parameter models).
        public var learningRate = 5e-5
        public var lrSchedule = LRScheduleKind.linear
        public var minLRRatio = 0.1
        public var warmupSteps = 0
        /// The KL strength beta. Default 0.1 (TRL's default).
        public var beta = 0.1
        /// sigmoid | ipo | hinge. Default sigmoid.
        public var lossType = Loss.sigmoid
        /// cDPO's label smoothing eps (sigmoid only). Default 0.
        public var labelSmoothing = 0.0
        public var evalEvery = 25
        public var checkpointEvery = 50
        public var gradClip = 1.0
        public var weightDecay = 0.0
        public var adamBeta1 = 0.9
        public var adamBeta2 = 0.95
        /// Pairs per forward pass (memory only). Not a YAML key.
        public var microBatch = 4

        public init() {}

        public enum CodingKeys: String, CodingKey, CaseIterable {
            case steps, batchSize = "batch_size", learningRate = "learning_rate", lrSchedule = "lr_schedule"
            case minLRRatio = "min_lr_ratio", warmupSteps = "warmup_steps", beta, lossType = "loss_type"
            case labelSmoothing = "label_smoothing", evalEvery = "eval_every", checkpointEvery = "checkpoint_every"
            case gradClip = "grad_clip", weightDecay = "weight_decay", adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2"
        }

        public init(from decoder: Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func read<T: Decodable>(_ value: inout T, _ key: CodingKeys) throws {
                if let found = try c.decodeIfPresent(T.self, forKey: key) { value = found }
            }
            try read(&steps, .steps); try read(&batchSize, .batchSize); try read(&learningRate, .learningRate)
            try read(&lrSchedule, .lrSchedule); try read(&minLRRatio, .minLRRatio)
            warmupSteps = min(warmupSteps, steps / 10)
            try read(&warmupSteps, .warmupSteps); try read(&beta, .beta); try read(&lossType, .lossType)
            try read(&labelSmoothing, .labelSmoothing); try read(&evalEvery, .evalEvery); try read(&checkpointEvery, .checkpointEvery)
            try read(&gradClip, .gradClip); try read(&weightDecay, .weightDecay); try read(&adamBeta1, .adamBeta1)
            try read(&adamBeta2, .adamBeta2)
        }

        public func problems() -> [(key: CodingKeys, message: String)] {
            var out: [(CodingKeys, String)] = []
            func check<T: Comparable>(_ key: CodingKeys, _ value: T, _ rule: ParameterRule<T>) {
                if let message = rule.violation(value) { out.append((key, message)) }
            }
            check(.steps, steps, .atLeast(1))
            check(.batchSize, batchSize, .between(1, 4096))
            check(.learningRate, learningRate, .aboveUpTo(0, 1))
            check(.minLRRatio, minLRRatio, .between(0, 1))
            check(.warmupSteps, warmupSteps, .between(0, steps))
            check(.beta, beta, .aboveUpTo(0, 100))
            check(.labelSmoothing, labelSmoothing, .between(0, 0.5))
            check(.evalEvery, evalEvery, .atLeast(0))
            check(.checkpointEvery, checkpointEvery, .atLeast(0))
            check(.gradClip, gradClip, .atLeast(0))
            check(.weightDecay, weightDecay, .atLeast(0))
            check(.adamBeta1, adamBeta1, .between(0, 0.999999))
            check(.adamBeta2, adamBeta2, .between(0, 0.999999))
            return out
        }

        public var schedule: LRSchedule { lrSchedule.schedule(warmupSteps: warmupSteps, steps: steps, minLRRatio: minLRRatio) }
    }

    /// A pair's sequence log-probabilities: policy and reference, chosen and rejected, and the
    /// answers' learned-token counts (IPO's normalisers).
    public struct PairLogProbs: Sendable, Equatable {
        public var chosen: Double, rejected: Double, refChosen: Double, refRejected: Double
        public var chosenTokens: Double = 1, rejectedTokens: Double = 1
        public init(chosen: Double, rejected: Double, refChosen: Double, refRejected: Double, chosenTokens: Double = 1, rejectedTokens: Double = 1) {
            self.chosen = chosen; self.rejected = rejected; self.refChosen = refChosen; self.refRejected = refRejected
            self.chosenTokens = chosenTokens; self.rejectedTokens = rejectedTokens
        }
    }

    /// The loss of one pair and its derivatives by the policy's sequence log-probabilities of
    /// chosen and rejected (file header).
    public static func loss(_ x: PairLogProbs, beta: Double, type: Loss, labelSmoothing eps: Double = 0)
        -> (loss: Double, dChosen: Double, dRejected: Double)
    {
        switch type {
        case .sigmoid, .hinge:
            let h = beta * ((x.chosen - x.refChosen) - (x.rejected - x.refRejected))
            let dh: Double, value: Double
            if type == .sigmoid {
                value = (1 - eps) * softplus(-h) + eps * softplus(h)
                dh = -(1 - eps) * sigmoid(-h) + eps * sigmoid(h)
            } else {
                value = max(0, 1 - h)
                dh = h < 1 ? -1 : 0
            }
            return (value, dh * beta, -dh * beta)
        case .ipo:
            let u = (x.chosen - x.refChosen) / x.chosenTokens - (x.rejected - x.refRejected) / x.rejectedTokens
            let d = u - 1 / (2 * beta)
            return (d * d, 2 * d / x.chosenTokens, -2 * d / x.rejectedTokens)
        }
    }

    static func softplus(_ z: Double) -> Double { z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)) }
    static func sigmoid(_ z: Double) -> Double { 1 / (1 + exp(-z)) }

    /// A pair as two policy samples (chosen, rejected) of the GRPO layout: prompt tokens, answer
    /// tokens with the render's loss mask.
    public static func samples(_ pairs: [PreferencePair], tokenizer: Tokenizer, maxSeqLen: Int) throws -> [GRPO.Sample] {
        var out: [GRPO.Sample] = []
        for (i, p) in pairs.enumerated() {
            for answer in [p.chosen, p.rejected] {
                let r = try PreferencePair.render(p.prompt, answer, tokenizer: tokenizer)
                guard r.ids.count <= maxSeqLen else {
                    throw TrainingError.invalidParameter("preference pair \(i) (\(p.source)) renders to \(r.ids.count) tokens, more than max_seq_len \(maxSeqLen)")
                }
                out.append(GRPO.Sample(group: i, promptIDs: Array(r.ids[..<r.promptLength]), completionIDs: Array(r.ids[r.promptLength...]),
                                       lossMask: Array(r.mask[r.promptLength...]), reward: 0))
            }
        }
        return out
    }

    /// Summed masked log-probabilities of each sample under `model` (no gradient).
    static func sequenceLogProbs(_ model: Transformer, _ samples: [GRPO.Sample], microBatch: Int) -> [Double] {
        let tokens = GRPO.completionLogProbs(model: model, samples: samples, temperature: 1, microBatch: microBatch)
        return zip(samples, tokens).map { s, lp in zip(s.lossMask, lp).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
    }

    /// The implicit-reward figures of pairs (samples 2i, 2i+1) from their log-probabilities.
    static func figures(policy: [Double], reference: [Double], samples: [GRPO.Sample], p: Parameters) -> [String: Double] {
        let n = samples.count / 2
        guard n > 0 else { return [:] }
        var m: [String: Double] = [:]
        var right = 0
        for i in 0..<n {
            let x = pairLogProbs(i, policy, reference, samples)
            let rc = p.beta * (x.chosen - x.refChosen), rr = p.beta * (x.rejected - x.refRejected)
            m["loss", default: 0] += loss(x, beta: p.beta, type: p.lossType, labelSmoothing: p.labelSmoothing).loss / Double(n)
            m["rewards/chosen", default: 0] += rc / Double(n)
            m["rewards/rejected", default: 0] += rr / Double(n)
            m["rewards/margins", default: 0] += (rc - rr) / Double(n)
            m["logps/chosen", default: 0] += x.chosen / Double(n)
            m["logps/rejected", default: 0] += x.rejected / Double(n)
            if rc > rr { right += 1 }
        }
        let acc = Statistics.wilson(successes: right, of: n)!
        m["rewards/accuracies"] = acc.estimate
        m["rewards/accuracies_lower"] = acc.lower
        m["rewards/accuracies_upper"] = acc.upper
        return m
    }

    static func pairLogProbs(_ i: Int, _ policy: [Double], _ reference: [Double], _ samples: [GRPO.Sample]) -> PairLogProbs {
        PairLogProbs(chosen: policy[2 * i], rejected: policy[2 * i + 1], refChosen: reference[2 * i], refRejected: reference[2 * i + 1],
                     chosenTokens: max(1, Double(samples[2 * i].lossMask.reduce(0, +))),
                     rejectedTokens: max(1, Double(samples[2 * i + 1].lossMask.reduce(0, +))))
    }

    /// Trains `policy` in place against `reference`; Training.swift's checkpoint/resume contract.
    /// `train` and `validation` are pair samples as `samples(_:)` builds them.
    public static func train(policy: Transformer, reference: Transformer, tokenizer: Tokenizer, train: [GRPO.Sample],
                             validation: [GRPO.Sample], parameters p: Parameters, seed: UInt64, faults: FaultPlan = .none,
                             checkpointDirectory: URL, resume: Bool, progress: ProgressHandler) throws -> TrainingSummary {
        if let problem = p.problems().first { throw TrainingError.invalidParameter("dpo: \(problem.key.stringValue) \(problem.message)") }
        guard train.count >= 2 else { throw TrainingError.insufficientData("dpo: no training pairs") }
        let optimizer = AdamW(layout: policy.layout, parameters: AdamWParameters(beta1: Float(p.adamBeta1), beta2: Float(p.adamBeta2),
                                                                                weightDecay: Float(p.weightDecay)))
        let loop = StageLoop(stage: "dpo", steps: p.steps, checkpointEvery: p.checkpointEvery, seed: seed, faults: faults)
        let restored = try loop.restore(model: policy, optimizer: optimizer, from: checkpointDirectory, resume: resume)
        let began = ContinuousClock.now
        let refTrain = sequenceLogProbs(reference, train, microBatch: 2 * p.microBatch)
        let refValidation = sequenceLogProbs(reference, validation, microBatch: 2 * p.microBatch)
        var last: [String: Double] = [:]
        let pairCount = train.count / 2
        let outcome = try loop.run(model: policy, optimizer: optimizer, tokenizer: tokenizer, directory: checkpointDirectory,
                                   from: restored?.step ?? 0, state: { TrainerState(step: $0, dataCursor: ["step": $0]) }) { step, resumedFrom, due in
            let t0 = ContinuousClock.now
            let chosenPairs = RewardModelTraining.batch(step: step, batchSize: p.batchSize, count: pairCount, seed: seed)
            let batch = chosenPairs.flatMap { [train[2 * $0], train[2 * $0 + 1]] }
            let refs = chosenPairs.flatMap { [refTrain[2 * $0], refTrain[2 * $0 + 1]] }
            policy.zeroGrad()
            var seqLogProbs = [Double](repeating: 0, count: batch.count)
            let B = Double(chosenPairs.count)
            for mb in GRPO.microBatches(batch, size: 2 * p.microBatch, maxSeqLen: policy.config.maxSeqLen) {
                let (logp, _) = GRPO.forwardLogProbs(policy, mb, temperature: 1)
                for (r, i) in mb.rows.enumerated() {
                    seqLogProbs[i] = zip(batch[i].lossMask.indices, batch[i].lossMask).reduce(0) { $0 + Double($1.1) * Double(logp[mb.firstTarget[r] + $1.0]) }
                }
                var dlogp = [Float](repeating: 0, count: mb.tokens.count)
                // Rows come in (chosen, rejected) order: microBatches keeps the order and the size is even.
                for (r, i) in mb.rows.enumerated() {
                    let pair = i / 2
                    let x = pairLogProbs(pair, seqLogProbs, refs, batch)
                    let l = loss(x, beta: p.beta, type: p.lossType, labelSmoothing: p.labelSmoothing)
                    // backward takes d(loss)/d(logp), as the supervised and GRPO losses feed it.
                    let coefficient = (i % 2 == 0 ? l.dChosen : l.dRejected) / B
                    for j in batch[i].lossMask.indices where batch[i].lossMask[j] > 0 {
                        dlogp[mb.firstTarget[r] + j] = Float(coefficient) * batch[i].lossMask[j]
                    }
                }
                policy.backward(dlogp: dlogp)
            }
            let norm = clipGradientNorm(policy.grads, maxNorm: Float(p.gradClip))
            let lr = p.schedule.lr(step: step - 1, peak: Float(p.learningRate))
            optimizer.update(params: policy.params, grads: policy.grads, lr: lr)
            var metrics = figures(policy: seqLogProbs, reference: refs, samples: batch, p: p)
            metrics["grad_norm"] = Double(norm)
            metrics["learning_rate"] = Double(lr)
            metrics["time/step"] = (ContinuousClock.now - t0).seconds
            if !validation.isEmpty && (step == p.steps || (p.evalEvery > 0 && step % p.evalEvery == 0)) {
                let lp = sequenceLogProbs(policy, validation, microBatch: 2 * p.microBatch)
                for (k, v) in figures(policy: lp, reference: refValidation, samples: validation, p: p) { metrics["eval/\(k)"] = v }
            }
            last = metrics
            return try progress(TrainingProgress(stage: "dpo", step: step, totalSteps: p.steps, metrics: metrics,
                                                 elapsedSeconds: (ContinuousClock.now - began).seconds, resumedFromStep: resumedFrom,
                                                 checkpointDue: due))
        }
        return TrainingSummary(steps: outcome.completed, finalMetrics: last, stopped: outcome.stopped)
    }
}
