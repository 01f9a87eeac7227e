// PPO for RLHF (Ziegler et al. 2019; Ouyang et al. 2022; the N+ implementation details,
// Huang et al. 2024), run in the StageLoop like GRPO. One step:
//
//   rollouts   as GRPO draws them (GRPORun.rollouts: prompts_per_step tasks, num_generations
//              samples each, tools run), scored by the stage's reward set: its total is the proxy
//              score (a reward model), its `accuracy` entry, when listed (weight 0), the gold one
//   per token  old log-prob (the policy at sampling), reference log-prob (the stage's starting
//              checkpoint, frozen), value V_t (the value head on the policy's hidden state at the
//              position that predicts token t) and reward
//                  r_t = -kl_coef * (log pi_old - log ref)_t      (k1, TRL's default estimator)
//                  r_T += score - missing_eos_penalty * [no <|im_end|>]     (the last token)
//   GAE        delta_t = r_t + gamma V_{t+1} - V_t (V after the last token = 0),
//              A_t = delta_t + gamma lambda A_{t+1};  returns R_t = A_t + V_t;
//              advantages whitened over the batch's learned tokens
//   epochs     ppo_epochs passes over the batch in num_mini_batches shuffled minibatches; each:
//                  policy loss  token mean of max(-A rho, -A clip(rho, 1 - c, 1 + c))
//                  value loss   token mean of 0.5 max((V - R)^2, (clip(V, V_old +- c_v) - R)^2)
//                  loss = policy loss + vf_coef * value loss; one AdamW step (trunk and heads)
//   KL control fixed, or adaptive (Ziegler et al.): kl_coef *= 1 + clip(KL / target - 1, -0.2, 0.2)
//              * B / horizon after each step, KL the batch's mean sequence KL.
// The value head shares the policy's trunk (one forward gives log-probs and values; the value
// loss trains the trunk too): TRL keeps a separate value model initialised from the reward
// model, which doubles the memory and compute; a 1M-parameter trunk has the capacity to share.
// Forced tool-output tokens get no loss (mask 0) but take part in GAE with reward 0.
// Logged besides GRPO's rollout statistics: score (proxy), gold_reward, kl (mean over sequences
// of sum_t log pi_old - log ref: the KL from the initial policy that Gao et al. plot against),
// sqrt_kl, non_score_reward, policy_loss, value_loss, clipfrac, vf_clipfrac, approx_kl,
// explained_variance, entropy, kl_coef, advantage/return/value means.
// The value head and its Adam moments are saved as value_head.safetensors in each checkpoint;
// the adaptive kl_coef in trainer_state extras.

import Foundation
import Model
import PonderCore
import Rewards
import Tokenization

public enum PPO {
    public struct Parameters: Codable, Sendable, Equatable {
        /// Per-token KL penalty coefficient. Default 0.05 (TRL).
        public var klCoef = 0.05
        /// Adapt kl_coef towards kl_target (Ziegler et al.). Default false.
        public var adaptiveKL = false
        public var klTarget = 6.0
        public var klHorizon = 10_000.0
        public var gamma = 1.0
        public var lam = 0.95
        /// Policy ratio clip c. Default 0.2.
        public var cliprange = 0.2
        /// Value clip c_v around the rollout's values. Default 0.2.
        public var cliprangeValue = 0.2
        public var vfCoef = 0.1
        /// Passes over each rollout batch. Default 4.
        public var ppoEpochs = 4
        /// Minibatches per pass (one optimizer step each). Default 1.
        public var numMiniBatches = 1
        public var whitenAdvantages = true
        /// Subtracted from the score of a completion cut without <|im_end|>. Default 0.
        public var missingEOSPenalty = 0.0

        public init() {}

        public enum CodingKeys: String, CodingKey, CaseIterable {
            case klCoef = "kl_coef", adaptiveKL = "adaptive_kl", klTarget = "kl_target", klHorizon = "kl_horizon"
            case gamma, lam, cliprange, cliprangeValue = "cliprange_value", vfCoef = "vf_coef", ppoEpochs = "ppo_epochs"
            case numMiniBatches = "num_mini_batches", whitenAdvantages = "whiten_advantages", missingEOSPenalty = "missing_eos_penalty"
        }

        public init(from decoder: Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func read<T: Decodable>(_ value: inout T, _ key: CodingKeys) throws {
                if let found = try c.decodeIfPresent(T.self, forKey: key) { value = found }
            }
            try read(&klCoef, .klCoef); try read(&adaptiveKL, .adaptiveKL); try read(&klTarget, .klTarget)
            try read(&klHorizon, .klHorizon); try read(&gamma, .gamma); try read(&lam, .lam); try read(&cliprange, .cliprange)
            try read(&cliprangeValue, .cliprangeValue); try read(&vfCoef, .vfCoef); try read(&ppoEpochs, .ppoEpochs)
            try read(&numMiniBatches, .numMiniBatches); try read(&whitenAdvantages, .whitenAdvantages)
            try read(&missingEOSPenalty, .missingEOSPenalty)
        }

        public func problems() -> [(key: CodingKeys, message: String)] {
            var out: [(CodingKeys, String)] = []
            func check<T: Comparable>(_ key: CodingKeys, _ value: T, _ rule: ParameterRule<T>) {
                if let message = rule.violation(value) { out.append((key, message)) }
            }
            check(.klCoef, klCoef, .atLeast(0))
            check(.klTarget, klTarget, .aboveUpTo(0, 1e6))
            check(.klHorizon, klHorizon, .aboveUpTo(0, 1e12))
            check(.gamma, gamma, .between(0, 1))
            check(.lam, lam, .between(0, 1))
            check(.cliprange, cliprange, .aboveUpTo(0, 10))
            check(.cliprangeValue, cliprangeValue, .aboveUpTo(0, 1e6))
            check(.vfCoef, vfCoef, .atLeast(0))
            check(.ppoEpochs, ppoEpochs, .between(1, 64))
            check(.numMiniBatches, numMiniBatches, .between(1, 1024))
            check(.missingEOSPenalty, missingEOSPenalty, .atLeast(0))
            return out
        }
    }

    /// GAE over one trajectory: advantages and returns (file header).
    public static func gae(rewards: [Double], values: [Double], gamma: Double, lambda: Double) -> (advantages: [Double], returns: [Double]) {
        precondition(rewards.count == values.count)
        var advantages = [Double](repeating: 0, count: rewards.count)
        var next = 0.0, nextValue = 0.0
        for t in stride(from: rewards.count - 1, through: 0, by: -1) {
            let delta = rewards[t] + gamma * nextValue - values[t]
            next = delta + gamma * lambda * next
            advantages[t] = next
            nextValue = values[t]
        }
        return (advantages, zip(advantages, values).map(+))
    }

    /// The clipped value loss of one token, 0.5 max((v - R)^2, (clip(v, old +- c) - R)^2), its
    /// derivative by v, and whether the clipped branch was taken.
    public static func valueLoss(value v: Double, oldValue: Double, return R: Double, clip c: Double) -> (loss: Double, gradient: Double, clipped: Bool) {
        let vc = oldValue + min(max(v - oldValue, -c), c)
        let a = (v - R) * (v - R), b = (vc - R) * (vc - R)
        if b > a {
            // d/dv of the clipped branch: 0 outside the clip range.
            let inside = abs(v - oldValue) < c
            return (0.5 * b, inside ? (vc - R) : 0, true)
        }
        return (0.5 * a, v - R, false)
    }

    /// The clipped policy loss of one token, max(-A rho, -A clip(rho)), and its derivative by log pi.
    public static func policyLoss(logp: Double, oldLogp: Double, advantage A: Double, clip c: Double) -> (loss: Double, gradient: Double, clipped: Bool) {
        let rho = exp(logp - oldLogp)
        let unclipped = -A * rho, clipped = -A * min(max(rho, 1 - c), 1 + c)
        if clipped > unclipped { return (clipped, 0, true) }
        return (unclipped, -A * rho, false)
    }

    /// Whitening over a set of values (mean 0, std 1; shifted back when `shiftMean` is false).
    public static func whiten(_ x: [Double], shiftMean: Bool = true) -> [Double] {
        guard x.count > 1 else { return x }
        let mean = x.reduce(0, +) / Double(x.count)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count - 1)
        let scale = 1 / (variance.squareRoot() + 1e-8)
        return x.map { shiftMean ? ($0 - mean) * scale : ($0 - mean) * scale + mean }
    }

    /// The adaptive KL controller's next coefficient.
    public static func adaptKL(_ coef: Double, kl: Double, target: Double, horizon: Double, batch: Int) -> Double {
        let error = min(max(kl / target - 1, -0.2), 0.2)
        return coef * (1 + error * Double(batch) / horizon)
    }

    public static let valueHeadFile = "value_head.safetensors"

    /// One sample's per-token quantities for the update.
    struct Trajectory {
        var sample: GRPO.Sample
        var oldLogp: [Double]
        var oldValues: [Double]
        var advantages: [Double]
        var returns: [Double]
    }

    public static func train(
        policy: Transformer, reference: Transformer, tokenizer: Tokenizer,
        environments: [GRPOTrainer.WeightedEnvironment], rewards: RewardSet, tools: ToolExecutor?,
        rollout r: GRPO.Parameters, parameters p: Parameters, seed: UInt64, faults: FaultPlan = .none,
        checkpointDirectory: URL, resume: Bool, progress: GRPOTrainer.StepHandler
    ) throws -> TrainingSummary {
        if let problem = p.problems().first { throw TrainingError.invalidParameter("ppo: \(problem.key.stringValue) \(problem.message)") }
        if let problem = r.problems().first { throw TrainingError.invalidParameter("ppo: \(problem.key.stringValue) \(problem.message)") }
        let optimizer = AdamW(layout: policy.layout, parameters: r.adamW)
        var head = ScalarHead(width: policy.config.dModel)
        var loop = StageLoop(stage: "ppo", steps: r.steps, checkpointEvery: r.checkpointEvery, seed: seed, faults: faults)
        var klCoef = p.klCoef
        loop.extraFiles = { [valueHeadFile: head.safetensors()] }
        let restored = try loop.restore(model: policy, optimizer: optimizer, from: checkpointDirectory, resume: resume)
        if let restored {
            head = try ScalarHead.load(from: checkpointDirectory.appendingPathComponent(valueHeadFile), width: policy.config.dModel)
            klCoef = try restored.extra("kl_coef", as: Double.self) ?? klCoef
        }
        let run = GRPORun(policy: policy, reference: reference, optimizer: optimizer, tokenizer: tokenizer, environments: environments,
                          rewards: rewards, tools: tools, parameters: r, seed: seed)
        let imEnd = tokenizer.endOfTurnID
        let C = policy.config.dModel
        var last: [String: Double] = [:]
        var storageSeconds = 0.0
        let outcome = try loop.run(model: policy, optimizer: optimizer, tokenizer: tokenizer, directory: checkpointDirectory,
                                   from: restored?.step ?? 0, state: { step in
            var state = TrainerState(step: step, dataCursor: ["step": step])
            try? state.setExtra("kl_coef", klCoef)
            return state
        }) { step, resumedFrom, due in
            let began = ContinuousClock.now
            let batch = run.rollouts(step: step)
            var samples: [GRPO.Sample] = [], scores: [Double] = [], golds: [Double] = [], slots: [(Int, Int)] = []
            for (g, group) in batch.groups.enumerated() {
                for (i, (ro, score)) in zip(group.rollouts, group.scores).enumerated() where !score.failed && !ro.tokens.isEmpty {
                    samples.append(GRPO.Sample(group: g, promptIDs: ro.promptIDs, completionIDs: ro.tokens, lossMask: ro.lossMask,
                                               reward: score.total, truncated: ro.tokens.last != imEnd))
                    scores.append(score.total)
                    if let gold = score.entries.first(where: { $0.name == "accuracy" })?.value { golds.append(gold) }
                    slots.append((g, i))
                }
            }
            let t0 = ContinuousClock.now
            let tau = r.samplingTemperature
            // Old log-probs and values in one pass; reference log-probs in another.
            var oldLogp: [[Double]] = samples.map { [Double](repeating: 0, count: $0.completionIDs.count) }
            var oldValues = oldLogp
            for mb in GRPO.microBatches(samples, size: r.microBatch, maxSeqLen: policy.config.maxSeqLen) {
                let (logp, _) = GRPO.forwardLogProbs(policy, mb, temperature: tau)
                let h = policy.hidden.baseAddress!
                for (row, i) in mb.rows.enumerated() {
                    for j in samples[i].completionIDs.indices {
                        let n = mb.firstTarget[row] + j
                        oldLogp[i][j] = Double(logp[n])
                        oldValues[i][j] = Double(head.score(h + n * C))
                    }
                }
            }
            let refLogp = GRPO.completionLogProbs(model: reference, samples: samples, temperature: tau, microBatch: r.microBatch)
            var trajectories: [Trajectory] = []
            var klSums: [Double] = []
            for (i, s) in samples.enumerated() {
                var rewardsT = [Double](repeating: 0, count: s.completionIDs.count)
                var kl = 0.0
                for j in rewardsT.indices where s.lossMask[j] > 0 {
                    let d = oldLogp[i][j] - Double(refLogp[i][j])
                    kl += d
                    rewardsT[j] = -klCoef * d
                }
                klSums.append(kl)
                rewardsT[rewardsT.count - 1] += scores[i] - (s.truncated ? p.missingEOSPenalty : 0)
                let (adv, ret) = gae(rewards: rewardsT, values: oldValues[i], gamma: p.gamma, lambda: p.lam)
                trajectories.append(Trajectory(sample: s, oldLogp: oldLogp[i], oldValues: oldValues[i], advantages: adv, returns: ret))
            }
            if p.whitenAdvantages {
                let flat = trajectories.flatMap { t in t.advantages.indices.filter { t.sample.lossMask[$0] > 0 }.map { t.advantages[$0] } }
                var white = whiten(flat)[...]
                for k in trajectories.indices {
                    for j in trajectories[k].advantages.indices where trajectories[k].sample.lossMask[j] > 0 {
                        trajectories[k].advantages[j] = white.removeFirst()
                    }
                }
            }
            // Explained variance of the rollout values over the learned tokens.
            let pairs = trajectories.flatMap { t in t.returns.indices.filter { t.sample.lossMask[$0] > 0 }.map { (t.returns[$0], t.oldValues[$0]) } }
            let explained = explainedVariance(returns: pairs.map(\.0), values: pairs.map(\.1))

            var sums: [String: Double] = [:]
            var passes = 0.0
            let lr = r.schedule.lr(step: step - 1, peak: Float(r.learningRate))
            if !trajectories.isEmpty {
                for epoch in 0..<p.ppoEpochs {
                    var order = Array(trajectories.indices)
                    var rng = RNG(seed: seed).fork("ppo-step-\(step - 1)-epoch-\(epoch)")
                    for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }
                    let size = (order.count + p.numMiniBatches - 1) / p.numMiniBatches
                    for start in stride(from: 0, to: order.count, by: size) {
                        let chosen = order[start..<min(order.count, start + size)].map { trajectories[$0] }
                        let stats = minibatchStep(policy: policy, head: &head, optimizer: optimizer, chosen, p: p, r: r, lr: lr)
                        sums.merge(stats, uniquingKeysWith: +)
                        passes += 1
                    }
                }
            }
            var metrics = sums.mapValues { $0 / max(passes, 1) }
            metrics.merge(GRPORun.statistics(batch)) { _, new in new }
            let meanKL = klSums.reduce(0, +) / Double(max(1, klSums.count))
            metrics["score"] = scores.reduce(0, +) / Double(max(1, scores.count))
            if !golds.isEmpty { metrics["gold_reward"] = golds.reduce(0, +) / Double(golds.count) }
            metrics["kl"] = meanKL
            metrics["sqrt_kl"] = max(0, meanKL).squareRoot()
            metrics["non_score_reward"] = -klCoef * meanKL
            metrics["kl_coef"] = klCoef
            metrics["explained_variance"] = explained
            metrics["returns_mean"] = pairs.isEmpty ? 0 : pairs.reduce(0) { $0 + $1.0 } / Double(pairs.count)
            metrics["value_mean"] = pairs.isEmpty ? 0 : pairs.reduce(0) { $0 + $1.1 } / Double(pairs.count)
            metrics["learning_rate"] = Double(lr)
            metrics["time/training"] = (ContinuousClock.now - t0).seconds
            metrics["time/storage"] = storageSeconds
            if p.adaptiveKL { klCoef = adaptKL(klCoef, kl: meanKL, target: p.klTarget, horizon: p.klHorizon, batch: samples.count) }
            run.evaluate(step: step, into: &metrics)
            metrics["time/step"] = (ContinuousClock.now - began).seconds
            last = metrics
            var advantagesBySlot: [[Double?]] = batch.groups.map { $0.rollouts.map { _ in nil } }
            for (k, (g, i)) in slots.enumerated() {
                let t = trajectories[k]
                let learned = t.advantages.indices.filter { t.sample.lossMask[$0] > 0 }
                advantagesBySlot[g][i] = learned.isEmpty ? 0 : learned.reduce(0) { $0 + t.advantages[$1] } / Double(learned.count)
            }
            let report = GRPOTrainer.StepReport(
                progress: TrainingProgress(stage: "ppo", step: step, totalSteps: r.steps, metrics: metrics, elapsedSeconds: run.elapsed,
                                           resumedFromStep: resumedFrom, checkpointDue: due),
                rollouts: run.scored(batch, advantagesBySlot))
            let t = ContinuousClock.now
            let keepGoing = try progress(report)
            storageSeconds = (ContinuousClock.now - t).seconds
            return keepGoing
        }
        return TrainingSummary(steps: outcome.completed, finalMetrics: last, stopped: outcome.stopped)
    }

    /// 1 - Var(R - V) / Var(R): how much of the returns the values explain (1 perfect, <= 0 none).
    public static func explainedVariance(returns: [Double], values: [Double]) -> Double {
        guard returns.count > 1 else { return 0 }
        func variance(_ x: [Double]) -> Double {
            let m = x.reduce(0, +) / Double(x.count)
            return x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count)
        }
        let v = variance(returns)
        return v > 0 ? 1 - variance(zip(returns, values).map(-)) / v : 0
    }

    /// One optimizer step on a minibatch of trajectories; returns its statistics.
    static func minibatchStep(policy: Transformer, head: inout ScalarHead, optimizer: AdamW, _ chosen: [Trajectory],
                              p: Parameters, r: GRPO.Parameters, lr: Float) -> [String: Double] {
        let C = policy.config.dModel
        let samples = chosen.map(\.sample)
        let tokens = max(1, samples.reduce(0) { $0 + Double($1.lossMask.reduce(0, +)) })
        let backwardScale = 1 / Double(r.samplingTemperature)
        policy.zeroGrad()
        head.zeroGrad()
        var s: [String: Double] = ["policy_loss": 0, "value_loss": 0, "clipfrac": 0, "vf_clipfrac": 0, "approx_kl": 0, "entropy": 0, "ratio_mean": 0]
        for mb in GRPO.microBatches(samples, size: r.microBatch, maxSeqLen: policy.config.maxSeqLen) {
            let (logp, entropy) = GRPO.forwardLogProbs(policy, mb, temperature: r.samplingTemperature)
            let h = policy.hidden.baseAddress!
            var dlogp = [Float](repeating: 0, count: mb.tokens.count)
            var dhidden = [Float](repeating: 0, count: mb.tokens.count * C)
            for (row, i) in mb.rows.enumerated() {
                let t = chosen[i]
                for j in t.sample.completionIDs.indices where t.sample.lossMask[j] > 0 {
                    let n = mb.firstTarget[row] + j
                    let m = Double(t.sample.lossMask[j])
                    let lp = Double(logp[n])
                    let pl = policyLoss(logp: lp, oldLogp: t.oldLogp[j], advantage: t.advantages[j], clip: p.cliprange)
                    let v = Double(head.score(h + n * C))
                    let vl = valueLoss(value: v, oldValue: t.oldValues[j], return: t.returns[j], clip: p.cliprangeValue)
                    dlogp[n] = Float(m * pl.gradient / tokens * backwardScale)
                    dhidden.withUnsafeMutableBufferPointer { d in
                        head.backward(Float(m * p.vfCoef * vl.gradient / tokens), hidden: h + n * C, dhidden: d.baseAddress! + n * C)
                    }
                    s["policy_loss"]! += m * pl.loss / tokens
                    s["value_loss"]! += m * vl.loss / tokens
                    s["clipfrac"]! += pl.clipped ? m / tokens : 0
                    s["vf_clipfrac"]! += vl.clipped ? m / tokens : 0
                    // k3 of the old policy against the current one: the update's size.
                    let d = t.oldLogp[j] - lp
                    s["approx_kl"]! += m * (exp(d) - d - 1) / tokens
                    s["entropy"]! += m * Double(entropy[n]) / tokens
                    s["ratio_mean"]! += m * exp(lp - t.oldLogp[j]) / tokens
                }
            }
            policy.backward(dlogp: dlogp, dhidden: dhidden)
        }
        let norm = head.step(with: policy, optimizer: optimizer, maxNorm: r.gradClip, lr: lr, beta1: r.adamBeta1, beta2: r.adamBeta2)
        s["loss"] = s["policy_loss"]! + p.vfCoef * s["value_loss"]!
        s["grad_norm"] = norm
        return s
    }
}
