// `stage: grpo`: group-relative policy optimisation against the configured rewards
// (DESIGN.md §7). Keys mirror TRL's GRPOConfig where one exists (num_generations,
// max_completion_length, beta, num_iterations, scale_rewards, loss_type,
// mask_truncated_completions); TRL's `epsilon` / `epsilon_high` are `eps_low` / `eps_high`
// here, `max_grad_norm` is `grad_clip`, and a step is `prompts_per_step` prompts times
// `num_generations` completions (TRL counts completions per device instead).
import Foundation
import Model
import PonderCore

public struct GRPOStage: Codable, Sendable, Equatable {
    /// How a group's rewards become advantages (A_i for sample i of a group of G).
    public enum Advantage: String, Codable, Sendable, CaseIterable, ConfigChoice {
        /// (r_i - mean) / (std + 1e-4): the GRPO paper.
        case grpo
        /// r_i - mean, unscaled: Dr. GRPO.
        case drGRPO = "dr_grpo"
        /// r_i - mean of the other G-1 rewards: RLOO.
        case rloo
    }

    /// Which standard deviation scales the advantages (TRL's scale_rewards).
    public enum ScaleRewards: String, Codable, Sendable, CaseIterable, ConfigChoice {
        /// Each group's own std (GRPO).
        case group
        /// The std over the whole batch (more robust when groups have little spread).
        case batch
        /// No scaling (Dr. GRPO's recommendation).
        case none
    }

    /// How per-token losses are averaged (TRL's loss_type).
    public enum LossType: String, Codable, Sendable, CaseIterable, ConfigChoice {
        /// Mean over each sequence's tokens, then over sequences (the GRPO paper; favours short wrong answers).
        case grpo
        /// Mean over all tokens of the batch (DAPO's token-level loss; TRL's current default).
        case dapo
        /// Sum over tokens / (G * max_completion_length) (Dr. GRPO: no length bias).
        case drGRPO = "dr_grpo"
    }

    /// Unique stage name. Default `grpo`.
    public var name = ""
    /// Policy updates (one batch of rollouts each, times num_iterations). Default 100.
    public var steps = 100
    /// Distinct prompts per step. Default 8.
    public var promptsPerStep = 8
    /// Completions per prompt, G (TRL num_generations). At least 2: a group of one has no
    /// baseline. Default 8 (TRL's default).
    public var numGenerations = 8
    /// Longest completion in tokens; longer ones are cut (finish reason `length`). Default 128.
    public var maxCompletionLength = 128
    /// Sampling temperature of the rollouts. Default 1 (TRL's default: sample the policy itself).
    public var temperature = 1.0
    /// Top-k sampling; 0 = off. Default 0.
    public var topK = 0
    /// Nucleus sampling; 1 = off. Default 1.
    public var topP = 1.0
    /// Peak learning rate. Default 5e-5 (TRL's 1e-6 is for billion-parameter models; a
    /// 1M-parameter model from SFT moves with far larger steps).
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
    /// Reward functions with weights. Default: [accuracy, weight 1].
    public var rewards = [RewardSpec(name: "accuracy")]
    /// Evaluate (held-out accuracy) every this many steps; 0 = off. Default 25.
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
    /// Environments to draw prompts from (names from `environments:`). Default: all of them.
    public var environments: [String] = []

    public init() {}

    /// Rollout sampling for the engine (stop tokens are the runner's to add).
    public var sampling: SamplingParameters {
        SamplingParameters(temperature: Float(temperature), topK: topK, topP: Float(topP), maxNewTokens: maxCompletionLength)
    }

    public var adamW: AdamWParameters {
        AdamWParameters(beta1: Float(adamBeta1), beta2: Float(adamBeta2), weightDecay: Float(weightDecay))
    }

    public var schedule: LRSchedule { lrSchedule.schedule(warmupSteps: warmupSteps, steps: steps, minLRRatio: minLRRatio) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, steps, promptsPerStep = "prompts_per_step", numGenerations = "num_generations"
        case maxCompletionLength = "max_completion_length", temperature, topK = "top_k", topP = "top_p"
        case learningRate = "learning_rate", lrSchedule = "lr_schedule", minLRRatio = "min_lr_ratio"
        case warmupSteps = "warmup_steps", beta, epsLow = "eps_low", epsHigh = "eps_high"
        case numIterations = "num_iterations", advantage, scaleRewards = "scale_rewards", lossType = "loss_type"
        case maskTruncatedCompletions = "mask_truncated_completions", dynamicSampling = "dynamic_sampling"
        case maxResampleRounds = "max_resample_rounds", rewards, evalEvery = "eval_every"
        case evalTasks = "eval_tasks", evalSamples = "eval_samples"
        case checkpointEvery = "checkpoint_every", gradClip = "grad_clip", weightDecay = "weight_decay"
        case adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", tools, environments
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "a grpo stage", alsoAllowing: ["stage"])
        try c.fill(&name, .name)
        try c.fill(&steps, .steps, .atLeast(1))
        try c.fill(&promptsPerStep, .promptsPerStep, .atLeast(1))
        try c.fill(&numGenerations, .numGenerations, .between(2, 1024))
        try c.fill(&maxCompletionLength, .maxCompletionLength, .atLeast(1))
        try c.fill(&temperature, .temperature, .aboveUpTo(0, 10))
        try c.fill(&topK, .topK, .atLeast(0))
        try c.fill(&topP, .topP, .aboveUpTo(0, 1))
        try c.fill(&learningRate, .learningRate, .aboveUpTo(0, 1))
        try c.fill(&lrSchedule, .lrSchedule)
        try c.fill(&minLRRatio, .minLRRatio, .between(0, 1))
        warmupSteps = min(warmupSteps, steps / 10)  // the default never exceeds a tenth of the run
        try c.fill(&warmupSteps, .warmupSteps, .between(0, steps))
        try c.fill(&beta, .beta, .atLeast(0))
        try c.fill(&epsLow, .epsLow, .between(0, 1))
        try c.fill(&epsHigh, .epsHigh, .atLeast(0))
        try c.fill(&numIterations, .numIterations, .between(1, 64))
        try c.fill(&advantage, .advantage)
        try c.fill(&scaleRewards, .scaleRewards)
        try c.fill(&lossType, .lossType)
        try c.fill(&maskTruncatedCompletions, .maskTruncatedCompletions)
        try c.fill(&dynamicSampling, .dynamicSampling)
        try c.fill(&maxResampleRounds, .maxResampleRounds, .between(0, 100))
        try c.fill(&rewards, .rewards)
        if rewards.isEmpty { throw c.issue(.rewards, "needs at least one reward function") }
        try c.fill(&evalEvery, .evalEvery, .atLeast(0))
        try c.fill(&evalTasks, .evalTasks, .atLeast(1))
        try c.fill(&evalSamples, .evalSamples, .between(0, 64))
        try c.fill(&checkpointEvery, .checkpointEvery, .atLeast(0))
        try c.fill(&gradClip, .gradClip, .atLeast(0))
        try c.fill(&weightDecay, .weightDecay, .atLeast(0))
        try c.fill(&adamBeta1, .adamBeta1, .between(0, 0.999999))
        try c.fill(&adamBeta2, .adamBeta2, .between(0, 0.999999))
        try c.fillOptional(&tools, .tools)
        try c.fill(&environments, .environments)
    }
}
