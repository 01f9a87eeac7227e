// GRPO: Group Relative Policy Optimization (Shao et al., 2024, DeepSeekMath §4), with the
// Dr. GRPO (Liu et al., 2025), DAPO (Yu et al., 2025) and RLOO (Ahmadian et al., 2024)
// variants of DESIGN.md §7. This file holds the objective's statement, the options and the
// sample type; the pieces live in GRPOAdvantages.swift (advantages, loss weights),
// GRPOObjective.swift (the per-token objective and its derivative) and GRPOStep.swift
// (micro-batched forward/backward, gradient accumulation, clipping, AdamW).
//
// Not here: sampling, rewards, dynamic sampling, the store, schedules. The `grpo` stage calls
// `advantages` and `optimize` once per step with the samples it generated and scored.
//
// Notation: prompt q, G completions o_1..o_G per prompt (a group g), reward r_i, completion
// token t of o_i with loss mask m_{i,t} (1 = sampled, 0 = forced tool output), advantage A_i,
// pi_theta the policy being trained, pi_old the policy that sampled, pi_ref the frozen
// reference (the SFT weights). All log-probabilities are of softmax(logits / tau), tau the
// sampling temperature (TRL does the same), so they match what the engine sampled from.
//
// Advantages (per sample, shared by all its tokens; GRPOAdvantages.swift):
//   centre  c_i = r_i - mean_g(r)                                   advantage grpo, dr_grpo
//           c_i = r_i - (sum_g(r) - r_i) / (G - 1)                  advantage rloo (0 if G = 1)
//   scale   A_i = c_i / (std_g(r) + 1e-4)                           scale_rewards group
//           A_i = c_i / (std_batch(r) + 1e-4)                       scale_rewards batch
//           A_i = c_i                                               scale_rewards none
//   dr_grpo ignores scale_rewards: dividing by a std is the bias Dr. GRPO removes (so dr_grpo
//   equals grpo with scale_rewards none); grpo and rloo use scale_rewards as given.
//   std is the sample (unbiased, n - 1) standard deviation, as torch.std in TRL; of a single
//   value it is 0. The batch std is over the raw rewards of every sample; the centre always
//   uses the group.
//
// Per-token objective (GRPOObjective.swift), with d = log pi_ref - log pi_theta:
//   rho_t = exp(log pi_theta(o_t) - log pi_old(o_t))
//   J_t   = min(rho_t A, clip(rho_t, 1 - eps_low, 1 + eps_high) A) - beta k3_t
//   k3_t  = exp(d) - d - 1    (Schulman's k3: unbiased for KL(pi_theta || pi_ref), >= 0)
// The min makes the clip one-sided: for A > 0 only rho > 1 + eps_high is clipped, for A < 0
// only rho < 1 - eps_low. A bad completion (A < 0) that became more likely keeps its full
// gradient whatever its ratio, and so does a good one (A > 0) that became less likely.
// Derivative fed to the model, by hand (not autograd):
//   dJ_t/dlogp = rho_t A      where the unclipped branch is taken (including rho in range)
//              = 0            where the clipped branch is taken (clip is constant there)
//              + beta (exp(d) - 1)      from -beta k3 (dk3/dlogp = 1 - exp(d))
//
// Aggregation (`loss_type`; GRPOAdvantages.swift), S sequences in the batch, L the
// max_completion_length, m the loss mask (0 on forced tokens, and on every token of a
// truncated completion when mask_truncated_completions is on):
//   grpo     loss = -(1/S) sum_i (1 / sum_t m_{i,t}) sum_t m_{i,t} J_{i,t}   (a sequence without
//            masked-in tokens contributes 0 but still counts in S, as in TRL)
//   dapo     loss = -(1 / sum_{i,t} m_{i,t}) sum_{i,t} m_{i,t} J_{i,t}
//   dr_grpo  loss = -(1 / (S L)) sum_{i,t} m_{i,t} J_{i,t}
// Each is loss = -sum_{i,t} w_{i,t} J_{i,t} with fixed per-token weights w computed over the
// whole batch before any forward, so splitting the batch into micro-batches changes nothing:
// gradient accumulation is exact, not an average of micro-batch means.
//
// One `optimize` call (GRPOStep.swift):
//   1. reference log-probs, once, no gradient (only when a reference model is given);
//   2. num_iterations == 1: pi_old := stop_gradient(pi_theta) from the same forward, so
//      rho == 1 exactly, nothing clips, and J's gradient is the plain policy gradient
//      w A grad log pi (plus the KL term) (TRL's shortcut); num_iterations > 1: old log-probs from one forward with the weights
//      at entry, before the first pass (the weights that sampled, if the caller has not
//      stepped since sampling);
//   3. per pass: zero grads, micro-batches forward + backward, clip the global gradient norm
//      to grad_clip, one AdamW step. num_iterations passes = num_iterations optimizer steps.
//
// Shortcuts, stated: no value model (the group baseline replaces it); no entropy bonus (entropy
// is only logged); old log-probs are recomputed by the trainer's forward, not taken from the
// engine, whose KV-cache arithmetic differs in the last bits; the KL is logged always but is 0
// when no reference model is given (beta must then be 0); top-k / top-p truncation at sampling
// is not reflected in the recomputed log-probs (as in TRL); the ratio is per token, not per
// sequence.

import Model

public enum GRPO {
    /// How the per-sample baseline is formed (see the file header).
    public enum Advantage: String, Codable, Sendable, CaseIterable {
        case grpo
        case drGRPO = "dr_grpo"
        case rloo
    }

    /// What the centred rewards are divided by.
    public enum ScaleRewards: String, Codable, Sendable, CaseIterable {
        case group, batch, none
    }

    /// How per-token objectives are averaged into the loss.
    public enum LossType: String, Codable, Sendable, CaseIterable {
        case grpo, dapo
        case drGRPO = "dr_grpo"
    }

    /// The optimisation options of a GRPO run; defaults as TRL's GRPOConfig where it has one.
    public struct Parameters: Codable, Sendable, Equatable {
        public var advantage: Advantage = .grpo
        public var scaleRewards: ScaleRewards = .group
        public var lossType: LossType = .dapo
        /// Weight of the k3 KL penalty against the reference model; 0 = no penalty (the KL
        /// is still logged when a reference model is given).
        public var beta: Double = 0
        /// Lower clip range: rho is clipped below at 1 - epsLow.
        public var epsLow: Double = 0.2
        /// Upper clip range: rho is clipped above at 1 + epsHigh (DAPO's clip-higher raises it).
        public var epsHigh: Double = 0.2
        /// Optimizer steps per batch of samples (TRL's num_iterations, GRPO paper's mu).
        public var numIterations: Int = 1
        /// Give every token of a completion that hit max_completion_length loss weight 0.
        public var maskTruncatedCompletions: Bool = false
        /// The sampling temperature; logits are divided by it when log-probs are recomputed.
        public var temperature: Float = 1
        /// Peak learning rate; the stage applies its schedule and passes each step's rate to
        /// `optimize`.
        public var learningRate: Float = 1e-6
        /// Maximum global gradient norm; 0 = no clipping.
        public var gradClip: Float = 1
        /// The completion token budget L (the dr_grpo divisor).
        public var maxCompletionLength: Int = 256

        public init(
            advantage: Advantage = .grpo, scaleRewards: ScaleRewards = .group, lossType: LossType = .dapo,
            beta: Double = 0, epsLow: Double = 0.2, epsHigh: Double = 0.2, numIterations: Int = 1,
            maskTruncatedCompletions: Bool = false, temperature: Float = 1, learningRate: Float = 1e-6,
            gradClip: Float = 1, maxCompletionLength: Int = 256
        ) {
            self.advantage = advantage
            self.scaleRewards = scaleRewards
            self.lossType = lossType
            self.beta = beta
            self.epsLow = epsLow
            self.epsHigh = epsHigh
            self.numIterations = numIterations
            self.maskTruncatedCompletions = maskTruncatedCompletions
            self.temperature = temperature
            self.learningRate = learningRate
            self.gradClip = gradClip
            self.maxCompletionLength = maxCompletionLength
        }

        enum CodingKeys: String, CodingKey {
            case advantage, beta, temperature
            case scaleRewards = "scale_rewards"
            case lossType = "loss_type"
            case epsLow = "eps_low"
            case epsHigh = "eps_high"
            case numIterations = "num_iterations"
            case maskTruncatedCompletions = "mask_truncated_completions"
            case learningRate = "learning_rate"
            case gradClip = "grad_clip"
            case maxCompletionLength = "max_completion_length"
        }

        /// Missing keys take their defaults.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Parameters()
            advantage = try c.decodeIfPresent(Advantage.self, forKey: .advantage) ?? d.advantage
            scaleRewards = try c.decodeIfPresent(ScaleRewards.self, forKey: .scaleRewards) ?? d.scaleRewards
            lossType = try c.decodeIfPresent(LossType.self, forKey: .lossType) ?? d.lossType
            beta = try c.decodeIfPresent(Double.self, forKey: .beta) ?? d.beta
            epsLow = try c.decodeIfPresent(Double.self, forKey: .epsLow) ?? d.epsLow
            epsHigh = try c.decodeIfPresent(Double.self, forKey: .epsHigh) ?? d.epsHigh
            numIterations = try c.decodeIfPresent(Int.self, forKey: .numIterations) ?? d.numIterations
            maskTruncatedCompletions = try c.decodeIfPresent(Bool.self, forKey: .maskTruncatedCompletions)
                ?? d.maskTruncatedCompletions
            temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? d.temperature
            learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
            gradClip = try c.decodeIfPresent(Float.self, forKey: .gradClip) ?? d.gradClip
            maxCompletionLength = try c.decodeIfPresent(Int.self, forKey: .maxCompletionLength) ?? d.maxCompletionLength
        }

        /// Every broken rule, each as "key: rule, got value" (snake_case keys, so the
        /// experiment loader can prefix the file, line and section).
        public func problems() -> [String] {
            var out: [String] = []
            if !(beta >= 0) { out.append("beta: must be >= 0, got \(beta)") }
            if !(epsLow >= 0 && epsLow < 1) { out.append("eps_low: must be in [0, 1), got \(epsLow)") }
            if !(epsHigh >= 0) { out.append("eps_high: must be >= 0, got \(epsHigh)") }
            if numIterations < 1 { out.append("num_iterations: must be >= 1, got \(numIterations)") }
            if !(temperature > 0) { out.append("temperature: must be > 0 (greedy sampling has no policy gradient), got \(temperature)") }
            if !(learningRate >= 0) { out.append("learning_rate: must be >= 0, got \(learningRate)") }
            if !(gradClip >= 0) { out.append("grad_clip: must be >= 0 (0 = off), got \(gradClip)") }
            if maxCompletionLength < 1 { out.append("max_completion_length: must be >= 1, got \(maxCompletionLength)") }
            return out
        }
    }

    /// One sampled completion as the optimiser sees it.
    public struct Sample: Sendable, Equatable {
        /// The group (prompt) it was sampled for; advantages compare samples of one group.
        public var group: Int
        public var promptIDs: [Int32]
        public var completionIDs: [Int32]
        /// Per completion token: 1 = sampled (learned), 0 = forced tool output (ignored).
        public var lossMask: [Float]
        public var reward: Double
        /// True when the completion hit max_completion_length without a stop token.
        public var truncated: Bool

        public init(group: Int, promptIDs: [Int32], completionIDs: [Int32], lossMask: [Float]? = nil,
                    reward: Double, truncated: Bool = false) {
            precondition(lossMask == nil || lossMask!.count == completionIDs.count,
                         "GRPO.Sample: \(lossMask!.count) mask values for \(completionIDs.count) completion tokens")
            self.group = group
            self.promptIDs = promptIDs
            self.completionIDs = completionIDs
            self.lossMask = lossMask ?? [Float](repeating: 1, count: completionIDs.count)
            self.reward = reward
            self.truncated = truncated
        }
    }
}
