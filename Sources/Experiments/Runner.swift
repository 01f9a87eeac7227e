// Runner: runs an experiment's stages in order, each resumable, each writing to the store.
//
//   tokenizer  byte-level BPE on the environments' corpus          -> runs/NAME/tokenizer/
//   pretrain   fresh seeded model, next-token loss on that corpus   -> runs/NAME/STAGE/ (checkpoint)
//   sft        from the latest checkpoint, demonstrations            -> runs/NAME/STAGE/
//   eval       the latest checkpoint on held-out tasks (validation,  -> evals + eval_items rows
//              or test), with the contamination count measured against the training stream
//   grpo       from the latest checkpoint (frozen copy as reference) -> runs/NAME/STAGE/
// "The latest checkpoint" is the one the previous training stage wrote. The frozen reference
// holds no gradients, and its weights as `reference_dtype` says (F32, or BF16 to halve them).
//
// Resume (`--resume`): a stage whose newest run completed is skipped; an unfinished one is
// continued in the same run row, its metrics after the checkpoint's step deleted first, so the
// store ends exactly as after an uninterrupted run. Without --resume every stage starts afresh
// in new run rows, overwriting runs/NAME/.
// Data parallel (`options.collective` of N ranks, started by mpirun): every rank runs every stage
// in lockstep, the trainers sharing each step's work; rank 0 alone writes files (experiment.yaml,
// the tokenizer, checkpoints) and the store that the user reads, and alone runs eval stages. The
// other ranks train the tokenizer themselves (it is deterministic), read rank 0's checkpoints,
// and keep their run rows in a private copy of the store, so their stage decisions (skip, resume)
// are rank 0's. A barrier starts every stage, so rank 0 has finished writing what it reads.
// The runner never prints: it reports `RunEvent`s and the command line draws them.

import Environments
import Foundation
import Model
import PonderCore
import Rewards
import Storage
import Tokenization
import Training

public enum RunEvent {
    case stageStarted(stage: String, kind: StageKind, run: Int64, resumedFrom: Int?)
    case stageSkipped(stage: String, reason: String)
    case progress(stage: String, TrainingProgress)
    /// An eval stage graded one environment; `baseline` is the first earlier evaluation of the
    /// same environment and split in this experiment (the "before" of a before/after pair).
    case evaluated(EvalSummary, baseline: EvalSummary?)
    case stageFinished(stage: String, run: Int64, seconds: Double)
    /// A seed group starts its replicate `index` of `count` (SeedGroup.swift).
    case replicateStarted(seed: UInt64, index: Int, count: Int)
    case note(String)
}

public struct RunnerOptions: Sendable {
    public var resume: Bool
    /// Checkpoints go to runsDirectory/NAME/STAGE, or runsDirectory/NAME/seed-S/STAGE for a
    /// replicate of a seed group.
    public var runsDirectory: URL
    /// Stop (as an interruption would) after this step of this stage: the trainer saves a
    /// checkpoint, the run is marked interrupted and `run()` returns. For tests and demos of
    /// `--resume`.
    public var stopAfter: (stage: String, step: Int)?
    /// The experiment row to file runs under when this run is one replicate of a seed group:
    /// the group's resolved config (with its `seeds`), so every replicate shares one row.
    public var groupConfigText: String?
    /// Where to kill the process (PONDER_FAULT, for the resume tests); none by default.
    public var faults: FaultPlan
    /// Polled after every step and between evaluations: true asks the run to stop cleanly (a
    /// Ctrl-C): the stage writes its checkpoint, is marked `interrupted`, and `run()` returns.
    public var interruptRequested: @Sendable () -> Bool
    /// The command that resumes this run, noted on an interrupted run (`ponder runs` shows it).
    public var resumeCommand: String?
    /// The ranks of a data-parallel run (one process by default).
    public var collective: any Collective = SingleProcess.shared
    public init(resume: Bool = false, runsDirectory: URL = URL(fileURLWithPath: "runs"), stopAfter: (stage: String, step: Int)? = nil,
                groupConfigText: String? = nil, faults: FaultPlan = .none, interruptRequested: @escaping @Sendable () -> Bool = { false }) {
        self.resume = resume
        self.runsDirectory = runsDirectory
        self.stopAfter = stopAfter
        self.groupConfigText = groupConfigText
        self.faults = faults
        self.interruptRequested = interruptRequested
    }
}

public final class ExperimentRunner {
    public let config: ExperimentConfig
    public let store: RunStore
    public let options: RunnerOptions
    let report: (RunEvent) -> Void
    let directory: URL
    var envs: [LabEnvironment] = []
    var tokenizer: Tokenizer?
    /// The checkpoint the next stage starts from.
    var latestCheckpoint: URL?
    /// Trained reward models by stage name (a `reward_model` reward's `stage:`).
    var rewardModels: [String: URL] = [:]
    /// Checkpoints by the stage that wrote them (a stage's `from:`).
    var checkpoints: [String: URL] = [:]
    /// Noise-free preference pairs by the stage that built them (`preferences.from`), rebuilt
    /// on demand when that stage completed in an earlier process.
    var pairCache: [String: (train: [PreferencePair], validation: [PreferencePair])] = [:]
    public private(set) var evals: [EvalSummary] = []
    /// What the stages learn from, rebuilt once for the contamination counts of eval stages.
    lazy var trainingStream = TrainingStream.build(config, envs: envs)

    public init(config: ExperimentConfig, store: RunStore, options: RunnerOptions, report: @escaping (RunEvent) -> Void) {
        self.config = config
        self.store = store
        self.options = options
        self.report = report
        directory = config.runDirectory(in: options.runsDirectory)
    }

    /// The resolved config beside the stage folders, so `ponder eval runs/NAME/STAGE` can rebuild
    /// the experiment's own evaluation.
    public static let configFileName = "experiment.yaml"

    public func run() throws {
        envs = try config.environments.map(LabEnvironment.init)
        let experimentID = try store.upsertExperiment(name: config.name, configText: options.groupConfigText ?? config.resolvedYAML())
        if options.collective.isLeader { try writeConfig() }
        var parent: Int64? = nil
        for stage in config.stages {
            parent = try runStage(stage, experimentID: experimentID, parent: parent)
            if interrupted { return }
        }
    }

    /// runs/NAME/experiment.yaml.
    func writeConfig() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // A run killed while Foundation wrote experiment.yaml atomically leaves its temporary file
        // (".dat.nosync..."); nothing else writes such names here, so the next run sweeps them.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where name.hasPrefix(".dat.nosync") {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
        try config.resolvedYAML().write(to: directory.appendingPathComponent(Self.configFileName), atomically: true, encoding: .utf8)
    }

    /// Set when `stopAfter` or an interrupt stopped a stage.
    public private(set) var interrupted = false

    func shouldStop(_ stage: Stage, _ step: Int) -> Bool {
        if options.interruptRequested() { interrupted = true }
        if let stop = options.stopAfter, stop.stage == stage.name, stop.step == step { interrupted = true }
        return interrupted
    }

    func stageDirectory(_ stage: Stage) -> URL { directory.appendingPathComponent(stage.name) }

    /// Creates or continues the stage's run row; nil when the stage already completed (resume).
    func beginRun(_ stage: Stage, experimentID: Int64, parent: Int64?) throws -> (run: Int64, resumed: Bool)? {
        if options.resume, let previous = try store.latestRun(experimentName: config.name, stage: stage.name, seed: config.seed),
           let id = previous.id {
            if previous.status == .completed { return nil }
            try store.setStatus(run: id, .running)
            return (id, true)
        }
        let id = try store.createRun(experimentID: experimentID, name: "\(config.name)/\(stage.name)", stage: stage.name,
                                     seed: config.seed, checkpointDir: stageDirectory(stage).path, parent: parent)
        return (id, false)
    }

    func runStage(_ stage: Stage, experimentID: Int64, parent: Int64?) throws -> Int64? {
        let dir = stageDirectory(stage)
        guard let (runID, resumed) = try beginRun(stage, experimentID: experimentID, parent: parent) else {
            report(.stageSkipped(stage: stage.name, reason: "completed in an earlier run"))
            try restoreOutputs(of: stage)
            return try store.latestRun(experimentName: config.name, stage: stage.name, seed: config.seed)?.id
        }
        if !resumed && options.collective.isLeader { try? FileManager.default.removeItem(at: dir) }
        options.collective.barrier()
        let started = Date()
        do {
            switch stage {
            case .tokenizer(let s): try runTokenizer(s, runID: runID, directory: dir)
            case .pretrain(let s): try runPretrain(s, stage: stage, runID: runID, directory: dir, resume: resumed)
            case .sft(let s): try runSFT(s, stage: stage, runID: runID, directory: dir, resume: resumed)
            case .eval(let s): try runEval(s, stage: stage, runID: runID)
            case .grpo(let s): try runGRPO(s, stage: stage, runID: runID, directory: dir, resume: resumed)
            case .rewardModel(let s): try runRewardModel(s, stage: stage, runID: runID, directory: dir, resume: resumed)
            case .dpo(let s): try runDPO(s, stage: stage, runID: runID, directory: dir, resume: resumed)
            case .ppo(let s): try runPPO(s, stage: stage, runID: runID, directory: dir, resume: resumed)
            }
        } catch {
            try? store.setStatus(run: runID, .failed)
            throw error
        }
        // Rank 0 may have been interrupted (Ctrl-C) where the others were not: they stop with it.
        if options.collective.isDistributed { interrupted = options.collective.broadcast(interrupted) }
        if interrupted {
            try store.setStatus(run: runID, .interrupted, note: options.resumeCommand.map { "resume: \($0)" })
            report(.note("\(stage.name) stopped; `--resume` continues from its checkpoint"))
            return runID
        }
        try store.setStatus(run: runID, .completed)
        if Self.writesCheckpoint(stage) { checkpoints[stage.name] = dir }
        report(.stageFinished(stage: stage.name, run: runID, seconds: Date().timeIntervalSince(started)))
        return runID
    }

    /// A skipped stage still leaves its outputs for the next one.
    func restoreOutputs(of stage: Stage) throws {
        let dir = stageDirectory(stage)
        // A training stage that started from `init_from` brought that directory's tokenizer, as
        // when it ran (an eval stage's `init_from` is its own business).
        if stage.kind != .eval && !stage.initFrom.isEmpty { _ = try adopt(stage.initFrom, stage: stage.name) }
        switch stage {
        case .tokenizer:
            tokenizer = try Tokenizer.load(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"))
        case .rewardModel:
            rewardModels[stage.name] = dir
        case .pretrain, .sft, .grpo, .dpo, .ppo:
            latestCheckpoint = dir
            checkpoints[stage.name] = dir
            if tokenizer == nil { tokenizer = try Tokenizer.load(checkpointDirectory: dir) }
        case .eval:
            // Its figures are in the store; the final table and later before/after pairs need them.
            guard let run = try store.latestRun(experimentName: config.name, stage: stage.name, seed: config.seed) else { return }
            for record in try store.evals(run: run.id) {
                evals.append(EvalSummary(stage: stage.name, record: record, items: try store.evalItems(eval: record.id!)))
            }
        }
    }

    func requireTokenizer(_ stage: String) throws -> Tokenizer {
        guard let tokenizer else {
            throw RunnerError("stage \(stage) needs a tokenizer: put a `stage: tokenizer` before it")
        }
        return tokenizer
    }

    static func writesCheckpoint(_ stage: Stage) -> Bool {
        switch stage {
        case .pretrain, .sft, .grpo, .dpo, .ppo: return true
        case .tokenizer, .eval, .rewardModel: return false
        }
    }

    /// The checkpoint a stage starts from: its `from:` stage's, or the latest.
    func requireCheckpoint(_ stage: String, from: String) throws -> URL {
        guard from.isEmpty else {
            guard let dir = checkpoints[from] else { throw RunnerError("stage \(stage): `from: \(from)` has no checkpoint yet") }
            return dir
        }
        return try requireCheckpoint(stage)
    }

    /// The checkpoint a training stage starts from: `init_from`'s directory when set (whose
    /// tokenizer and chat format then serve this stage and the later ones), else its `from:`
    /// stage's, else the latest.
    func startCheckpoint(_ stage: String, initFrom: String, from: String = "") throws -> URL {
        guard !initFrom.isEmpty else { return try requireCheckpoint(stage, from: from) }
        return try adopt(initFrom, stage: stage)
    }

    /// `init_from`'s directory, checked to hold a model.
    static func modelDirectory(_ path: String, stage: String) throws -> URL {
        let dir = URL(fileURLWithPath: path).standardizedFileURL
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.json").path) else {
            throw RunnerError("stage \(stage): init_from \(path): no config.json there; give a checkpoint directory (a stage folder under runs/, or a Hugging Face model's)")
        }
        return dir
    }

    /// Takes the tokenizer of `init_from`'s directory after checking that it holds a model.
    func adopt(_ path: String, stage: String) throws -> URL {
        let dir = try Self.modelDirectory(path, stage: stage)
        do {
            tokenizer = try Tokenizer.load(checkpointDirectory: dir)
        } catch {
            throw RunnerError("stage \(stage): init_from \(path): \(error)")
        }
        return dir
    }

    func requireCheckpoint(_ stage: String) throws -> URL {
        guard let latestCheckpoint else {
            throw RunnerError("stage \(stage) needs a trained model: put a pretrain (or sft) stage before it")
        }
        return latestCheckpoint
    }

    /// The progress callback of a trainer stage (StepRecorder), bound to this runner.
    func recorder(_ stage: Stage, runID: Int64) -> StepRecorder {
        StepRecorder(store: store, runID: runID, stage: stage.name, faults: options.faults) { [report, unowned self] p in
            report(.progress(stage: stage.name, p))
            return !self.shouldStop(stage, p.step)
        }
    }

    // MARK: Stages

    func runTokenizer(_ s: TokenizerStage, runID: Int64, directory: URL) throws {
        report(.stageStarted(stage: s.name, kind: .tokenizer, run: runID, resumedFrom: nil))
        try store.clear(run: runID)  // a resumed tokenizer stage starts over
        let vocab = s.vocabSize ?? config.tokenizer.vocabSize
        let perEnv = max(1, (s.corpusDocuments ?? config.tokenizer.corpusDocuments) / max(1, envs.count))
        let docs = RunnerData.corpus(envs, perEnvironment: perEnv, seed: config.seed, label: "tokenizer").map(\.text)
        let start = Date()
        let trained = try Tokenizer.train(corpus: docs, vocabSize: vocab)
        if options.collective.isLeader {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try trained.save(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"))
        }
        tokenizer = trained
        options.faults.reached(.tokenizer, stage: s.name, step: 0)
        let bytes = docs.reduce(0) { $0 + $1.utf8.count }
        try store.recordStep(run: runID, step: 0, metrics: [
            "vocab_size": Double(trained.vocabSize), "corpus_bytes": Double(bytes),
            "training_seconds": Date().timeIntervalSince(start),
        ])
    }

    func runPretrain(_ s: PretrainStage, stage: Stage, runID: Int64, directory: URL, resume: Bool) throws {
        let model: Transformer
        if s.initFrom.isEmpty {
            var modelConfig = config.model.modelConfig
            modelConfig.vocabSize = try requireTokenizer(s.name).vocabSize
            model = try Transformer(config: modelConfig, seed: config.seed)
        } else {
            model = try Checkpoint.load(from: adopt(s.initFrom, stage: s.name)).model
        }
        let tok = try requireTokenizer(s.name)
        let perEnv = max(1, s.corpusDocuments / max(1, envs.count))
        let docs = RunnerData.corpus(envs, perEnvironment: perEnv, seed: config.seed, label: "pretrain")
        let validationDocs = RunnerData.corpus(envs, perEnvironment: max(1, Int(Double(perEnv) * s.validationFraction)),
                                               seed: config.seed, label: "pretrain/validation", split: .validation)
        let validation = RunnerData.tokenStream(validationDocs.map(\.text), tokenizer: tok)
        let train = RunnerData.tokenStream(docs.map(\.text), tokenizer: tok)
        var p = s.parameters
        p.seed = config.seed
        p.faults = options.faults.scoped(to: s.name)
        report(.stageStarted(stage: s.name, kind: .pretrain, run: runID, resumedFrom: resume ? 0 : nil))
        report(.note("pretrain: \(train.count) training tokens, \(validation.count) validation tokens, \(model.parameterCount) parameters"))
        _ = try Pretraining.train(model: model, tokenizer: tok, train: train, validation: validation, parameters: p,
                                  checkpointDirectory: directory, resume: resume, collective: options.collective,
                                  progress: recorder(stage, runID: runID).commit)
        if interrupted { return }
        try store.recordCheckpoint(run: runID, step: s.parameters.steps, path: directory.path)
        latestCheckpoint = directory
    }

    func runSFT(_ s: SFTStage, stage: Stage, runID: Int64, directory: URL, resume: Bool) throws {
        let start = try startCheckpoint(s.name, initFrom: s.initFrom)
        let tok = try requireTokenizer(s.name)
        let (model, _) = try Checkpoint.load(from: start)
        let chosen = s.environments.isEmpty ? envs : envs.filter { s.environments.contains($0.environment.name) }
        var demonstrations = RunnerData.demonstrations(chosen, count: s.examples, styles: s.styles, seed: config.seed,
                                                       label: "sft/train", split: .train, part: s.questions)
        if let settings = s.probe {
            let (unknown, probed) = KnowledgeProbe.probe(demonstrations, envs: chosen, model: model, tokenizer: tok, settings: settings,
                                                         seed: config.seed, tools: RunnerData.tools(envs))
            demonstrations = KnowledgeProbe.relabel(demonstrations, unknown: unknown) { KnowledgeProbe.key($0, envs: chosen) }
            let relabelled = demonstrations.filter { unknown.contains(KnowledgeProbe.key($0.task, envs: chosen)) }.count
            report(.note("sft probe: \(probed) answerable facts asked \(settings.samples) times each; \(unknown.count) wrong every time, "
                         + "so \(relabelled) of \(demonstrations.count) demonstrations now say \"\(Refusal.canonical)\""))
        }
        var smallTalkRNG = RNG(seed: config.seed).fork("sft/small-talk")
        let conversation = SmallTalk.conversations(count: Int((Double(s.examples) * s.smallTalk).rounded()), rng: &smallTalkRNG)
        let train = try (demonstrations.map(\.conversation) + conversation).map { try SupervisedFineTuning.Example($0, tokenizer: tok) }
        let validation = try RunnerData.examples(chosen, count: s.validationExamples, styles: s.styles, seed: config.seed,
                                                 label: "sft/validation", split: .validation, tokenizer: tok)
        var p = s.parameters
        p.seed = config.seed
        p.faults = options.faults.scoped(to: s.name)
        report(.stageStarted(stage: s.name, kind: .sft, run: runID, resumedFrom: resume ? 0 : nil))
        report(.note("sft: \(train.count) demonstrations, \(validation.count) held out, from \(start.path)"))
        _ = try SupervisedFineTuning.train(model: model, tokenizer: tok, train: train, validation: validation, parameters: p,
                                           checkpointDirectory: directory, resume: resume, collective: options.collective,
                                           progress: recorder(stage, runID: runID).commit)
        if interrupted { return }
        try store.recordCheckpoint(run: runID, step: s.parameters.steps, path: directory.path)
        latestCheckpoint = directory
    }

    func runEval(_ s: EvalStage, stage: Stage, runID: Int64) throws {
        guard options.collective.isLeader else { return }  // the other ranks wait at the next stage's barrier
        // `init_from`: that directory with its own tokenizer; the pipeline's state is left as it is.
        let checkpoint: URL, model: Transformer, tok: Tokenizer
        if s.initFrom.isEmpty {
            checkpoint = try requireCheckpoint(s.name)
            (model, tok) = (try Checkpoint.load(from: checkpoint).model, try requireTokenizer(s.name))
        } else {
            checkpoint = try Self.modelDirectory(s.initFrom, stage: s.name)
            (model, tok) = try ExperimentEval.loadCheckpoint(checkpoint)
        }
        report(.stageStarted(stage: s.name, kind: .eval, run: runID, resumedFrom: nil))
        try store.clear(run: runID)  // an eval interrupted between environments starts over
        let tools = RunnerData.tools(envs)
        let chosen = s.environments.isEmpty ? envs : envs.filter { s.environments.contains($0.environment.name) }
        var metrics: [String: Double] = [:]
        for (index, env) in chosen.enumerated() {
            let (summary, result) = try ExperimentEval.run(s, config: config, env: env, model: model, tokenizer: tok,
                                                           tools: tools, stream: trainingStream)
            let envMetrics = Self.evalMetrics(summary, result)
            _ = try store.recordEval(run: runID, checkpoint: checkpoint.path, suite: env.environment.name, step: nil,
                                     split: s.split.rawValue, metrics: envMetrics, items: Self.evalItems(result))
            for (k, v) in envMetrics { metrics["\(env.environment.name)/\(k)"] = v }
            let baseline = evals.first { $0.environment == summary.environment && $0.split == summary.split }
            evals.append(summary)
            report(.evaluated(summary, baseline: baseline))
            options.faults.reached(.eval, stage: s.name, step: index + 1)
            if options.interruptRequested() { interrupted = true; return }
        }
        try store.recordStep(run: runID, step: 0, metrics: metrics)
    }

    /// An evaluation's figures as stored (evals.metrics and the eval stage's metrics).
    public static func evalMetrics(_ summary: EvalSummary, _ result: Evaluation.Result) -> [String: Double] {
        var metrics: [String: Double] = ["accuracy": summary.greedyAccuracy, "graded": Double(summary.graded),
                                         "machinery_failures": Double(result.machineryFailures), "tool_use": result.greedyToolUse]
        if let interval = summary.accuracy {
            metrics["accuracy_lower"] = interval.lower
            metrics["accuracy_upper"] = interval.upper
        }
        if let contamination = summary.contamination { metrics["contamination"] = Double(contamination) }
        for (k, v) in result.passAtK { metrics["pass@\(k)"] = v }
        for (k, i) in result.passAtKIntervals {
            metrics["pass@\(k)_lower"] = i.lower
            metrics["pass@\(k)_upper"] = i.upper
        }
        for (kind, n) in result.verdictCounts { metrics["greedy_\(kind.rawValue)"] = Double(n) }
        if let groups = AbstentionLines.groups(result.items) { metrics.merge(AbstentionLines.metrics(groups)) { $1 } }
        for (phrasing, accuracy) in summary.byPhrasing {
            metrics["phrasing/\(phrasing)/accuracy"] = accuracy.estimate
            metrics["phrasing/\(phrasing)/accuracy_lower"] = accuracy.lower
            metrics["phrasing/\(phrasing)/accuracy_upper"] = accuracy.upper
        }
        return metrics
    }

    /// An evaluation's items as the store keeps them, with each task's metadata.
    public static func evalItems(_ result: Evaluation.Result) -> [NewEvalItem] {
        result.items.enumerated().map { i, item in
            NewEvalItem(itemIndex: i, sampleIndex: item.sampleIndex, taskID: item.taskID,
                        answerable: item.metadata["answerable"] != "false",
                        prompt: item.prompt, completion: item.completion, reference: item.reference,
                        extracted: item.verdict.extracted, verdict: EvalVerdict(item.verdict.kind),
                        metadata: Breakdown.json(item.metadata.merging(item.sampleIndex < 0 ? ["log_prob": String(item.logProb)] : [:]) { $1 }),
                        failure: item.verdict.failure.map { "\($0)" })
        }
    }

    /// A GRPO stage's environments: train views, weighted, with their held-out tasks.
    /// With `part`, only that part of the training questions (QuestionPart).
    static func grpoEnvironments(_ chosen: [LabEnvironment], part: QuestionPart? = nil,
                                 heldOut: (LabEnvironment) -> [EnvTask]) -> [GRPOTrainer.WeightedEnvironment] {
        chosen.map { GRPOTrainer.WeightedEnvironment(environment: $0.view(.train, part: part), weight: $0.spec.weight, heldOut: heldOut($0)) }
    }

    /// A grpo or ppo stage's environments (`names`, or all) and their weighted train views with
    /// `evalTasks` validation tasks each, whose prompts are checked to fit the model.
    /// With `part`, the train views sample only that part of the training questions.
    func rolloutEnvironments(_ names: [String], evalTasks: Int, tokenizer: Tokenizer, model: Transformer,
                             part: QuestionPart? = nil) throws -> (chosen: [LabEnvironment], weighted: [GRPOTrainer.WeightedEnvironment]) {
        let chosen = names.isEmpty ? envs : envs.filter { names.contains($0.environment.name) }
        let weighted = Self.grpoEnvironments(chosen, part: part) { $0.heldOut(count: evalTasks, seed: config.heldOutSeed, split: .validation) }
        for w in weighted { try Evaluation.checkPromptsFit(w.heldOut, tokenizer: tokenizer, model: model) }
        return (chosen, weighted)
    }

    func runGRPO(_ s: GRPOStage, stage: Stage, runID: Int64, directory: URL, resume: Bool) throws {
        let start = try startCheckpoint(s.name, initFrom: s.initFrom)
        let tok = try requireTokenizer(s.name)
        let (policy, _) = try Checkpoint.load(from: start)
        let reference = try Checkpoint.loadFrozen(from: start, dtype: s.referenceDType)
        let (chosen, weighted) = try rolloutEnvironments(s.environments, evalTasks: s.parameters.evalTasks, tokenizer: tok, model: policy,
                                                         part: s.questions)
        let rewards = try rewardSet(s.rewards, stage: s.name, tokenizer: tok)
        let curriculum = try s.curriculum.map { try Self.curriculum($0, envs: chosen, stage: s.name) }
        for (i, tier) in (curriculum?.tiers ?? []).enumerated() {
            var rng = RNG(seed: config.seed).fork("curriculum-check")
            do { try Evaluation.checkPromptsFit(tier.sample(&rng, count: 200), tokenizer: tok, model: policy) } catch {
                throw RunnerError("stage \(s.name): curriculum tier \(i + 1): \(error)")
            }
        }
        report(.stageStarted(stage: s.name, kind: .grpo, run: runID, resumedFrom: resume ? 0 : nil))
        let recorder = recorder(stage, runID: runID)
        _ = try GRPOTrainer.train(
            policy: policy, reference: reference, tokenizer: tok, environments: weighted, rewards: rewards,
            tools: RunnerData.tools(chosen), parameters: s.parameters, seed: config.seed, faults: options.faults.scoped(to: s.name),
            collective: options.collective, curriculum: curriculum, checkpointDirectory: directory, resume: resume
        ) { stepReport in
            try recorder.commit(stepReport.progress, rollouts: stepReport.rollouts.map(Self.newRollout))
        }
        if interrupted { return }
        try store.recordCheckpoint(run: runID, step: s.parameters.steps, path: directory.path)
        latestCheckpoint = directory
    }

    /// A grpo stage's curriculum as the trainer takes it: each tier is the environment built with
    /// the tier's settings over its own, seen through its train split.
    static func curriculum(_ c: CurriculumSettings, envs: [LabEnvironment], stage: String) throws -> GRPOTrainer.Curriculum {
        guard let env = envs.first(where: { $0.environment.name == c.environment }) else {
            throw RunnerError("stage \(stage): curriculum.environment \(c.environment) is not among the stage's environments "
                              + "(\(envs.map(\.environment.name).joined(separator: ", ")))")
        }
        let tiers = try c.tiers.enumerated().map { i, tier -> any Environment in
            var spec = env.spec
            guard case .map(var entries) = spec.settings, case .map(let overrides) = tier else { return env.training }
            for entry in overrides {
                if let i = entries.firstIndex(where: { $0.key == entry.key }) { entries[i] = entry } else { entries.append(entry) }
            }
            spec.settings = .map(entries)
            do { return try LabEnvironment(spec: spec).training } catch {
                throw RunnerError("stage \(stage): curriculum tier \(i + 1): \(error)")
            }
        }
        return GRPOTrainer.Curriculum(environment: c.environment, tiers: tiers, threshold: c.threshold, window: c.window)
    }

    /// A scored rollout as the store keeps it: its total is missing when a reward function failed.
    static func newRollout(_ r: GRPOTrainer.ScoredRollout) -> NewRollout {
        NewRollout(groupIndex: r.group, sampleIndex: r.sample, taskID: r.task.id, environment: r.task.environment,
                   prompt: r.task.question, completion: r.rollout.text, tokenCount: r.rollout.tokens.count,
                   finishReason: r.rollout.toolCalls.contains { $0.failure != nil } ? "tool_error" : r.rollout.finishReason.rawValue,
                   totalReward: r.rewards.failed ? nil : r.rewards.total, advantage: r.advantage,
                   toolCalls: r.rollout.toolCalls.isEmpty ? nil : ExperimentRunner.json(r.rollout.toolCalls),
                   rewards: r.rewards.entries.map { RewardValue(function: $0.name, value: $0.value, failure: $0.failure.map { "\($0)" }) })
    }

    static func json<T: Encodable>(_ value: T) -> String {
        (try? String(decoding: JSONEncoder().encode(value), as: UTF8.self)) ?? "[]"
    }
}

public struct RunnerError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension EvalVerdict {
    init(_ kind: VerdictKind) {
        switch kind {
        case .correct: self = .correct
        case .incorrect: self = .incorrect
        case .refused: self = .refused
        case .unparseable: self = .unparseable
        }
    }
}
