// SupervisedParameters: the one configuration type of the two supervised stages (the
// experiment's `pretrain` and `sft` keys are these, plus each stage's data keys), with both
// stages' defaults and every rule written here once. `Pretraining.Parameters` and
// `SupervisedFineTuning.Parameters` name it at the trainers.
//
// Defaults are sized for a ~1M-parameter model on a 2-core CPU: a few hundred steps of 16
// sequences. Learning rates are higher than the 3e-4 / 2e-5 of billion-parameter recipes because
// tiny models tolerate (and need) more. Keys follow Hugging Face TrainingArguments
// (learning_rate, weight_decay, adam_beta1, adam_beta2, warmup_steps); `grad_clip` is TRL's
// max_grad_norm.

import Foundation
import Model
import PonderCore

/// The YAML keys of a supervised stage's optimisation settings, in printing order.
public enum SupervisedKeys: String, CodingKey, CaseIterable {
    case steps, batchSize = "batch_size", seqLen = "seq_len", accumulationSteps = "accumulation_steps"
    case learningRate = "learning_rate", lrSchedule = "lr_schedule", minLRRatio = "min_lr_ratio"
    case warmupSteps = "warmup_steps", weightDecay = "weight_decay", adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2"
    case gradClip = "grad_clip", evalEvery = "eval_every", evalBatches = "eval_batches", checkpointEvery = "checkpoint_every"
}

/// The optimisation settings of a supervised stage. `SupervisedParameters.pretraining` and
/// `.sft` are the two stages' defaults (the initializer's are pretraining's).
public struct SupervisedParameters: Codable, Sendable, Equatable {
    /// Optimizer steps.
    public var steps: Int
    /// Rows (pretraining) or conversations (SFT) per micro-batch.
    public var batchSize: Int
    /// Tokens per row; a longer conversation is truncated. At most the model's max_seq_len.
    public var seqLen: Int
    /// Micro-batches per optimizer step (the effective batch is batch_size times this).
    public var accumulationSteps: Int
    /// Peak learning rate.
    public var learningRate: Double
    /// constant | cosine | linear.
    public var lrSchedule: LRScheduleKind
    /// Final learning rate as a share of the peak (cosine, linear).
    public var minLRRatio: Double
    /// Linear warmup steps (a defaulted value never exceeds a tenth of `steps`).
    public var warmupSteps: Int
    /// AdamW decoupled weight decay (matrices only, not norms or embeddings).
    public var weightDecay: Double
    public var adamBeta1: Double
    public var adamBeta2: Double
    /// Clip the global gradient norm to this; 0 turns clipping off.
    public var gradClip: Double
    /// Validation loss every this many steps (and after the last); 0 = never.
    public var evalEvery: Int
    /// Batches of validation loss.
    public var evalBatches: Int
    /// Checkpoint every this many steps (and after the last); 0 = only at the end or on a stop.
    public var checkpointEvery: Int
    /// Seeds the data order (not a YAML key: the experiment's seed).
    public var seed: UInt64 = 0
    /// Where to kill the process, for resume tests (not a YAML key).
    public var faults: FaultPlan = .none

    /// The `pretrain` stage's defaults: 500 steps of 16 windows of 128 tokens at 3e-3, cosine to a
    /// tenth after 50 warmup steps, weight decay 0.1, betas (0.9, 0.95) as in nanoGPT's short
    /// runs, validation every 100 steps on 8 batches, a checkpoint every 250.
    public static let pretraining = SupervisedParameters()

    /// The `sft` stage's defaults, where they differ: 300 steps of conversations of up to 192
    /// tokens at 1e-3, 20 warmup steps, no weight decay (TRL's SFT default), validation on 4
    /// batches, a checkpoint every 150.
    public static let sft = SupervisedParameters(steps: 300, seqLen: 192, learningRate: 1e-3, warmupSteps: 20, weightDecay: 0,
                                                 evalBatches: 4, checkpointEvery: 150)

    public init(steps: Int = 500, batchSize: Int = 16, seqLen: Int = 128, accumulationSteps: Int = 1,
                learningRate: Double = 3e-3, lrSchedule: LRScheduleKind = .cosine, minLRRatio: Double = 0.1,
                warmupSteps: Int = 50, weightDecay: Double = 0.1, adamBeta1: Double = 0.9, adamBeta2: Double = 0.95,
                gradClip: Double = 1, evalEvery: Int = 100, evalBatches: Int = 8, checkpointEvery: Int = 250,
                seed: UInt64 = 0) {
        self.steps = steps; self.batchSize = batchSize; self.seqLen = seqLen; self.accumulationSteps = accumulationSteps
        self.learningRate = learningRate; self.lrSchedule = lrSchedule; self.minLRRatio = minLRRatio
        self.warmupSteps = warmupSteps; self.weightDecay = weightDecay; self.adamBeta1 = adamBeta1
        self.adamBeta2 = adamBeta2; self.gradClip = gradClip; self.evalEvery = evalEvery
        self.evalBatches = evalBatches; self.checkpointEvery = checkpointEvery; self.seed = seed
    }

    public typealias CodingKeys = SupervisedKeys

    /// The keys present over the pretraining defaults (`fill(from:)` reads over any others).
    public init(from decoder: Decoder) throws {
        self.init()
        try fill(from: decoder)
    }
}

extension SupervisedParameters {
    /// Every broken rule, as (key, "must be ..., found ..."); `maxSeqLen` bounds seq_len when given.
    public func problems(maxSeqLen: Int? = nil) -> [(key: SupervisedKeys, message: String)] {
        var out: [(SupervisedKeys, String)] = []
        func check<T: Comparable>(_ key: SupervisedKeys, _ value: T, _ rule: ParameterRule<T>) {
            if let message = rule.violation(value) { out.append((key, message)) }
        }
        check(.steps, steps, .atLeast(1))
        check(.batchSize, batchSize, .atLeast(1))
        check(.seqLen, seqLen, maxSeqLen.map { .between(2, $0) } ?? .atLeast(2))
        check(.accumulationSteps, accumulationSteps, .atLeast(1))
        check(.learningRate, learningRate, .aboveUpTo(0, 1))
        check(.minLRRatio, minLRRatio, .between(0, 1))
        check(.warmupSteps, warmupSteps, .between(0, steps))
        check(.weightDecay, weightDecay, .atLeast(0))
        check(.adamBeta1, adamBeta1, .between(0, 0.999999))
        check(.adamBeta2, adamBeta2, .between(0, 0.999999))
        check(.gradClip, gradClip, .atLeast(0))
        check(.evalEvery, evalEvery, .atLeast(0))
        check(.evalBatches, evalBatches, .atLeast(1))
        check(.checkpointEvery, checkpointEvery, .atLeast(0))
        return out
    }

    /// Reads the keys present in `decoder` over the current values: a missing key keeps its
    /// value, and a defaulted warmup never exceeds a tenth of the steps. Rules are `problems()`.
    public mutating func fill(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: SupervisedKeys.self)
        func read<T: Decodable>(_ value: inout T, _ key: SupervisedKeys) throws {
            if let found = try c.decodeIfPresent(T.self, forKey: key) { value = found }
        }
        try read(&steps, .steps); try read(&batchSize, .batchSize); try read(&seqLen, .seqLen)
        try read(&accumulationSteps, .accumulationSteps); try read(&learningRate, .learningRate)
        try read(&lrSchedule, .lrSchedule); try read(&minLRRatio, .minLRRatio)
        warmupSteps = min(warmupSteps, steps / 10)
        try read(&warmupSteps, .warmupSteps); try read(&weightDecay, .weightDecay)
        try read(&adamBeta1, .adamBeta1); try read(&adamBeta2, .adamBeta2); try read(&gradClip, .gradClip)
        try read(&evalEvery, .evalEvery); try read(&evalBatches, .evalBatches); try read(&checkpointEvery, .checkpointEvery)
    }

    /// Throws the first broken rule, for a model of `config`.
    func validate(model config: ModelConfig) throws {
        if let p = problems(maxSeqLen: config.maxSeqLen).first {
            throw TrainingError.invalidParameter("\(p.key.stringValue) \(p.message)")
        }
    }

    public var schedule: LRSchedule { lrSchedule.schedule(warmupSteps: warmupSteps, steps: steps, minLRRatio: minLRRatio) }

    public var adamW: AdamWParameters {
        AdamWParameters(beta1: Float(adamBeta1), beta2: Float(adamBeta2), weightDecay: Float(weightDecay))
    }

    func loop(stage: String, collective: any Collective) -> OptimizationLoop {
        OptimizationLoop(stage: stage, steps: steps, learningRate: Float(learningRate), schedule: schedule, adam: adamW,
                         gradClip: Float(gradClip), evalEvery: evalEvery, checkpointEvery: checkpointEvery, seed: seed,
                         faults: faults, collective: collective)
    }
}

extension Pretraining {
    public typealias Parameters = SupervisedParameters
}

extension SupervisedFineTuning {
    public typealias Parameters = SupervisedParameters
}
