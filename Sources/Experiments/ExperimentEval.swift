// ExperimentEval: one eval stage of an experiment on one environment, as the runner runs it and
// as `ponder eval --experiment FILE --stage NAME` (or `ponder eval runs/NAME/STAGE --env E`)
// reruns it: the environment as the experiment configures it (settings, tools, split shares),
// the stage's split, `held_out_seed`'s distinct tasks and the stage's decoding settings. Same
// config, same checkpoint, same items and verdicts.
//
// `Reproduction` finds what a rerun needs from the command line: the experiment (a file, or the
// resolved `experiment.yaml` the runner writes beside the stage folders) and the checkpoint the
// stage evaluated (the training stage before it).

import Environments
import Foundation
import Model
import PonderCore
import Storage
import Tokenization
import Training

public enum ExperimentEval {
    /// Grades `model` on `env`'s held-out tasks as eval stage `s` of `config` does; the
    /// contamination count comes from `stream` when given.
    static func run(_ s: EvalStage, config: ExperimentConfig, env: LabEnvironment, model: Transformer, tokenizer: Tokenizer,
                    tools: @escaping ToolExecutor, stream: TrainingStream?) throws -> (summary: EvalSummary, result: Evaluation.Result) {
        let tasks = env.heldOut(count: s.tasks, seed: config.heldOutSeed, split: s.split)
        try Evaluation.checkPromptsFit(tasks, tokenizer: tokenizer, model: model)
        let parameters = Evaluation.Parameters(tasks: tasks.count, samples: s.samples > 1 ? s.samples : 0, ks: s.ks,
                                               temperature: Float(s.temperature), topP: Float(s.topP), topK: s.topK,
                                               maxNewTokens: s.maxNewTokens, seed: config.heldOutSeed)
        let result = Evaluation.run(model: model, tokenizer: tokenizer, environment: env.environment, tasks: tasks,
                                    tools: tools, parameters: parameters)
        let summary = EvalSummary(stage: s.name, environment: env.environment.name, split: s.split, result: result,
                                  contamination: stream?.contamination(of: tasks, environment: env))
        return (summary, result)
    }

    /// Reruns eval stage `stageName` of `config` (one replicate: `config.seed`) on the checkpoint
    /// it evaluated under `runsDirectory`, optionally on another split or subset of environments.
    public static func rerun(config: ExperimentConfig, stageName: String, runsDirectory: URL, split: Split? = nil,
                             environments: [String] = []) throws -> [EvalSummary] {
        guard let index = config.stages.firstIndex(where: { $0.name == stageName }) else {
            throw RunnerError("\(config.name) has no stage `\(stageName)` (stages: "
                              + config.stages.map(\.name).joined(separator: ", ") + ")")
        }
        guard case .eval(var stage) = config.stages[index] else {
            throw RunnerError("stage `\(stageName)` of \(config.name) is a \(config.stages[index].kind.rawValue) stage, not an eval stage (eval stages: "
                              + config.stages.filter { $0.kind == .eval }.map(\.name).joined(separator: ", ") + ")")
        }
        if let split { stage.split = split }
        if !environments.isEmpty { stage.environments = environments }
        let checkpoint: URL
        if !stage.initFrom.isEmpty {
            checkpoint = URL(fileURLWithPath: stage.initFrom).standardizedFileURL
        } else if let trained = config.stages[..<index].last(where: ExperimentRunner.writesCheckpoint) {
            // The checkpoint the run evaluated: the last one written before the stage (dpo and ppo too).
            checkpoint = config.runDirectory(in: runsDirectory).appendingPathComponent(trained.name)
        } else {
            throw RunnerError("stage `\(stageName)` has no training stage before it")
        }
        let (model, tokenizer) = try loadCheckpoint(checkpoint)
        let envs = try config.environments.map(LabEnvironment.init)
        let stream = TrainingStream.build(config, envs: envs)
        let tools = RunnerData.tools(envs)
        return try envs.filter { stage.environments.isEmpty || stage.environments.contains($0.environment.name) }.map {
            try run(stage, config: config, env: $0, model: model, tokenizer: tokenizer, tools: tools, stream: stream).summary
        }
    }

    /// A checkpoint's model and tokenizer; errors name the directory.
    public static func loadCheckpoint(_ directory: URL) throws -> (Transformer, Tokenizer) {
        do {
            let (model, _) = try Checkpoint.load(from: directory)
            return (model, try Tokenizer.load(checkpointDirectory: directory))
        } catch {
            throw RunnerError("\(directory.path): \(error)")
        }
    }

    /// The experiment a checkpoint under runs/ belongs to: the resolved config the runner wrote
    /// beside its stage folder (nil for a checkpoint made elsewhere).
    public static func experiment(ofCheckpoint directory: URL) throws -> (config: ExperimentConfig, file: URL)? {
        let file = directory.deletingLastPathComponent().appendingPathComponent(ExperimentRunner.configFileName)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        return (try ExperimentConfig.load(path: file.path), file)
    }

    /// Grades `model` on environment `name` as `config` configures it, with eval stage defaults
    /// (or the first eval stage of the experiment when it has one), on `split`.
    /// `config` with environment `name` asking under `text` as its system message: the same
    /// questions (neither the split nor the draw reads the prompt).
    public static func withSystemPrompt(_ config: ExperimentConfig, environment name: String, _ text: String) -> ExperimentConfig {
        var config = config
        for i in config.environments.indices where config.environments[i].name == name {
            guard case .map(var entries) = config.environments[i].settings else { continue }
            entries.removeAll { $0.key == "system_prompt" }
            entries.append(.init("system_prompt", .string(text)))
            config.environments[i].settings = .map(entries)
        }
        return config
    }

    public static func evaluate(environment name: String, of config: ExperimentConfig, model: Transformer, tokenizer: Tokenizer,
                                split: Split, tasks: Int?, maxNewTokens: Int?,
                                sampled: (samples: Int, ks: [Int], temperature: Double)? = nil,
                                systemPrompt: String? = nil) throws -> (summary: EvalSummary, result: Evaluation.Result) {
        let config = systemPrompt.map { withSystemPrompt(config, environment: name, $0) } ?? config
        let envs = try config.environments.map(LabEnvironment.init)
        guard let env = envs.first(where: { $0.environment.name == name }) else {
            throw RunnerError("experiment \(config.name) has no environment `\(name)` (it has: "
                              + envs.map(\.environment.name).joined(separator: ", ") + ")")
        }
        var stage = config.stages.lazy.compactMap { if case .eval(let s) = $0 { s } else { nil } }.first ?? EvalStage()
        stage.name = "eval"
        stage.split = split
        if let tasks { stage.tasks = tasks }
        if let maxNewTokens { stage.maxNewTokens = maxNewTokens }
        if let sampled {
            stage.samples = sampled.samples
            stage.ks = sampled.ks
            stage.temperature = sampled.temperature
        }
        return try run(stage, config: config, env: env, model: model, tokenizer: tokenizer, tools: RunnerData.tools(envs),
                       stream: TrainingStream.build(config, envs: envs))
    }
}
