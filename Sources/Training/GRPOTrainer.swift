// GRPOTrainer: the `grpo` stage, the objective of GRPO.swift run in the StageLoop.
//
// One step reads as its phases:
//   rollouts   prompts_per_step tasks drawn from the environments by weight, with an RNG derived
//              from (seed, step) only; Rollouts.generate prefills each prompt once, samples
//              num_generations completions per task, runs tool calls and forces their output;
//              the RewardSet scores every rollout (the verifier runs once, in a batch). With
//              dynamic sampling (DAPO), groups whose scored rewards are all equal carry no
//              signal: they are dropped and replaced by fresh tasks, up to max_resample_rounds.
//   advantages over each group's SCORED rollouts: a rollout whose reward could not be computed
//              (a reward function failed: sandbox unavailable or timed out, a judge that did
//              not answer) is missing, not 0. It is left out of its group's mean and std and out
//              of the loss, and counted (`reward_failures`, and per function); a group with
//              fewer than two scored rollouts has no baseline and is dropped (`groups_dropped`).
//   update     GRPO.optimize: clipped surrogate, k3 KL against the frozen reference, AdamW
//   evaluate   every eval_every steps, greedy accuracy (and pass@k) on the held-out tasks
//   record     the progress callback commits the step's metrics and every rollout (one store
//              transaction) before StageLoop writes the step's checkpoint
// Curriculum (optional): one environment is drawn from difficulty tiers, easiest first; after
// every step the share of that environment's scored rollouts whose verdict is correct joins a
// rolling window of `window` steps, and when the window is full and its mean reaches
// `threshold` the next step moves to the next tier (the window starts over). The tier and the
// window are checkpointed (trainer_state extras), so a resumed run moves when the uninterrupted
// one did; `curriculum/tier` (the tier the step used) and `curriculum/accuracy` are logged.
// Time is split into generation, reward, training and storage (the previous callback's time);
// `time/step` is the step's wall time before its callback.
//
// Random streams: the step's tasks (and dynamic sampling's replacements) come from the stream of
// (seed, step); the G samples of the step's g-th group (in draw order, across resample rounds)
// from the stream of (seed, step, g). Nothing depends on how many groups share a batch.
//
// Data parallel (a Collective of N ranks, DESIGN.md §11): every rank draws the same tasks; each
// generates and scores its contiguous share of the round's groups (whole groups: a group's
// advantages stay on one rank), and the ranks exchange those groups, so every rank then holds
// the whole batch and computes the same advantages and statistics (`scale_rewards: batch`,
// dynamic sampling's counts). The update splits the samples the same way, sums the gradient with
// one all-reduce, and every rank takes the same AdamW step. Rank 0 alone runs the held-out
// evaluation and its callback writes the store. `time/communication` and `communication_bytes`
// are logged when N > 1.
//
// Shortcuts: the reference model is the stage's starting checkpoint, frozen; the engine reads
// the live policy weights (no separate sampler copy), so sampling is exactly on-policy; held-out
// evaluation during the run is on `evalTasks` fixed tasks per environment.

import Foundation
import Model
import PonderCore
import Rewards
import Tokenization

public enum GRPOTrainer {
    /// An environment with its sampling weight and held-out evaluation tasks.
    public struct WeightedEnvironment: Sendable {
        public var environment: any Environment
        public var weight: Double
        public var heldOut: [EnvTask]
        public init(environment: any Environment, weight: Double, heldOut: [EnvTask]) {
            self.environment = environment; self.weight = weight; self.heldOut = heldOut
        }
    }

    /// One scored rollout, as the store keeps it.
    public struct ScoredRollout: Sendable {
        public var group: Int
        public var sample: Int
        public var task: EnvTask
        public var rollout: Rollout
        public var rewards: RewardBreakdown
        /// nil when the rollout was left out of the update (a reward failed, or its group had
        /// fewer than two scored rollouts).
        public var advantage: Double?
    }

    public struct StepReport {
        public var progress: TrainingProgress
        public var rollouts: [ScoredRollout]
    }

    /// Difficulty tiers of one environment (file header).
    public struct Curriculum: Sendable {
        /// The environment whose tasks the tiers replace (by name).
        public var environment: String
        /// Its training views, easiest first.
        public var tiers: [any Environment]
        public var threshold: Double
        public var window: Int

        public init(environment: String, tiers: [any Environment], threshold: Double, window: Int) {
            self.environment = environment; self.tiers = tiers; self.threshold = threshold; self.window = window
        }
    }

    /// Commits a step's report (before its checkpoint); returns false to stop after the step.
    /// A throw stops the run with the error.
    public typealias StepHandler = (StepReport) throws -> Bool

    /// The random stream of step `step` (0-based): a function of (seed, step) only, so a
    /// resumed run draws what the uninterrupted one did.
    public static func stepRNG(seed: UInt64, step: Int) -> RNG { RNG(seed: seed).fork("grpo-step-\(step)") }

    /// The sampling stream of group `group` (in the step's draw order) of step `step` (0-based).
    public static func groupRNG(seed: UInt64, step: Int, group: Int) -> RNG {
        RNG(seed: seed).fork("grpo-step-\(step)-group-\(group)")
    }

    /// `count` tasks, each from an environment drawn by weight (the step's prompts, and the
    /// replacements dynamic sampling draws from the same stream).
    public static func drawTasks(_ environments: [WeightedEnvironment], count: Int, toolsOverride: [Tool]?,
                                 _ rng: inout RNG) -> [EnvTask] {
        let totalWeight = environments.reduce(0) { $0 + $1.weight }
        return (0..<count).map { _ in
            var u = rng.nextDouble() * totalWeight
            var chosen = environments[environments.count - 1].environment
            for e in environments {
                u -= e.weight
                if u < 0 { chosen = e.environment; break }
            }
            var task = chosen.sample(&rng)
            if let tools = toolsOverride { task.tools = tools }
            return task
        }
    }

    public static func train(
        policy: Transformer, reference: Transformer?, tokenizer: Tokenizer,
        environments: [WeightedEnvironment], rewards: RewardSet, tools: ToolExecutor?,
        parameters p: GRPO.Parameters, seed: UInt64, faults: FaultPlan = .none,
        collective: any Collective = SingleProcess.shared, curriculum: Curriculum? = nil,
        checkpointDirectory: URL, resume: Bool, progress: StepHandler
    ) throws -> TrainingSummary {
        guard !environments.isEmpty else { throw TrainingError.invalidParameter("grpo: no environments") }
        if let problem = p.problems().first {
            throw TrainingError.invalidParameter("grpo: \(problem.key.stringValue) \(problem.message)")
        }
        if p.beta > 0 && reference == nil { throw TrainingError.invalidParameter("grpo: beta > 0 needs a reference model") }
        let optimizer = AdamW(layout: policy.layout, parameters: p.adamW)
        let loop = StageLoop(stage: "grpo", steps: p.steps, checkpointEvery: p.checkpointEvery, seed: seed, faults: faults,
                             collective: collective)
        let restored = try loop.restore(model: policy, optimizer: optimizer, from: checkpointDirectory, resume: resume)
        let run = GRPORun(policy: policy, reference: reference, optimizer: optimizer, tokenizer: tokenizer,
                          environments: environments, rewards: rewards, tools: tools, parameters: p, seed: seed,
                          collective: collective, curriculum: curriculum)
        var lastMetrics: [String: Double] = [:]
        var storageSeconds = 0.0
        var tier = try restored?.extra("curriculum_tier", as: Int.self) ?? 0
        var recent = try restored?.extra("curriculum_recent", as: [Double].self) ?? []
        let outcome = try loop.run(model: policy, optimizer: optimizer, tokenizer: tokenizer, directory: checkpointDirectory,
                                   from: restored?.step ?? 0, state: { step in
            var state = TrainerState(step: step, dataCursor: ["step": step])
            if curriculum != nil {
                try? state.setExtra("curriculum_tier", tier)
                try? state.setExtra("curriculum_recent", recent)
            }
            return state
        }) { step, resumedFrom, due in
            let began = ContinuousClock.now, traffic = collective.traffic
            let batch = run.rollouts(step: step, tier: tier)
            let advantages = GRPORun.advantages(batch, parameters: p)
            var metrics = run.update(batch, advantages, step: step)
            metrics.merge(GRPORun.statistics(batch, advantages)) { _, new in new }
            metrics["time/storage"] = storageSeconds
            if let c = curriculum {
                metrics["curriculum/tier"] = Double(tier)
                let scores = batch.groups.filter { $0.task.environment == c.environment }.flatMap(\.scores).filter { !$0.failed }
                if !scores.isEmpty {
                    recent.append(Double(scores.filter { $0.verdict?.kind == .correct }.count) / Double(scores.count))
                    if recent.count > c.window { recent.removeFirst() }
                }
                let rolling = recent.reduce(0, +) / Double(max(1, recent.count))
                metrics["curriculum/accuracy"] = rolling
                if recent.count == c.window && rolling >= c.threshold && tier + 1 < c.tiers.count {
                    tier += 1
                    recent = []
                }
            }
            if collective.isDistributed {
                let spent = collective.traffic - traffic
                metrics["time/communication"] = spent.seconds
                metrics["communication_bytes"] = Double(spent.bytes)
            }
            if collective.isLeader { run.evaluate(step: step, into: &metrics) }
            metrics["time/step"] = (ContinuousClock.now - began).seconds
            lastMetrics = metrics
            let report = StepReport(progress: TrainingProgress(stage: "grpo", step: step, totalSteps: p.steps, metrics: metrics,
                                                               elapsedSeconds: run.elapsed, resumedFromStep: resumedFrom,
                                                               checkpointDue: due),
                                    rollouts: run.scored(batch, advantages))
            let t = ContinuousClock.now
            let keepGoing = try progress(report)
            storageSeconds = (ContinuousClock.now - t).seconds
            return keepGoing
        }
        return TrainingSummary(steps: outcome.completed, finalMetrics: lastMetrics, stopped: outcome.stopped)
    }
}

/// One GRPO run's fixed parts (engine, environments, rewards) and its step phases.
struct GRPORun {
    /// A step's kept groups: each task with its rollouts and their reward breakdowns.
    struct Batch {
        var groups: [(task: EnvTask, rollouts: [Rollout], scores: [RewardBreakdown])] = []
        var zeroSpreadGroups = 0, totalGroups = 0, rounds = 0
        var generationSeconds = 0.0, rewardSeconds = 0.0
        /// Drawn tasks whose prompt left no room to answer, replaced by further draws.
        var skippedPrompts = 0
    }

    /// Per kept group, per rollout: its advantage, or nil when it is left out of the update.
    typealias Advantages = [[Double?]]

    let policy: Transformer, reference: Transformer?, optimizer: AdamW, tokenizer: Tokenizer
    let environments: [GRPOTrainer.WeightedEnvironment]
    let rewards: RewardSet
    let tools: ToolExecutor?
    let p: GRPO.Parameters
    let seed: UInt64
    let collective: any Collective
    let curriculum: GRPOTrainer.Curriculum?
    let engine: Engine
    /// The longest prompt the engine can answer (its context less one token).
    let promptLimit: Int
    let began = ContinuousClock.now

    init(policy: Transformer, reference: Transformer?, optimizer: AdamW, tokenizer: Tokenizer,
         environments: [GRPOTrainer.WeightedEnvironment], rewards: RewardSet, tools: ToolExecutor?,
         parameters: GRPO.Parameters, seed: UInt64, collective: any Collective = SingleProcess.shared,
         curriculum: GRPOTrainer.Curriculum? = nil) {
        self.policy = policy; self.reference = reference; self.optimizer = optimizer; self.tokenizer = tokenizer
        self.environments = environments; self.rewards = rewards; self.tools = tools; self.p = parameters; self.seed = seed
        self.collective = collective
        self.curriculum = curriculum
        let longestPrompt = environments.flatMap(\.heldOut).map { (try? tokenizer.renderForCompletion($0.prompt).count) ?? 0 }.max() ?? 0
        let maxLength = min(policy.config.maxSeqLen, max(longestPrompt, 256) + parameters.maxCompletionLength)
        engine = Engine(model: policy, sequences: parameters.promptsPerStep * parameters.numGenerations, maxLength: maxLength)
        promptLimit = maxLength - 1
    }

    /// `drawTasks`, with every task whose prompt does not fit the engine replaced by the next
    /// draw (counted in `batch.skippedPrompts`): a rare overlong training prompt is skipped, not a
    /// crash. The draws are `drawTasks`' own, so runs without such prompts are unchanged.
    func drawFitting(_ environments: [GRPOTrainer.WeightedEnvironment], count: Int, _ rng: inout RNG, _ batch: inout Batch) -> [EnvTask] {
        var out: [EnvTask] = []
        var skipped = 0
        while out.count < count {
            let task = GRPOTrainer.drawTasks(environments, count: 1, toolsOverride: p.tools, &rng)[0]
            let length = (try? tokenizer.renderForCompletion(task.prompt).count) ?? Int.max
            if length <= promptLimit {
                out.append(task)
                continue
            }
            skipped += 1
            precondition(skipped <= 64 * count, "grpo: \(skipped) training prompts in a row leave no room to answer in "
                         + "\(promptLimit + 1) tokens; raise model.max_seq_len or shorten the environment's tasks")
        }
        batch.skippedPrompts += skipped
        return out
    }

    var elapsed: Double { (ContinuousClock.now - began).seconds }

    /// The step's environments: the curriculum's environment at `tier` in place of its own.
    func environments(tier: Int) -> [GRPOTrainer.WeightedEnvironment] {
        guard let c = curriculum, c.tiers.indices.contains(tier) else { return environments }
        return environments.map { e in
            guard e.environment.name == c.environment else { return e }
            return GRPOTrainer.WeightedEnvironment(environment: c.tiers[tier], weight: e.weight, heldOut: e.heldOut)
        }
    }

    /// Generation and rewards, with dynamic sampling's resample rounds.
    func rollouts(step: Int, tier: Int = 0) -> Batch {
        let environments = self.environments(tier: tier)
        let byName = Dictionary(environments.map { ($0.environment.name, $0.environment) }, uniquingKeysWith: { a, _ in a })
        var rng = GRPOTrainer.stepRNG(seed: seed, step: step - 1)
        var sampling = p.sampling
        sampling.stopTokens = [tokenizer.endOfTurnID]
        var batch = Batch()
        var pending = drawFitting(environments, count: p.promptsPerStep, &rng, &batch)
        var drawn = 0  // groups drawn before this round (their index names their sampling stream)
        while !pending.isEmpty {
            let mine = collective.share(of: pending.count)
            var streams = mine.map { GRPOTrainer.groupRNG(seed: seed, step: step - 1, group: drawn + $0) }
            let t0 = ContinuousClock.now
            let tasks = Array(pending[mine])
            let generated = Rollouts.generate(engine: engine, tokenizer: tokenizer, tasks: tasks, samplesPerTask: p.numGenerations,
                                              sampling: sampling, tools: tools, streams: &streams)
            let t1 = ContinuousClock.now
            let inputs = zip(tasks, generated).flatMap { task, group in
                group.map { $0.rewardInput(task: task, verdict: nil, maxCompletionTokens: p.maxCompletionLength) }
            }
            let scored = rewards.score(batch: inputs) { byName[$0.environment] }
            batch.generationSeconds += (t1 - t0).seconds
            batch.rewardSeconds += (ContinuousClock.now - t1).seconds
            let (rollouts, scores) = exchange(generated, scored)
            drawn += pending.count
            var dropped = 0
            for (i, task) in pending.enumerated() {
                let groupScores = Array(scores[(i * p.numGenerations)..<((i + 1) * p.numGenerations)])
                let totals = groupScores.filter { !$0.failed }.map(\.total)
                batch.totalGroups += 1
                let flat = totals.allSatisfy { $0 == totals.first }
                if flat { batch.zeroSpreadGroups += 1 }
                if flat && p.dynamicSampling && batch.rounds < p.maxResampleRounds {
                    dropped += 1
                } else {
                    batch.groups.append((task, rollouts[i], groupScores))
                }
            }
            batch.rounds += 1
            pending = dropped > 0 ? drawFitting(environments, count: dropped, &rng, &batch) : []
        }
        return batch
    }

    /// Every rank's share of a round (its groups' rollouts and scores, groups in order), joined in
    /// rank order: the whole round on every rank. One process returns its own.
    func exchange(_ rollouts: [[Rollout]], _ scores: [RewardBreakdown]) -> ([[Rollout]], [RewardBreakdown]) {
        guard collective.isDistributed else { return (rollouts, scores) }
        struct Share: Codable { var rollouts: [[Rollout]]; var scores: [RewardBreakdown] }
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            let mine = try encoder.encode(Share(rollouts: rollouts, scores: scores))
            let shares = try collective.gather(Array(mine)).map { try decoder.decode(Share.self, from: Data($0)) }
            return (shares.flatMap(\.rollouts), shares.flatMap(\.scores))
        } catch {
            collective.abort("grpo: the ranks could not exchange their rollouts: \(error)")
        }
    }

    /// Advantages over each group's scored rollouts (GRPO.advantages on the scored ones only);
    /// nil for a failed rollout and for every rollout of a group with fewer than two scored.
    static func advantages(_ batch: Batch, parameters p: GRPO.Parameters) -> Advantages {
        var rewards: [Double] = [], labels: [Int] = [], slots: [(Int, Int)] = []
        for (g, group) in batch.groups.enumerated() {
            let scored = group.scores.indices.filter { !group.scores[$0].failed }
            guard scored.count >= 2 else { continue }
            for i in scored {
                rewards.append(group.scores[i].total)
                labels.append(g)
                slots.append((g, i))
            }
        }
        let values = GRPO.advantages(rewards: rewards, groups: labels, parameters: p)
        var out: Advantages = batch.groups.map { Array(repeating: nil, count: $0.rollouts.count) }
        for ((g, i), a) in zip(slots, values) { out[g][i] = a }
        return out
    }

    /// The policy update on the rollouts that have an advantage.
    func update(_ batch: Batch, _ advantages: Advantages, step: Int) -> [String: Double] {
        var samples: [GRPO.Sample] = [], values: [Double] = []
        for (g, group) in batch.groups.enumerated() {
            for (i, (r, score)) in zip(group.rollouts, group.scores).enumerated() {
                guard let a = advantages[g][i] else { continue }
                samples.append(GRPO.Sample(group: g, promptIDs: r.promptIDs, completionIDs: r.tokens, lossMask: r.lossMask,
                                           reward: score.total, truncated: r.finishReason == .length))
                values.append(a)
            }
        }
        let lr = p.schedule.lr(step: step - 1, peak: Float(p.learningRate))
        let t = ContinuousClock.now
        var metrics = samples.isEmpty
            ? ["learning_rate": Double(lr), "optimizer_steps": 0]
            : GRPO.optimize(policy: policy, reference: reference, optimizer: optimizer, samples: samples, advantages: values,
                            parameters: p, learningRate: lr, microBatch: p.microBatch, collective: collective)
        metrics["time/training"] = (ContinuousClock.now - t).seconds
        return metrics
    }

    /// The step's rollout statistics (DESIGN.md §7's list), timings and failure counts; with
    /// the advantages, the groups left out of the update.
    static func statistics(_ batch: Batch, _ advantages: Advantages? = nil) -> [String: Double] {
        var metrics: [String: Double] = [:]
        let allScores = batch.groups.flatMap(\.scores), allRollouts = batch.groups.flatMap(\.rollouts)
        let totals = allScores.filter { !$0.failed }.map(\.total)
        metrics["reward"] = totals.reduce(0, +) / Double(max(1, totals.count))
        metrics["reward_std"] = GRPO.sampleStd(totals)
        for name in Set(allScores.flatMap { $0.entries.map(\.name) }) {
            let entries = allScores.compactMap { $0.entries.first { $0.name == name } }
            let values = entries.compactMap(\.value)
            metrics["rewards/\(name)"] = values.reduce(0, +) / Double(max(1, values.count))
            metrics["reward_failures/\(name)"] = Double(entries.count - values.count)
        }
        metrics["reward_failures"] = Double(allScores.filter(\.failed).count)
        if let advantages { metrics["groups_dropped"] = Double(advantages.filter { $0.allSatisfy { $0 == nil } }.count) }
        metrics["frac_zero_std_groups"] = Double(batch.zeroSpreadGroups) / Double(max(1, batch.totalGroups))
        metrics["resample_rounds"] = Double(batch.rounds - 1)
        if batch.skippedPrompts > 0 { metrics["skipped_long_prompts"] = Double(batch.skippedPrompts) }
        let lengths = allRollouts.map { Double($0.sampledTokenCount) }
        metrics["completion_length"] = lengths.reduce(0, +) / Double(max(1, lengths.count))
        metrics["completion_length_min"] = lengths.min() ?? 0
        metrics["completion_length_max"] = lengths.max() ?? 0
        metrics["clipped_ratio"] = Double(allRollouts.filter { $0.finishReason == .length }.count) / Double(max(1, allRollouts.count))
        let calls = allRollouts.flatMap(\.toolCalls)
        metrics["tool_calls"] = Double(calls.count)
        metrics["tool_failures"] = Double(calls.filter { $0.failure != nil }.count)
        metrics["sandbox_failures"] = Double(allScores.flatMap(\.entries).filter { $0.failure?.execution != nil }.count)
        let generated = allRollouts.reduce(0) { $0 + $1.tokens.count }
        metrics["time/generation"] = batch.generationSeconds
        metrics["time/reward"] = batch.rewardSeconds
        metrics["generation_tokens_per_second"] = Double(generated) / max(batch.generationSeconds, 1e-9)
        return metrics
    }

    /// Held-out accuracy (and pass@k) every `evalEvery` steps and after the last.
    func evaluate(step: Int, into metrics: inout [String: Double]) {
        guard p.evalEvery > 0 && (step % p.evalEvery == 0 || step == p.steps) else { return }
        for e in environments where !e.heldOut.isEmpty {
            var tasks = Array(e.heldOut.prefix(p.evalTasks))
            if let override = p.tools { for i in tasks.indices { tasks[i].tools = override } }
            let result = Evaluation.run(model: policy, tokenizer: tokenizer, environment: e.environment, tasks: tasks, tools: tools,
                                        parameters: Evaluation.Parameters(
                                            tasks: tasks.count, samples: p.evalSamples, ks: p.evalSamples > 1 ? [1, p.evalSamples] : [1],
                                            temperature: p.samplingTemperature, maxNewTokens: p.maxCompletionLength, seed: seed))
            metrics["eval/\(e.environment.name)/accuracy"] = result.greedyAccuracy
            for (k, v) in result.passAtK { metrics["eval/\(e.environment.name)/pass@\(k)"] = v }
        }
    }

    /// Every rollout of the batch with its rewards and advantage, for the store.
    func scored(_ batch: Batch, _ advantages: Advantages) -> [GRPOTrainer.ScoredRollout] {
        batch.groups.enumerated().flatMap { g, group in
            zip(group.rollouts, group.scores).enumerated().map { i, pair in
                GRPOTrainer.ScoredRollout(group: g, sample: i, task: group.task, rollout: pair.0, rewards: pair.1,
                                          advantage: advantages[g][i])
            }
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
