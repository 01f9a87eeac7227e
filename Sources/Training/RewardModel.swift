// The reward model (RLHF's proxy reward): a transformer initialised from a checkpoint, with a
// scalar head (ScalarHead.swift) on the final hidden state of a sequence's last token (the
// <|im_end|> that closes the answer), trained on preference pairs with the Bradley-Terry loss
//
//     L = mean over pairs of -log sigmoid(r_c - r_r - m)  +  eta * mean((r_c + r_r)^2)
//
// m the pair's margin (0 when it has none or `use_margins` is off), eta the reward-centring
// coefficient (TRL's center_rewards_coefficient: it keeps the scores near 0, which they are free
// to drift from since only differences are learned). Per pair, with s = sigmoid(-(r_c - r_r - m)):
//     dL/dr_c = (-s + 2 eta (r_c + r_r)) / B,   dL/dr_r = (s + 2 eta (r_c + r_r)) / B.
//
// A step reads `batch_size` pairs in a shuffled order of the training pairs (one permutation per
// epoch, drawn from (seed, epoch)), so step N's data depends on (seed, N) only and resume is exact.
// Chosen and rejected answers of a pair sit in the same micro-batch; the trunk's gradient comes
// back through `Transformer.backward(dhidden:)` at each row's last position.
//
// Logged per step: loss, accuracy (share of the batch's pairs with r_c > r_r), margin (mean
// r_c - r_r), reward_mean, reward_std, grad_norm, learning_rate; on evaluation steps the held-out
// pairs' eval/accuracy with its 95% Wilson interval (eval/accuracy_lower, _upper), eval/margin,
// eval/reward_mean, eval/reward_std, and, when labels may be noisy, the training labels' agreement
// with the verifier (label_gold_agreement, step 1).
//
// Saved: the trunk as a normal checkpoint (its LM head included, unused) plus
// `reward_head.safetensors`. An ensemble is a directory of such members (RewardEnsemble).

import Foundation
import Model
import PonderCore
import Tokenization

public final class RewardModel {
    public let trunk: Transformer
    public var head: ScalarHead
    public static let headFile = "reward_head.safetensors"

    public init(trunk: Transformer, head: ScalarHead? = nil) {
        self.trunk = trunk
        self.head = head ?? ScalarHead(width: trunk.config.dModel)
    }

    /// A trained reward model from its checkpoint directory.
    public static func load(from directory: URL) throws -> RewardModel {
        let (trunk, _) = try Checkpoint.load(from: directory)
        let url = directory.appendingPathComponent(headFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelError.checkpoint("\(directory.path) has no \(headFile): it is not a reward model (train one with a `stage: reward_model`)")
        }
        return RewardModel(trunk: trunk, head: try ScalarHead.load(from: url, width: trunk.config.dModel))
    }

    /// The score of each token sequence (no gradient), `microBatch` sequences per forward.
    public func scores(_ sequences: [[Int32]], microBatch: Int = 16) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(sequences.count)
        var start = 0
        while start < sequences.count {
            let rows = PaddedRows(Array(sequences[start..<min(sequences.count, start + microBatch)]))
            start += microBatch
            trunk.forward(tokens: rows.tokens, B: rows.B, T: rows.T, computeLogits: false)
            let h = trunk.hidden.baseAddress!, C = trunk.config.dModel
            for n in rows.last { out.append(head.score(h + n * C)) }
        }
        return out
    }
}

public enum RewardModelTraining {
    public struct Parameters: Codable, Sendable, Equatable {
        /// Optimizer steps. Default 200.
        public var steps = 200
        /// Pairs per step. Default 16.
        public var batchSize = 16
        /// Peak learning rate. Default 1e-4 (TRL's RewardConfig default).
        public var learningRate = 1e-4
        public var lrSchedule = LRScheduleKind.cosine
        public var minLRRatio = 0.1
        public var warmupSteps = 0
        /// Reward-centring coefficient eta; 0 = off. Default 0.01 (TRL's recommendation).
        public var centerRewards = 0.01
        /// Use each pair's margin in the loss. Default true.
        public var useMargins = true
        /// Held-out pair accuracy every this many steps (and after the last); 0 = only after the last. Default 50.
        public var evalEvery = 50
        /// Checkpoint every this many steps (and at the end). Default 100.
        public var checkpointEvery = 100
        public var gradClip = 1.0
        public var weightDecay = 0.0
        public var adamBeta1 = 0.9
        public var adamBeta2 = 0.95
        /// Sequences per forward pass (memory only). Not a YAML key.
        public var microBatch = 16

        public init() {}

        public enum CodingKeys: String, CodingKey, CaseIterable {
            case steps, batchSize = "batch_size", learningRate = "learning_rate", lrSchedule = "lr_schedule"
            case minLRRatio = "min_lr_ratio", warmupSteps = "warmup_steps", centerRewards = "center_rewards"
            case useMargins = "use_margins", evalEvery = "eval_every", checkpointEvery = "checkpoint_every"
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
            try read(&warmupSteps, .warmupSteps); try read(&centerRewards, .centerRewards); try read(&useMargins, .useMargins)
            try read(&evalEvery, .evalEvery); try read(&checkpointEvery, .checkpointEvery); try read(&gradClip, .gradClip)
            try read(&weightDecay, .weightDecay); try read(&adamBeta1, .adamBeta1); try read(&adamBeta2, .adamBeta2)
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
            check(.centerRewards, centerRewards, .atLeast(0))
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

    /// The Bradley-Terry loss of one pair with reward centring, and its derivatives (file header),
    /// before the 1 / B of the batch mean.
    public static func bradleyTerry(chosen rc: Double, rejected rr: Double, margin m: Double = 0, eta: Double = 0)
        -> (loss: Double, dChosen: Double, dRejected: Double)
    {
        let z = rc - rr - m
        // -log sigmoid(z) = softplus(-z), computed without overflow.
        let loss = (z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z))) + eta * (rc + rr) * (rc + rr)
        let s = 1 / (1 + exp(z))  // sigmoid(-z)
        let center = 2 * eta * (rc + rr)
        return (loss, -s + center, s + center)
    }

    /// A pair as token sequences.
    public struct EncodedPair: Sendable {
        public var chosen: [Int32]
        public var rejected: [Int32]
        public var margin: Double
    }

    public static func encode(_ pairs: [PreferencePair], tokenizer: Tokenizer, maxSeqLen: Int, useMargins: Bool = true) throws -> [EncodedPair] {
        try pairs.enumerated().map { i, p in
            let c = try PreferencePair.render(p.prompt, p.chosen, tokenizer: tokenizer).ids
            let r = try PreferencePair.render(p.prompt, p.rejected, tokenizer: tokenizer).ids
            if max(c.count, r.count) > maxSeqLen {
                throw TrainingError.invalidParameter("preference pair \(i) (\(p.source)\(p.taskID.map { ", task \($0)" } ?? "")) renders to "
                                                     + "\(max(c.count, r.count)) tokens, more than the model's max_seq_len \(maxSeqLen)")
            }
            return EncodedPair(chosen: c, rejected: r, margin: useMargins ? (p.margin ?? 0) : 0)
        }
    }

    /// Held-out figures: accuracy (share with r_c > r_r, Wilson interval), mean margin, mean and
    /// std of all scores.
    public static func evaluate(_ model: RewardModel, pairs: [EncodedPair], microBatch: Int = 16) -> [String: Double] {
        guard !pairs.isEmpty else { return [:] }
        let scores = model.scores(pairs.flatMap { [$0.chosen, $0.rejected] }, microBatch: microBatch).map(Double.init)
        var right = 0, margin = 0.0
        for i in pairs.indices {
            let d = scores[2 * i] - scores[2 * i + 1]
            if d > 0 { right += 1 }
            margin += d
        }
        let interval = Statistics.wilson(successes: right, of: pairs.count)!
        let mean = scores.reduce(0, +) / Double(scores.count)
        let std = (scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(scores.count)).squareRoot()
        return ["accuracy": interval.estimate, "accuracy_lower": interval.lower, "accuracy_upper": interval.upper,
                "margin": margin / Double(pairs.count), "reward_mean": mean, "reward_std": std, "pairs": Double(pairs.count)]
    }

    /// The training pairs of step `step` (1-based): positions (step-1)*B ..< step*B of the
    /// concatenated per-epoch permutations.
    public static func batch(step: Int, batchSize: Int, count: Int, seed: UInt64) -> [Int] {
        var out: [Int] = []
        var position = (step - 1) * batchSize
        var cachedEpoch = -1, order: [Int] = []
        while out.count < batchSize {
            let epoch = position / count
            if epoch != cachedEpoch {
                var rng = RNG(seed: seed).fork("reward-model-epoch-\(epoch)")
                order = Array(0..<count)
                for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }
                cachedEpoch = epoch
            }
            out.append(order[position % count])
            position += 1
        }
        return out
    }

    /// Trains `model` (trunk and head) in place; Training.swift's checkpoint/resume contract.
    public static func train(model: RewardModel, tokenizer: Tokenizer, train: [EncodedPair], validation: [EncodedPair],
                             parameters p: Parameters, seed: UInt64, faults: FaultPlan = .none,
                             checkpointDirectory: URL, resume: Bool, progress: ProgressHandler) throws -> TrainingSummary {
        if let problem = p.problems().first { throw TrainingError.invalidParameter("reward_model: \(problem.key.stringValue) \(problem.message)") }
        guard !train.isEmpty else { throw TrainingError.insufficientData("reward_model: no training pairs") }
        let trunk = model.trunk
        let optimizer = AdamW(layout: trunk.layout, parameters: AdamWParameters(beta1: Float(p.adamBeta1), beta2: Float(p.adamBeta2),
                                                                               weightDecay: Float(p.weightDecay)))
        var loop = StageLoop(stage: "reward_model", steps: p.steps, checkpointEvery: p.checkpointEvery, seed: seed, faults: faults)
        loop.extraFiles = { [RewardModel.headFile: model.head.safetensors()] }
        let restored = try loop.restore(model: trunk, optimizer: optimizer, from: checkpointDirectory, resume: resume)
        if restored != nil {
            model.head = try ScalarHead.load(from: checkpointDirectory.appendingPathComponent(RewardModel.headFile), width: trunk.config.dModel)
        }
        let began = ContinuousClock.now
        var last: [String: Double] = [:]
        let C = trunk.config.dModel
        let outcome = try loop.run(model: trunk, optimizer: optimizer, tokenizer: tokenizer, directory: checkpointDirectory,
                                   from: restored?.step ?? 0, state: { TrainerState(step: $0, dataCursor: ["step": $0]) }) { step, resumedFrom, due in
            let t0 = ContinuousClock.now
            let chosen = batch(step: step, batchSize: p.batchSize, count: train.count, seed: seed).map { train[$0] }
            trunk.zeroGrad()
            model.head.zeroGrad()
            var loss = 0.0, right = 0, margin = 0.0, rewards: [Double] = []
            let B = Double(chosen.count)
            let pairsPerPass = max(1, p.microBatch / 2)
            var start = 0
            while start < chosen.count {
                let part = Array(chosen[start..<min(chosen.count, start + pairsPerPass)])
                start += pairsPerPass
                let rows = PaddedRows(part.flatMap { [$0.chosen, $0.rejected] })
                trunk.forward(tokens: rows.tokens, B: rows.B, T: rows.T, computeLogits: false)
                let h = trunk.hidden.baseAddress!
                var dhidden = [Float](repeating: 0, count: rows.B * rows.T * C)
                for (k, pair) in part.enumerated() {
                    let nc = rows.last[2 * k], nr = rows.last[2 * k + 1]
                    let rc = Double(model.head.score(h + nc * C)), rr = Double(model.head.score(h + nr * C))
                    let bt = bradleyTerry(chosen: rc, rejected: rr, margin: pair.margin, eta: p.centerRewards)
                    loss += bt.loss / B
                    if rc > rr { right += 1 }
                    margin += (rc - rr) / B
                    rewards += [rc, rr]
                    dhidden.withUnsafeMutableBufferPointer { d in
                        model.head.backward(Float(bt.dChosen / B), hidden: h + nc * C, dhidden: d.baseAddress! + nc * C)
                        model.head.backward(Float(bt.dRejected / B), hidden: h + nr * C, dhidden: d.baseAddress! + nr * C)
                    }
                }
                trunk.backward(dhidden: dhidden)
            }
            let lr = p.schedule.lr(step: step - 1, peak: Float(p.learningRate))
            let norm = model.head.step(with: trunk, optimizer: optimizer, maxNorm: p.gradClip, lr: lr, beta1: p.adamBeta1, beta2: p.adamBeta2)
            let mean = rewards.reduce(0, +) / Double(rewards.count)
            var metrics: [String: Double] = [
                "loss": loss, "accuracy": Double(right) / B, "margin": margin, "reward_mean": mean,
                "reward_std": (rewards.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(rewards.count)).squareRoot(),
                "grad_norm": norm, "learning_rate": Double(lr), "time/step": (ContinuousClock.now - t0).seconds,
            ]
            if step == p.steps || (p.evalEvery > 0 && step % p.evalEvery == 0) {
                for (k, v) in evaluate(model, pairs: validation, microBatch: p.microBatch) { metrics["eval/\(k)"] = v }
            }
            last = metrics
            return try progress(TrainingProgress(stage: "reward_model", step: step, totalSteps: p.steps, metrics: metrics,
                                                 elapsedSeconds: (ContinuousClock.now - began).seconds, resumedFromStep: resumedFrom,
                                                 checkpointDue: due))
        }
        return TrainingSummary(steps: outcome.completed, finalMetrics: last, stopped: outcome.stopped)
    }
}

/// Several reward models whose scores combine into one (Coste et al. 2023): mean, min (worst
/// case), or mean - lambda * std (uncertainty-weighted; population std over the members).
public final class RewardEnsemble {
    public enum Rule: String, Codable, Sendable, CaseIterable {
        case mean, min
        case meanMinusStd = "mean_minus_std"
    }

    public let members: [RewardModel]
    public var rule: Rule
    public var lambda: Double
    public static let manifestFile = "ensemble.json"

    public init(members: [RewardModel], rule: Rule = .mean, lambda: Double = 1) {
        precondition(!members.isEmpty)
        self.members = members; self.rule = rule; self.lambda = lambda
    }

    /// One member's directory, or an ensemble's (`ensemble.json` lists the member folders).
    public static func load(from directory: URL, rule: Rule = .mean, lambda: Double = 1) throws -> RewardEnsemble {
        let manifest = directory.appendingPathComponent(manifestFile)
        guard FileManager.default.fileExists(atPath: manifest.path) else {
            return RewardEnsemble(members: [try RewardModel.load(from: directory)], rule: rule, lambda: lambda)
        }
        struct Manifest: Decodable { var members: [String] }
        let listed: Manifest
        do { listed = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: manifest)) } catch {
            throw ModelError.checkpoint("\(manifest.path): not a reward-model ensemble manifest ({\"members\": [FOLDER, ...]}): \(error)")
        }
        guard !listed.members.isEmpty else { throw ModelError.checkpoint("\(manifest.path): lists no members") }
        return RewardEnsemble(members: try listed.members.map { try RewardModel.load(from: directory.appendingPathComponent($0)) },
                              rule: rule, lambda: lambda)
    }

    public static func writeManifest(members: [String], to directory: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: ["members": members], options: [.prettyPrinted, .sortedKeys])
        try data.write(to: directory.appendingPathComponent(manifestFile), options: .atomic)
    }

    /// The combined score of each sequence, and each member's.
    public func scores(_ sequences: [[Int32]], microBatch: Int = 16) -> (combined: [Double], members: [[Double]]) {
        let each = members.map { $0.scores(sequences, microBatch: microBatch).map(Double.init) }
        let combined = sequences.indices.map { i in Self.combine(each.map { $0[i] }, rule: rule, lambda: lambda) }
        return (combined, each)
    }

    public static func combine(_ values: [Double], rule: Rule, lambda: Double) -> Double {
        let mean = values.reduce(0, +) / Double(values.count)
        switch rule {
        case .mean: return mean
        case .min: return values.min()!
        case .meanMinusStd:
            let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
            return mean - lambda * std
        }
    }
}
