// The runner's RLHF stages (Runner.swift's contract: resumable, one store transaction per step).
//
//   reward_model  preference pairs (train split; held-out pairs from the validation split) are
//                 built from the latest checkpoint (the SFT model, usually) and stored in
//                 preference_pairs; then each ensemble member is that checkpoint plus a scalar
//                 head, trained on its own data order (seed + member). One member is saved in
//                 runs/NAME/STAGE/, several in STAGE/member-K/ with STAGE/ensemble.json. Members'
//                 steps follow one another in the run's metrics (member K's step s is K * steps
//                 + s). The policy's latest checkpoint is unchanged: later stages name the reward
//                 model through the `reward_model` reward's `stage:` parameter.
//   dpo           pairs as above, then DPO from the latest checkpoint against a frozen copy.
//   ppo           PPO from the latest checkpoint (frozen copy as the reference) on the stage's
//                 rewards, with rollouts stored as GRPO's are.
// A frozen copy holds no gradients, and with `reference_dtype: bfloat16` its weights in BF16
// (Checkpoint.loadFrozen): 2 bytes a parameter instead of 8.
// Pair building is deterministic (seed, stage name), so a resumed stage rebuilds the same pairs.
// `from: STAGE` starts a stage from that earlier stage's checkpoint instead of the latest (a
// sweep of PPO runs from one SFT model); `preferences.from: STAGE` reuses that stage's
// noise-free pairs (a prefix of them, with this stage's own label noise); `layers: K` keeps the
// first K blocks of the reward model's starting checkpoint (a smaller reward model).

import Environments
import Foundation
import Judge
import Model
import PonderCore
import Rewards
import Storage
import Tokenization
import Training

extension ExperimentRunner {
    /// How many tasks pair building may draw per pair wanted before giving up.
    static let tasksPerPair = 8

    /// The task stream preference building draws from: `split` tasks of the chosen environments
    /// in turn, from the stream of (seed, label).
    static func preferenceTasks(_ envs: [LabEnvironment], split: Split, seed: UInt64, label: String) -> (Int) -> [EnvTask] {
        var rng = RNG(seed: seed).fork(label)
        var turn = 0
        let views = envs.map { $0.view(split) }
        return { n in
            (0..<n).map { _ in
                defer { turn += 1 }
                return views[turn % views.count].sample(&rng)
            }
        }
    }

    /// The preference pairs of a stage: (train, validation), the training labels flipped at the
    /// stage's `noise` rate. Built pairs are kept noise-free for stages that reuse them.
    func preferencePairs(_ s: PreferenceSettings, stage: String, model: Transformer, tokenizer tok: Tokenizer) throws -> (train: [PreferencePair], validation: [PreferencePair]) {
        var pairs: (train: [PreferencePair], validation: [PreferencePair])
        if s.from.isEmpty {
            pairs = try buildPairs(s, stage: stage, model: model, tokenizer: tok)
            pairCache[stage] = pairs
        } else {
            let built = try builtPairs(of: s.from, tokenizer: tok)
            pairs = (Array(built.train.prefix(s.pairs)), Array(built.validation.prefix(s.validationPairs)))
            if pairs.train.count < s.pairs {
                report(.note("\(stage): stage \(s.from) built \(built.train.count) training pairs, fewer than the \(s.pairs) asked for"))
            }
        }
        var noise = RNG(seed: config.seed).fork("\(stage)/preferences/noise")
        pairs.train = Preferences.addNoise(pairs.train, rate: s.noise, &noise)
        return pairs
    }

    /// The noise-free pairs an earlier stage built: from memory, or rebuilt (deterministically,
    /// from that stage's settings and starting checkpoint) when it completed in an earlier process.
    func builtPairs(of name: String, tokenizer: Tokenizer) throws -> (train: [PreferencePair], validation: [PreferencePair]) {
        if let cached = pairCache[name] { return cached }
        guard let index = config.stages.firstIndex(where: { $0.name == name }) else { throw RunnerError("no stage \(name)") }
        let (settings, from): (PreferenceSettings, String)
        switch config.stages[index] {
        case .rewardModel(let s): (settings, from) = (s.preferences, s.from)
        case .dpo(let s): (settings, from) = (s.preferences, s.from)
        default: throw RunnerError("stage \(name) builds no preference pairs")
        }
        // Its starting checkpoint: its `init_from:` or `from:`, else the last checkpoint written before it.
        let initFrom = config.stages[index].initFrom
        let start = from.isEmpty ? config.stages[..<index].last(where: Self.writesCheckpoint)?.name : from
        guard let dir = initFrom.isEmpty ? start.flatMap({ checkpoints[$0] }) : URL(fileURLWithPath: initFrom).standardizedFileURL else {
            throw RunnerError("stage \(name): no checkpoint to rebuild its pairs from")
        }
        report(.note("rebuilding the preference pairs of stage \(name) (it completed in an earlier run)"))
        let (model, _) = try Checkpoint.load(from: dir)
        let built = try buildPairs(settings, stage: name, model: model, tokenizer: tokenizer)
        pairCache[name] = built
        return built
    }

    /// New pairs from the stage's source, before label noise.
    func buildPairs(_ s: PreferenceSettings, stage: String, model: Transformer, tokenizer tok: Tokenizer) throws -> (train: [PreferencePair], validation: [PreferencePair]) {
        let chosen = s.environments.isEmpty ? envs : envs.filter { s.environments.contains($0.environment.name) }
        let byName = Dictionary(chosen.map { ($0.environment.name, $0.environment) }, uniquingKeysWith: { a, _ in a })
        switch s.source {
        case .file:
            let train = try Preferences.read(file: URL(fileURLWithPath: s.file))
            let validation = s.validationFile.isEmpty ? [] : try Preferences.read(file: URL(fileURLWithPath: s.validationFile))
            return (Array(train.prefix(s.pairs)), Array(validation.prefix(s.validationPairs)))
        case .synthetic:
            func build(_ split: Split, _ count: Int) -> [PreferencePair] {
                let label = "\(stage)/preferences/\(split.rawValue)"
                let next = Self.preferenceTasks(chosen, split: split, seed: config.seed, label: label)
                // The wrong answers' tasks: the same environment's, from a stream of their own.
                let views = Dictionary(chosen.map { ($0.environment.name, $0.view(split)) }, uniquingKeysWith: { a, _ in a })
                var others = RNG(seed: config.seed).fork(label + "/others")
                var out: [PreferencePair] = []
                var kind = 0, tries = 0
                while out.count < count && tries < count * Self.tasksPerPair {
                    let task = next(1)[0]
                    tries += 1
                    guard let env = byName[task.environment], let view = views[task.environment] else { continue }
                    let other = view.sample(&others)
                    if let p = Preferences.synthetic(s.kinds[kind % s.kinds.count], task: task, other: other, environment: env) {
                        out.append(p)
                    }
                    kind += 1
                }
                return out
            }
            return (build(.train, s.pairs), build(.validation, s.validationPairs))
        case .verifier, .judge:
            var scorer: Preferences.AnswerScorer?
            if s.source == .judge {
                let spec = RewardSpec(name: "judge", params: s.judge)
                let (judge, server) = try spec.judgeConfig().makeJudge(store: store)
                let reward = JudgeReward(judge: judge, server: server)  // keeps a started server alive while it scores
                scorer = { tasks, answers in
                    let inputs = zip(tasks, answers).flatMap { task, group in group.map { RewardInput(task: task, completion: $0) } }
                    var results = reward.score(batch: inputs).map { try? $0.get() }[...]
                    return answers.map { group in group.map { _ in results.removeFirst() } }
                }
            }
            let sampling = SamplingParameters(temperature: Float(s.temperature), topK: 0, topP: 1, maxNewTokens: s.maxNewTokens)
            let tools = RunnerData.tools(envs)
            func build(_ split: Split, _ count: Int) -> [PreferencePair] {
                let label = "\(stage)/preferences/\(split.rawValue)"
                return Preferences.fromSamples(model: model, tokenizer: tok, count: count, samples: s.samples, sampling: sampling, tools: tools,
                                               environments: byName, seed: config.seed, label: label, source: s.source.rawValue,
                                               maxTasks: count * Self.tasksPerPair,
                                               nextTasks: Self.preferenceTasks(chosen, split: split, seed: config.seed, label: label),
                                               scorer: scorer).pairs
            }
            let train = build(.train, s.pairs)
            let validation = s.validationPairs > 0 ? build(.validation, s.validationPairs) : []
            if train.count < s.pairs {
                report(.note("\(stage): found \(train.count) of \(s.pairs) training pairs in \(s.pairs * Self.tasksPerPair) prompts "
                             + "(a prompt gives a pair only when its \(s.samples) answers differ in label)"))
            }
            return (train, validation)
        }
    }

    /// How an answer reads in the store: its turn as the model would write it.
    static func answerText(_ prompt: Conversation, _ answer: Message, tokenizer: Tokenizer) -> String {
        guard let r = try? PreferencePair.render(prompt, answer, tokenizer: tokenizer) else { return answer.plainText }
        return tokenizer.decode(Array(r.ids[r.promptLength...]))
    }

    /// The pairs whose two answers fit the model's context (the others are dropped, with a note).
    func fitting(_ pairs: (train: [PreferencePair], validation: [PreferencePair]), stage: String, tokenizer: Tokenizer,
                 maxSeqLen: Int) -> (train: [PreferencePair], validation: [PreferencePair]) {
        func fits(_ p: PreferencePair) -> Bool {
            [p.chosen, p.rejected].allSatisfy { ((try? PreferencePair.render(p.prompt, $0, tokenizer: tokenizer).ids.count) ?? Int.max) <= maxSeqLen }
        }
        let kept = (pairs.train.filter(fits), pairs.validation.filter(fits))
        let dropped = pairs.train.count + pairs.validation.count - kept.0.count - kept.1.count
        if dropped > 0 { report(.note("\(stage): \(dropped) preference pairs dropped: longer than max_seq_len \(maxSeqLen)")) }
        return kept
    }

    /// Stores the pairs (replacing earlier ones of the run) and reports their counts.
    func recordPairs(_ pairs: (train: [PreferencePair], validation: [PreferencePair]), runID: Int64, stage: String, tokenizer: Tokenizer) throws {
        for (split, list) in [("train", pairs.train), ("validation", pairs.validation)] {
            try store.recordPreferences(run: runID, split: split, list.enumerated().map { i, p in
                NewPreferencePair(split: split, pairIndex: i, source: p.source, taskID: p.taskID, environment: p.environment,
                                  prompt: Self.json(p.prompt.messages), chosen: Self.answerText(p.prompt, p.chosen, tokenizer: tokenizer),
                                  rejected: Self.answerText(p.prompt, p.rejected, tokenizer: tokenizer), margin: p.margin, goldAgrees: p.goldAgrees,
                                  extra: p.extra.isEmpty ? nil : Self.json(p.extra))
            })
        }
        let known = pairs.train.compactMap(\.goldAgrees)
        let agreement = known.isEmpty ? "" : String(format: "; the verifier agrees with %.1f%% of the %d training labels it can judge",
                                                     100 * Double(known.filter { $0 }.count) / Double(known.count), known.count)
        report(.note("\(stage): \(pairs.train.count) training pairs, \(pairs.validation.count) held out (\(Set(pairs.train.map(\.source)).sorted().joined(separator: ", ")))\(agreement)"))
    }

    func runRewardModel(_ s: RewardModelStage, stage: Stage, runID: Int64, directory: URL, resume: Bool) throws {
        let start = try startCheckpoint(s.name, initFrom: s.initFrom, from: s.from)
        let tok = try requireTokenizer(s.name)
        let (sampler, _) = try Checkpoint.load(from: start)
        if s.layers > sampler.config.nLayers {
            throw RunnerError("stage \(s.name): layers \(s.layers) is more than the \(sampler.config.nLayers) layers of \(start.path); give 1 to \(sampler.config.nLayers), or 0 for all")
        }
        report(.stageStarted(stage: s.name, kind: .rewardModel, run: runID, resumedFrom: resume ? 0 : nil))
        let pairs = fitting(try preferencePairs(s.preferences, stage: s.name, model: sampler, tokenizer: tok), stage: s.name, tokenizer: tok,
                            maxSeqLen: sampler.config.maxSeqLen)
        if options.collective.isLeader { try recordPairs(pairs, runID: runID, stage: s.name, tokenizer: tok) }
        guard !pairs.train.isEmpty else { throw RunnerError("stage \(s.name): no training pairs (see the note above)") }
        let train = try RewardModelTraining.encode(pairs.train, tokenizer: tok, maxSeqLen: sampler.config.maxSeqLen, useMargins: s.parameters.useMargins)
        let validation = try RewardModelTraining.encode(pairs.validation, tokenizer: tok, maxSeqLen: sampler.config.maxSeqLen)
        let recorder = recorder(stage, runID: runID)
        let steps = s.parameters.steps
        var members: [String] = []
        for k in 0..<s.ensemble {
            let folder = s.ensemble == 1 ? "" : "member-\(k)"
            let dir = s.ensemble == 1 ? directory : directory.appendingPathComponent(folder)
            members.append(folder)
            let (full, _) = try Checkpoint.load(from: start)
            let trunk = s.layers > 0 && s.layers < full.config.nLayers ? try full.keepingLayers(s.layers) : full
            let model = RewardModel(trunk: trunk)
            _ = try RewardModelTraining.train(model: model, tokenizer: tok, train: train, validation: validation, parameters: s.parameters,
                                              seed: config.seed &+ UInt64(k) &* 1_000_003, faults: options.faults.scoped(to: s.name),
                                              checkpointDirectory: dir, resume: resume) { p in
                var shifted = p
                shifted.step += k * steps
                shifted.totalSteps = s.ensemble * steps
                shifted.resumedFromStep += k * steps
                if s.ensemble > 1 { shifted.metrics["member"] = Double(k) }
                return try recorder.commit(shifted)
            }
            if interrupted { return }
        }
        if s.ensemble > 1 && options.collective.isLeader { try RewardEnsemble.writeManifest(members: members, to: directory) }
        try store.recordCheckpoint(run: runID, step: s.ensemble * steps, path: directory.path)
        rewardModels[s.name] = directory
    }

    func runDPO(_ s: DPOStage, stage: Stage, runID: Int64, directory: URL, resume: Bool) throws {
        let start = try startCheckpoint(s.name, initFrom: s.initFrom, from: s.from)
        let tok = try requireTokenizer(s.name)
        let (policy, _) = try Checkpoint.load(from: start)
        let reference = try Checkpoint.loadFrozen(from: start, dtype: s.referenceDType)
        report(.stageStarted(stage: s.name, kind: .dpo, run: runID, resumedFrom: resume ? 0 : nil))
        // The pairs are sampled from the policy before its first step (the reference's weights;
        // a BF16 reference cannot sample).
        let pairs = fitting(try preferencePairs(s.preferences, stage: s.name, model: policy, tokenizer: tok), stage: s.name, tokenizer: tok,
                            maxSeqLen: policy.config.maxSeqLen)
        if options.collective.isLeader { try recordPairs(pairs, runID: runID, stage: s.name, tokenizer: tok) }
        guard !pairs.train.isEmpty else { throw RunnerError("stage \(s.name): no training pairs (see the note above)") }
        let train = try DPO.samples(pairs.train, tokenizer: tok, maxSeqLen: policy.config.maxSeqLen)
        let validation = try DPO.samples(pairs.validation, tokenizer: tok, maxSeqLen: policy.config.maxSeqLen)
        _ = try DPO.train(policy: policy, reference: reference, tokenizer: tok, train: train, validation: validation, parameters: s.parameters,
                          seed: config.seed, faults: options.faults.scoped(to: s.name), checkpointDirectory: directory, resume: resume,
                          progress: recorder(stage, runID: runID).commit)
        if interrupted { return }
        try store.recordCheckpoint(run: runID, step: s.parameters.steps, path: directory.path)
        latestCheckpoint = directory
    }

    func runPPO(_ s: PPOStage, stage: Stage, runID: Int64, directory: URL, resume: Bool) throws {
        let start = try startCheckpoint(s.name, initFrom: s.initFrom, from: s.from)
        let tok = try requireTokenizer(s.name)
        let (policy, _) = try Checkpoint.load(from: start)
        let reference = try Checkpoint.loadFrozen(from: start, dtype: s.referenceDType)
        let (chosen, weighted) = try rolloutEnvironments(s.environments, evalTasks: s.rollout.evalTasks, tokenizer: tok, model: policy)
        let rewards = try rewardSet(s.rewards, stage: s.name, tokenizer: tok)
        report(.stageStarted(stage: s.name, kind: .ppo, run: runID, resumedFrom: resume ? 0 : nil))
        let recorder = recorder(stage, runID: runID)
        _ = try PPO.train(policy: policy, reference: reference, tokenizer: tok, environments: weighted, rewards: rewards,
                          tools: RunnerData.tools(chosen), rollout: s.rollout, parameters: s.parameters, seed: config.seed,
                          faults: options.faults.scoped(to: s.name), checkpointDirectory: directory, resume: resume) { stepReport in
            try recorder.commit(stepReport.progress, rollouts: stepReport.rollouts.map(Self.newRollout))
        }
        if interrupted { return }
        try store.recordCheckpoint(run: runID, step: s.rollout.steps, path: directory.path)
        latestCheckpoint = directory
    }

    /// A stage's reward set, with `reward_model` rewards loaded from their stage or checkpoint.
    func rewardSet(_ specs: [RewardSpec], stage: String, tokenizer: Tokenizer) throws -> RewardSet {
        try specs.rewardSet(store: store) { params in
            let settings = try RewardModelSettings(params)
            let directory: URL
            if let name = settings.stage {
                guard let dir = self.rewardModels[name] else {
                    throw RunnerError("stage \(stage): rewards.reward_model.stage `\(name)` names no reward_model stage that ran before it")
                }
                directory = dir
            } else {
                directory = URL(fileURLWithPath: settings.checkpoint!)
            }
            let ensemble = try RewardEnsemble.load(from: directory, rule: settings.combine, lambda: settings.lambda)
            return RewardModelReward(ensemble: ensemble, tokenizer: tokenizer)
        }
    }
}
