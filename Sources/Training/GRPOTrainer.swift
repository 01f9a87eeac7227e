// GRPOTrainer: the `grpo` stage loop around the objective in GRPO.swift.
//
// One step (DESIGN.md §1):
//   tasks   = prompts_per_step tasks drawn from the environments by weight, with an RNG derived
//             from (seed, step) only, so a resumed run draws exactly what the uninterrupted one did
//   rollouts = Rollouts.generate: every task's prompt prefilled once, num_generations samples
//             per task, all sequences decoded together, tool calls run and their output forced
//   rewards = RewardSet over each rollout (the verifier runs once per rollout, in a batch)
//   dynamic sampling (optional, DAPO): groups whose rewards are all equal carry no signal; they
//             are dropped and replaced by fresh tasks, up to max_resample_rounds rounds
//   advantages + GRPO.optimize (clipped surrogate, k3 KL against the frozen reference, AdamW)
// Every step reports its metrics and every rollout through the progress callback; the caller
// stores them (one transaction per step). Time is split into generation, reward, training
// and storage (the callback's own time, measured here), all four logged.
//
// Shortcuts: the reference model is the stage's starting checkpoint, frozen; the engine reads
// the live policy weights (no separate sampler copy), so sampling is exactly on-policy; held-out
// evaluation during the run is greedy accuracy on `evalTasks` fixed tasks per environment.

import Foundation
import Model
import PonderCore
import Rewards
import Tokenization

public enum GRPOTrainer {
    public struct Settings: Sendable {
        public var steps: Int
        public var promptsPerStep: Int
        public var numGenerations: Int
        public var sampling: SamplingParameters
        public var learningRate: Float
        public var schedule: LRSchedule
        public var adamW: AdamWParameters
        public var objective: GRPO.Parameters
        public var dynamicSampling: Bool
        public var maxResampleRounds: Int
        public var evalEvery: Int
        public var evalTasks: Int
        /// Samples per held-out task for pass@k (k = 1 and this) during the run; 0 = greedy only.
        public var evalSamples: Int
        /// Tools every task may call, replacing each environment's own list; nil keeps them.
        public var toolsOverride: [Tool]?
        public var checkpointEvery: Int
        public var microBatch: Int
        public var seed: UInt64

        public init(steps: Int, promptsPerStep: Int, numGenerations: Int, sampling: SamplingParameters,
                    learningRate: Float, schedule: LRSchedule, adamW: AdamWParameters, objective: GRPO.Parameters,
                    dynamicSampling: Bool = false, maxResampleRounds: Int = 3, evalEvery: Int = 0, evalTasks: Int = 50,
                    evalSamples: Int = 0, toolsOverride: [Tool]? = nil,
                    checkpointEvery: Int = 50, microBatch: Int = 8, seed: UInt64 = 0) {
            self.steps = steps; self.promptsPerStep = promptsPerStep; self.numGenerations = numGenerations
            self.sampling = sampling; self.learningRate = learningRate; self.schedule = schedule; self.adamW = adamW
            self.objective = objective; self.dynamicSampling = dynamicSampling; self.maxResampleRounds = maxResampleRounds
            self.evalEvery = evalEvery; self.evalTasks = evalTasks; self.checkpointEvery = checkpointEvery
            self.evalSamples = evalSamples; self.toolsOverride = toolsOverride
            self.microBatch = microBatch; self.seed = seed
        }
    }

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
        public var advantage: Double
    }

    public struct StepReport {
        public var progress: TrainingProgress
        public var rollouts: [ScoredRollout]
    }

    /// The random stream of step `step` (0-based): a function of (seed, step) only, so a
    /// resumed run draws what the uninterrupted one did.
    public static func stepRNG(seed: UInt64, step: Int) -> RNG { RNG(seed: seed).fork("grpo-step-\(step)") }

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

    /// Returns false to stop (a checkpoint is saved first). The time it takes is logged as
    /// the next step's `time/storage`.
    public typealias StepHandler = (StepReport) -> Bool

    public static func train(
        policy: Transformer, reference: Transformer?, tokenizer: Tokenizer,
        environments: [WeightedEnvironment], rewards: RewardSet, tools: ToolExecutor?,
        settings s: Settings, checkpointDirectory: URL, resume: Bool, progress: StepHandler
    ) throws -> TrainingSummary {
        guard !environments.isEmpty else { throw TrainingError.invalidParameter("grpo: no environments") }
        for problem in s.objective.problems() { throw TrainingError.invalidParameter("grpo: \(problem)") }
        if s.objective.beta > 0 && reference == nil {
            throw TrainingError.invalidParameter("grpo: beta > 0 needs a reference model")
        }
        let optimizer = AdamW(layout: policy.layout, parameters: s.adamW)
        var start = 0
        if resume, let state = try TrainingCheckpoint.restore(model: policy, optimizer: optimizer, stage: "grpo", from: checkpointDirectory) {
            start = state.step
        }
        let groups = s.promptsPerStep * s.numGenerations
        let longestPrompt = environments.flatMap(\.heldOut).map { (try? tokenizer.renderForCompletion($0.prompt).count) ?? 0 }.max() ?? 0
        let maxLength = min(policy.config.maxSeqLen, max(longestPrompt, 256) + s.sampling.maxNewTokens)
        let engine = Engine(model: policy, sequences: groups, maxLength: maxLength)
        let byName = Dictionary(environments.map { ($0.environment.name, $0.environment) }, uniquingKeysWith: { a, _ in a })
        let clock = ContinuousClock()
        let began = clock.now
        var storageSeconds = 0.0
        var lastMetrics: [String: Double] = [:]

        func drawTasks(_ count: Int, _ rng: inout RNG) -> [EnvTask] {
            GRPOTrainer.drawTasks(environments, count: count, toolsOverride: s.toolsOverride, &rng)
        }

        if start >= s.steps { return TrainingSummary(steps: start, finalMetrics: [:], stopped: false) }
        for step in start..<s.steps {
            var rng = stepRNG(seed: s.seed, step: step)
            var metrics: [String: Double] = [:]

            // Generation and rewards, with dynamic sampling's resample rounds.
            var tGeneration = 0.0, tReward = 0.0
            var kept: [(task: EnvTask, rollouts: [Rollout], scores: [RewardBreakdown])] = []
            var zeroSpreadGroups = 0, totalGroups = 0, rounds = 0
            var pendingTasks = drawTasks(s.promptsPerStep, &rng)
            while !pendingTasks.isEmpty {
                let t0 = clock.now
                let rollouts = Rollouts.generate(engine: engine, tokenizer: tokenizer, tasks: pendingTasks,
                                                 samplesPerTask: s.numGenerations, sampling: s.sampling, tools: tools, rng: &rng)
                let t1 = clock.now
                let inputs = zip(pendingTasks, rollouts).flatMap { task, group in
                    group.map { $0.rewardInput(task: task, verdict: nil, maxCompletionTokens: s.sampling.maxNewTokens) }
                }
                let scores = rewards.score(batch: inputs) { byName[$0.environment] }
                tGeneration += (t1 - t0).seconds
                tReward += (clock.now - t1).seconds
                var dropped = 0
                for (i, task) in pendingTasks.enumerated() {
                    let groupScores = Array(scores[(i * s.numGenerations)..<((i + 1) * s.numGenerations)])
                    let totals = groupScores.map(\.total)
                    totalGroups += 1
                    let flat = totals.allSatisfy { $0 == totals[0] }
                    if flat { zeroSpreadGroups += 1 }
                    if flat && s.dynamicSampling && rounds < s.maxResampleRounds {
                        dropped += 1
                    } else {
                        kept.append((task, rollouts[i], groupScores))
                    }
                }
                rounds += 1
                pendingTasks = dropped > 0 ? drawTasks(dropped, &rng) : []
            }

            // Advantages and the policy update.
            var samples: [GRPO.Sample] = []
            for (g, group) in kept.enumerated() {
                for (r, score) in zip(group.rollouts, group.scores) {
                    samples.append(GRPO.Sample(group: g, promptIDs: r.promptIDs, completionIDs: r.tokens, lossMask: r.lossMask,
                                               reward: score.total, truncated: r.finishReason == .length))
                }
            }
            let advantages = GRPO.advantages(rewards: samples.map(\.reward), groups: samples.map(\.group), parameters: s.objective)
            let lr = s.schedule.lr(step: step, peak: s.learningRate)
            let t2 = clock.now
            let optimizeMetrics = GRPO.optimize(policy: policy, reference: reference, optimizer: optimizer, samples: samples,
                                                advantages: advantages, parameters: s.objective, learningRate: lr,
                                                microBatch: s.microBatch)
            let tTraining = (clock.now - t2).seconds
            metrics.merge(optimizeMetrics) { _, new in new }

            // Rollout statistics.
            let allScores = kept.flatMap(\.scores), allRollouts = kept.flatMap(\.rollouts)
            let totals = allScores.map(\.total)
            let meanReward = totals.reduce(0, +) / Double(max(1, totals.count))
            metrics["reward"] = meanReward
            metrics["reward_std"] = GRPO.sampleStd(totals)
            for name in Set(allScores.flatMap { $0.entries.map(\.name) }) {
                let values = allScores.compactMap { $0.entries.first { $0.name == name }?.value }
                metrics["rewards/\(name)"] = values.reduce(0, +) / Double(max(1, values.count))
            }
            metrics["reward_failures"] = Double(allScores.filter(\.failed).count)
            metrics["frac_zero_std_groups"] = Double(zeroSpreadGroups) / Double(max(1, totalGroups))
            metrics["resample_rounds"] = Double(rounds - 1)
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
            metrics["time/generation"] = tGeneration
            metrics["time/reward"] = tReward
            metrics["time/training"] = tTraining
            metrics["time/storage"] = storageSeconds
            metrics["generation_tokens_per_second"] = Double(generated) / max(tGeneration, 1e-9)
            metrics["learning_rate"] = Double(lr)

            // Held-out evaluation.
            if s.evalEvery > 0 && ((step + 1) % s.evalEvery == 0 || step + 1 == s.steps) {
                for e in environments where !e.heldOut.isEmpty {
                    var tasks = Array(e.heldOut.prefix(s.evalTasks))
                    if let override = s.toolsOverride { for i in tasks.indices { tasks[i].tools = override } }
                    let result = Evaluation.run(model: policy, tokenizer: tokenizer, environment: e.environment, tasks: tasks,
                                                tools: tools, parameters: Evaluation.Parameters(
                                                    tasks: tasks.count, samples: s.evalSamples, ks: s.evalSamples > 1 ? [1, s.evalSamples] : [1],
                                                    temperature: s.sampling.temperature, maxNewTokens: s.sampling.maxNewTokens, seed: s.seed))
                    metrics["eval/\(e.environment.name)/accuracy"] = result.greedyAccuracy
                    for (k, v) in result.passAtK { metrics["eval/\(e.environment.name)/pass@\(k)"] = v }
                }
            }

            // Checkpoint, then report.
            let last = step + 1 == s.steps
            var saved = false
            if last || (s.checkpointEvery > 0 && (step + 1) % s.checkpointEvery == 0) {
                var state = TrainerState(step: step + 1)
                state.extras["stage"] = .string("grpo")
                try TrainingCheckpoint.save(model: policy, optimizer: optimizer, state: state, tokenizer: tokenizer, to: checkpointDirectory)
                saved = true
            }
            var scored: [ScoredRollout] = []
            var offset = 0
            for (g, group) in kept.enumerated() {
                for (i, (r, score)) in zip(group.rollouts, group.scores).enumerated() {
                    scored.append(ScoredRollout(group: g, sample: i, task: group.task, rollout: r, rewards: score,
                                                advantage: advantages[offset + i]))
                }
                offset += group.rollouts.count
            }
            lastMetrics = metrics
            let report = StepReport(progress: TrainingProgress(stage: "grpo", step: step + 1, totalSteps: s.steps, metrics: metrics,
                                                               elapsedSeconds: (clock.now - began).seconds,
                                                               resumedFromStep: start, checkpointSaved: saved),
                                    rollouts: scored)
            let t3 = clock.now
            let keepGoing = progress(report)
            storageSeconds = (clock.now - t3).seconds
            if !keepGoing {
                if !saved {
                    var state = TrainerState(step: step + 1)
                    state.extras["stage"] = .string("grpo")
                    try TrainingCheckpoint.save(model: policy, optimizer: optimizer, state: state, tokenizer: tokenizer, to: checkpointDirectory)
                }
                return TrainingSummary(steps: step + 1, finalMetrics: metrics, stopped: true)
            }
        }
        return TrainingSummary(steps: s.steps, finalMetrics: lastMetrics, stopped: false)
    }
}

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
