// GRPO: Group Relative Policy Optimization (Shao et al., 2024, DeepSeekMath §4), with the
// Dr. GRPO (Liu et al., 2025), DAPO (Yu et al., 2025) and RLOO (Ahmadian et al., 2024)
// variants of DESIGN.md §7. This file holds the objective's statement, the options and the
// sample type; the pieces live in GRPOAdvantages.swift (advantages, loss weights),
// GRPOObjective.swift (the per-token objective and its derivative) and GRPOStep.swift
// (micro-batched forward/backward, gradient accumulation, clipping, AdamW).
//
// Not here: sampling, rewards, dynamic sampling, the store, schedules (GRPOTrainer.swift runs the
// stage); the options, the `grpo` stage's one configuration type, are in GRPOParameters.swift.
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
