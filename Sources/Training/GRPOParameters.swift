// GRPO.Parameters: the one configuration type of a GRPO run, and so of the experiment's `grpo`
// stage (whose YAML keys are these, plus its name, environments and reward functions). Every
// default and every rule is written here once; the experiment loader decodes into this type
// and locates `problems()` in the file, and the trainer checks the same rules.
//
// Keys mirror TRL's GRPOConfig where one exists (num_generations, max_completion_length, beta,
// num_iterations, scale_rewards, loss_type, mask_truncated_completions); TRL's `epsilon` /
// `epsilon_high` are `eps_low` / `eps_high` here, `max_grad_norm` is `grad_clip`, and a step is
// `prompts_per_step` prompts times `num_generations` completions (TRL counts completions per
// device instead). The learning rate defaults to 5e-5, not TRL's 1e-6: that is for
// billion-parameter models, and a 1M-parameter model from SFT moves with far larger steps.

import Foundation
import Model
import PonderCore

/// Learning-rate shape over a stage's steps (peak `learning_rate`, linear warmup first).
public enum LRScheduleKind: String, Codable, Sendable, CaseIterable {
    /// Warmup, then the peak until the end.
    case constant
    /// Warmup, then cosine decay to `min_lr_ratio * learning_rate` at the last step.
    case cosine
    /// Warmup, then linear decay to `min_lr_ratio * learning_rate` at the last step.
    case linear

    /// The Model module's schedule for a stage of `steps` steps.
    public func schedule(warmupSteps: Int, steps: Int, minLRRatio: Double) -> LRSchedule {
        switch self {
        // Model's `.constant` has no warmup; a cosine/linear whose floor is the peak is flat after it.
        case .constant:
            return warmupSteps == 0 ? .constant : .linear(warmup: warmupSteps, total: steps, minRatio: 1)
        case .cosine: return .cosine(warmup: warmupSteps, total: steps, minRatio: Float(minLRRatio))
        case .linear: return .linear(warmup: warmupSteps, total: steps, minRatio: Float(minLRRatio))
        }
    }
}

extension GRPO {
    /// How a group's rewards become advantages (A_i for sample i of a group of G; GRPO.swift).
    public enum Advantage: String, Codable, Sendable, CaseIterable {
        /// (r_i - mean) / (std + 1e-4): the GRPO paper.
        case grpo
        /// r_i - mean, unscaled: Dr. GRPO.
        case drGRPO = "dr_grpo"
        /// r_i - mean of the other G-1 rewards: RLOO.
        case rloo
    }

    /// Which standard deviation scales the advantages (TRL's scale_rewards).
    public enum ScaleRewards: String, Codable, Sendable, CaseIterable {
        /// Each group's own std (GRPO).
        case group
        /// The std over the whole batch (more robust when groups have little spread).
        case batch
        /// No scaling (Dr. GRPO's recommendation).
        case none
    }

    /// How per-token losses are averaged (TRL's loss_type).
    public enum LossType: String, Codable, Sendable, CaseIterable {
        /// Mean over each sequence's tokens, then over sequences (the GRPO paper; favours short wrong answers).
        case grpo
        /// Mean over all tokens of the batch (DAPO's token-level loss; TRL's current default).
        case dapo
        /// Sum over tokens / (G * max_completion_length) (Dr. GRPO: no length bias).
        case drGRPO = "dr_grpo"
    }

    public struct Parameters: Codable, Sendable, Equatable {
        /// Policy updates (one batch of rollouts each, times num_iterations). Default 100.
        public var steps = 100
        /// Distinct prompts per step. Default 8.
        public var promptsPerStep = 8
        /// Completions per prompt, G (TRL num_generations). At least 2: a group of one has no
        /// baseline. Default 8 (TRL's default).
        public var numGenerations = 8
        /// Longest completion in tokens; longer ones are cut (finish reason `length`); also the
        /// dr_grpo loss divisor L. Default 128.
        public var maxCompletionLength = 128
        /// Sampling temperature of the rollouts; log-probabilities are recomputed at it. Default 1
        /// (TRL's default: sample the policy itself).
        public var temperature = 1.0
        /// Top-k sampling; 0 = off. Default 0.
        public var topK = 0
        /// Nucleus sampling; 1 = off. Default 1.
        public var topP = 1.0
        /// Peak learning rate. Default 5e-5.
        public var learningRate = 5e-5
        /// constant | cosine | linear. Default constant.
        public var lrSchedule = LRScheduleKind.constant
        /// Final learning rate as a share of the peak (cosine, linear). Default 0.1.
        public var minLRRatio = 0.1
        /// Linear warmup steps. Default 0.
        public var warmupSteps = 0
        /// KL penalty coefficient against the reference (the policy at the start of the stage),
        /// k3 estimator. The KL is logged even at 0. Default 0 (TRL's current default).
        public var beta = 0.0
        /// Lower clip: the ratio is kept >= 1 - eps_low (TRL epsilon). Default 0.2.
        public var epsLow = 0.2
        /// Upper clip: ratio <= 1 + eps_high (TRL epsilon_high). Default 0.2; DAPO's clip-higher uses 0.28.
        public var epsHigh = 0.2
        /// Gradient steps per batch of rollouts (mu); > 1 makes the clipping matter. Default 1.
        public var numIterations = 1
        /// grpo | dr_grpo | rloo. Default grpo.
        public var advantage = Advantage.grpo
        /// group | batch | none. Default group.
        public var scaleRewards = ScaleRewards.group
        /// grpo | dapo | dr_grpo. Default dapo.
        public var lossType = LossType.dapo
        /// Leave completions cut at max_completion_length out of the loss (DAPO). Default false.
        public var maskTruncatedCompletions = false
        /// Drop groups whose rewards are all equal (no signal) and sample more prompts (DAPO).
        /// Default false.
        public var dynamicSampling = false
        /// With dynamic_sampling: extra sampling rounds per step before training on what there is. Default 3.
        public var maxResampleRounds = 3
        /// Evaluate (held-out accuracy, validation split) every this many steps; 0 = off. Default 25.
        public var evalEvery = 25
        /// Held-out tasks per environment for those evaluations. Default 50.
        public var evalTasks = 50
        /// Samples per held-out task for pass@k during those evaluations (k = 1 and this); 0 = greedy only. Default 0.
        public var evalSamples = 0
        /// Checkpoint every this many steps (and at the end); 0 = only at the end. Default 50.
        public var checkpointEvery = 50
        /// Global gradient-norm clip (TRL max_grad_norm); 0 = off. Default 1.
        public var gradClip = 1.0
        /// AdamW weight decay. Default 0 (TRL's default).
        public var weightDecay = 0.0
        /// AdamW beta1. Default 0.9.
        public var adamBeta1 = 0.9
        /// AdamW beta2. Default 0.95.
        public var adamBeta2 = 0.95
        /// Tools the policy may call (python, search), overriding each environment's own list;
        /// `[]` forbids tools. Default null: each environment's tools.
        public var tools: [Tool]? = nil
        /// Sequences per forward/backward pass (memory, not results: accumulation is exact). Not a
        /// YAML key. Default 8.
        public var microBatch = 8

        public init() {}

        /// The objective's knobs, the rest at their defaults (what the objective's tests set).
        public init(advantage: Advantage = .grpo, scaleRewards: ScaleRewards = .group, lossType: LossType = .dapo,
                    beta: Double = 0, epsLow: Double = 0.2, epsHigh: Double = 0.2, numIterations: Int = 1,
                    maskTruncatedCompletions: Bool = false, temperature: Double = 1, learningRate: Double = 5e-5,
                    gradClip: Double = 1, maxCompletionLength: Int = 128) {
            self.advantage = advantage; self.scaleRewards = scaleRewards; self.lossType = lossType
            self.beta = beta; self.epsLow = epsLow; self.epsHigh = epsHigh; self.numIterations = numIterations
            self.maskTruncatedCompletions = maskTruncatedCompletions; self.temperature = temperature
            self.learningRate = learningRate; self.gradClip = gradClip; self.maxCompletionLength = maxCompletionLength
        }

        /// The YAML keys, in the order the resolved config prints them.
        public enum CodingKeys: String, CodingKey, CaseIterable {
            case steps, promptsPerStep = "prompts_per_step", numGenerations = "num_generations"
            case maxCompletionLength = "max_completion_length", temperature, topK = "top_k", topP = "top_p"
            case learningRate = "learning_rate", lrSchedule = "lr_schedule", minLRRatio = "min_lr_ratio"
            case warmupSteps = "warmup_steps", beta, epsLow = "eps_low", epsHigh = "eps_high"
            case numIterations = "num_iterations", advantage, scaleRewards = "scale_rewards", lossType = "loss_type"
            case maskTruncatedCompletions = "mask_truncated_completions", dynamicSampling = "dynamic_sampling"
            case maxResampleRounds = "max_resample_rounds", evalEvery = "eval_every"
            case evalTasks = "eval_tasks", evalSamples = "eval_samples"
            case checkpointEvery = "checkpoint_every", gradClip = "grad_clip", weightDecay = "weight_decay"
            case adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", tools
        }

        /// Reads the keys present over the defaults: a missing key keeps its default, and a
        /// defaulted warmup never exceeds a tenth of the steps. Rules are checked by `problems()`.
        public init(from decoder: Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func read<T: Decodable>(_ value: inout T, _ key: CodingKeys) throws {
                if let found = try c.decodeIfPresent(T.self, forKey: key) { value = found }
            }
            try read(&steps, .steps); try read(&promptsPerStep, .promptsPerStep); try read(&numGenerations, .numGenerations)
            try read(&maxCompletionLength, .maxCompletionLength); try read(&temperature, .temperature)
            try read(&topK, .topK); try read(&topP, .topP); try read(&learningRate, .learningRate)
            try read(&lrSchedule, .lrSchedule); try read(&minLRRatio, .minLRRatio)
            warmupSteps = min(warmupSteps, steps / 10)
            try read(&warmupSteps, .warmupSteps); try read(&beta, .beta); try read(&epsLow, .epsLow); try read(&epsHigh, .epsHigh)
            try read(&numIterations, .numIterations); try read(&advantage, .advantage); try read(&scaleRewards, .scaleRewards)
            try read(&lossType, .lossType); try read(&maskTruncatedCompletions, .maskTruncatedCompletions)
            try read(&dynamicSampling, .dynamicSampling); try read(&maxResampleRounds, .maxResampleRounds)
            try read(&evalEvery, .evalEvery); try read(&evalTasks, .evalTasks); try read(&evalSamples, .evalSamples)
            try read(&checkpointEvery, .checkpointEvery); try read(&gradClip, .gradClip); try read(&weightDecay, .weightDecay)
            try read(&adamBeta1, .adamBeta1); try read(&adamBeta2, .adamBeta2)
            if c.contains(.tools) { tools = try c.decodeIfPresent([Tool].self, forKey: .tools) }
        }

        /// Every broken rule, as (key, "must be ..., found ...") with the YAML key, so the
        /// experiment loader can point at its line. The trainer refuses parameters with any.
        public func problems() -> [(key: CodingKeys, message: String)] {
            var out: [(CodingKeys, String)] = []
            func check<T: Comparable>(_ key: CodingKeys, _ value: T, _ rule: ParameterRule<T>) {
                if let message = rule.violation(value) { out.append((key, message)) }
            }
            check(.steps, steps, .atLeast(1))
            check(.promptsPerStep, promptsPerStep, .atLeast(1))
            check(.numGenerations, numGenerations, .between(2, 1024))
            check(.maxCompletionLength, maxCompletionLength, .atLeast(1))
            check(.temperature, temperature, .aboveUpTo(0, 10))
            check(.topK, topK, .atLeast(0))
            check(.topP, topP, .aboveUpTo(0, 1))
            check(.learningRate, learningRate, .aboveUpTo(0, 1))
            check(.minLRRatio, minLRRatio, .between(0, 1))
            check(.warmupSteps, warmupSteps, .between(0, steps))
            check(.beta, beta, .atLeast(0))
            check(.epsLow, epsLow, .between(0, 1))
            check(.epsHigh, epsHigh, .atLeast(0))
            check(.numIterations, numIterations, .between(1, 64))
            check(.maxResampleRounds, maxResampleRounds, .between(0, 100))
            check(.evalEvery, evalEvery, .atLeast(0))
            check(.evalTasks, evalTasks, .atLeast(1))
            check(.evalSamples, evalSamples, .between(0, 64))
            check(.checkpointEvery, checkpointEvery, .atLeast(0))
            check(.gradClip, gradClip, .atLeast(0))
            check(.weightDecay, weightDecay, .atLeast(0))
            check(.adamBeta1, adamBeta1, .between(0, 0.999999))
            check(.adamBeta2, adamBeta2, .between(0, 0.999999))
            if microBatch < 1 { out.append((.steps, "micro_batch must be >= 1, found \(microBatch)")) }
            return out
        }

        /// The temperature in the engine's precision: sampling and the recomputed log-probs both use it.
        public var samplingTemperature: Float { Float(temperature) }

        /// Rollout sampling for the engine (stop tokens are the caller's to add).
        public var sampling: SamplingParameters {
            SamplingParameters(temperature: samplingTemperature, topK: topK, topP: Float(topP), maxNewTokens: maxCompletionLength)
        }

        public var adamW: AdamWParameters {
            AdamWParameters(beta1: Float(adamBeta1), beta2: Float(adamBeta2), weightDecay: Float(weightDecay))
        }

        public var schedule: LRSchedule { lrSchedule.schedule(warmupSteps: warmupSteps, steps: steps, minLRRatio: minLRRatio) }
    }
}
