// ponder eval: accuracy of a checkpoint, with its interval, three ways.
//
//   ponder eval --experiment FILE --stage NAME [--split test] [--seed S] [--runs DIR] [--set K=V]
//       exactly that eval stage of the experiment (settings, tools, split, items, decoding) on the
//       checkpoint it evaluated, with the contamination count against the training stream; with
//       `seeds`, every replicate (or --seed S) and the mean across them.
//   ponder eval CHECKPOINT --env NAME [--split test] [--tasks N]
//       the environment as the checkpoint's experiment configures it (runs/NAME/experiment.yaml,
//       written by `ponder run`), or with its default settings and tools when there is none (said).
//   ponder eval CHECKPOINT --data FILE.jsonl [--by KEY.PATH] [--tools python]
//       every line of a JSONL file (a test set as a whole), broken down by a metadata field.
// Sampled pass@k: --samples N --k K...; --json prints one object.

import ArgumentParser
import Environments
import Experiments
import Foundation
import Model
import PonderCore
import Storage
import Tokenization
import Training

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Accuracy (with 95% intervals) and pass@k of a checkpoint on held-out tasks.")

    @Argument(help: "A checkpoint directory, e.g. runs/quickstart/sft (not with --experiment).") var checkpoint: String?
    @Option(help: "An experiment file: rerun one of its eval stages (with --stage).") var experiment: String?
    @Option(help: "The eval stage of --experiment to rerun, e.g. after_rl.") var stage: String?
    @Option(help: "With --experiment: the replicate of this seed, also of a run made with `ponder run --seeds` (default: every seed of the experiment). With --best-of: the sampling seed (default 0).") var seed: UInt64?
    @Option(help: "With --experiment: where its checkpoints are.") var runs: String = "runs"
    @Option(name: .customLong("set"), help: "With --experiment: change a key of the file (as `ponder run --set`).") var overrides: [String] = []
    @Option(help: "Environment: \(EnvironmentRegistry.names.joined(separator: ", ")).") var env: String = "arithmetic"
    @Option(help: "The split to grade: validation (default) or test.") var split: Split?
    @Option(help: "A JSONL file of tasks, graded whole (the jsonl environment).") var data: String?
    @Option(help: "Break accuracy down by this metadata field of the items, e.g. difficulty.level or kind.") var by: String?
    @Option(help: "Tools the JSONL tasks may call, e.g. python.") var tools: [Tool] = []
    @Option(help: "Number of tasks (all of a JSONL file by default; 100 otherwise).") var tasks: Int?
    @Option(help: "Samples per task for pass@k (0 = greedy only).") var samples: Int = 0
    @Option(help: "k values for pass@k.") var k: [Int] = [1]
    @Option(help: "Temperature of the pass@k samples.") var temperature: Float = 1
    @Option(help: "Most new tokens per answer.") var maxNewTokens: Int?
    @Option(help: "With --env: a text file whose contents become every question's system message (e.g. an identity and a refusal policy).")
    var systemPrompt: String?
    @Option(help: "Best-of-n against --reward-model: sample N answers per task, keep the reward model's favourite; report gold accuracy and KL for n = 1, 2, 4 ... N.")
    var bestOf: Int?
    @Option(help: "A reward model (a reward_model stage's directory) for --best-of; several share one set of samples.") var rewardModel: [String] = []
    @Option(help: "How an ensemble reward model combines its members: mean, min, mean_minus_std; one for all reward models, or one per --reward-model in order.")
    var combine: [String] = []
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON only.") var json = false

    func validate() throws {
        if experiment != nil {
            if checkpoint != nil { throw ValidationError("give a checkpoint or --experiment FILE --stage NAME, not both") }
            if stage == nil { throw ValidationError("--experiment needs --stage NAME (one of its eval stages)") }
        } else if checkpoint == nil {
            throw ValidationError("name a checkpoint directory (e.g. runs/quickstart/grpo) or --experiment FILE --stage NAME")
        }
        if split == .train { throw ValidationError("--split: an eval grades held-out tasks: validation or test") }
        if data == nil && (by != nil || !tools.isEmpty) { throw ValidationError("--by and --tools apply to --data FILE.jsonl") }
        if systemPrompt != nil && (data != nil || experiment != nil) { throw ValidationError("--system-prompt applies to CHECKPOINT --env NAME") }
        if (bestOf == nil) != rewardModel.isEmpty { throw ValidationError("--best-of N and --reward-model DIR go together") }
        if seed != nil && experiment == nil && bestOf == nil { throw ValidationError("--seed goes with --experiment or --best-of") }
        if let n = bestOf, n < 1 || n > 256 { throw ValidationError("--best-of must be between 1 and 256") }
        if let bad = combine.first(where: { RewardEnsemble.Rule(rawValue: $0) == nil }) { throw ValidationError("--combine \(bad): mean, min or mean_minus_std") }
        if combine.count > 1 && combine.count != rewardModel.count {
            throw ValidationError("--combine: give one rule for all, or one per --reward-model (\(rewardModel.count)), found \(combine.count)")
        }
        if samples < 0 || samples > 1024 { throw ValidationError("--samples must be between 0 and 1024") }
        if samples > 0, let big = k.first(where: { $0 < 1 || $0 > samples }) {
            throw ValidationError("--k \(big): each k must be between 1 and --samples (\(samples))")
        }
        if samples > 0 && temperature <= 0 { throw ValidationError("--temperature must be above 0 for --samples (greedy samples would all agree)") }
    }

    func run() throws {
        if let experiment, let stage { return try rerun(experiment, stage: stage) }
        let dir = URL(fileURLWithPath: checkpoint!)
        let (model, tokenizer): (Transformer, Tokenizer)
        do { (model, tokenizer) = try ExperimentEval.loadCheckpoint(dir) } catch { throw fail("\(error)") }
        if let data { return try evaluateFile(data, model: model, tokenizer: tokenizer) }
        if let bestOf { return try bestOfN(bestOf, rewardModels: rewardModel, model: model, tokenizer: tokenizer, dir: dir) }

        let summary: EvalSummary, result: Evaluation.Result, source: String
        var system: String?
        if let systemPrompt {
            do { system = try String(contentsOfFile: systemPrompt, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) } catch {
                throw fail("--system-prompt \(systemPrompt): cannot read it as UTF-8 text (\(error.localizedDescription)); give a text file")
            }
            if system!.isEmpty { throw fail("--system-prompt \(systemPrompt): the file is empty; write the system message in it") }
        }
        do {
            if let (config, file) = try ExperimentEval.experiment(ofCheckpoint: dir) {
                (summary, result) = try ExperimentEval.evaluate(environment: env, of: config, model: model, tokenizer: tokenizer,
                                                                split: split ?? .validation, tasks: tasks, maxNewTokens: maxNewTokens,
                                                                sampled: sampled, systemPrompt: system)
                source = "\(env) as experiment \(config.name) configures it (\(file.path)): its settings, tools, split shares and held-out seed"
            } else {
                let spec = EnvironmentSpec(name: env)
                let config = try ExperimentConfig(name: "eval", environments: [spec], stages: [.tokenizer(TokenizerStage())])
                (summary, result) = try ExperimentEval.evaluate(environment: env, of: config, model: model, tokenizer: tokenizer,
                                                                split: split ?? .validation, tasks: tasks, maxNewTokens: maxNewTokens,
                                                                sampled: sampled, systemPrompt: system)
                source = "\(env) with its default settings and tools (no \(ExperimentRunner.configFileName) beside \(checkpoint!)); "
                    + "contamination unknown: the checkpoint's training data is not known"
            }
        } catch { throw fail("\(error)") }
        try report(summary, result, source: source + (system.map { "; system message from \(systemPrompt!): \"\($0.prefix(60))\"" } ?? ""))
    }

    /// Best-of-n points (BestOfN.swift) as a table or JSON, one per reward model.
    func bestOfN(_ n: Int, rewardModels: [String], model: Transformer, tokenizer: Tokenizer, dir: URL) throws {
        do {
            let rules = rewardModels.indices.map { combine.isEmpty ? "mean" : combine[combine.count == 1 ? 0 : $0] }
            let ensembles = try zip(rewardModels, rules).map { try RewardEnsemble.load(from: URL(fileURLWithPath: $0), rule: RewardEnsemble.Rule(rawValue: $1)!) }
            let config = try ExperimentEval.experiment(ofCheckpoint: dir)?.config
                ?? ExperimentConfig(name: "eval", environments: [EnvironmentSpec(name: env)], stages: [.tokenizer(TokenizerStage())])
            let tables = try BestOfN.run(environment: env, of: config, model: model, tokenizer: tokenizer, rewardModels: ensembles,
                                         split: split ?? .validation, tasks: tasks ?? 100, samples: n, temperature: Double(temperature),
                                         maxNewTokens: maxNewTokens ?? 64, seed: seed ?? 0)
            if json {
                printJSON(zip(zip(rewardModels, rules), tables).map { model, rows -> [String: Any] in
                    var out: [String: Any] = ["checkpoint": dir.path, "reward_model": model.0, "combine": model.1, "environment": env,
                                              "split": (split ?? .validation).rawValue, "seed": seed ?? 0, "rows": rows.map {
                        ["n": $0.n, "kl": $0.kl, "sqrt_kl": $0.kl.squareRoot(), "proxy": $0.proxy, "gold": $0.gold.estimate,
                         "gold_lower": $0.gold.lower, "gold_upper": $0.gold.upper] as [String: Any]
                    }]
                    if let fit = BestOfN.fit(rows) {
                        var f: [String: Any] = ["alpha": fit.alpha, "beta": fit.beta, "r_squared": fit.rSquared]
                        if let peak = fit.peak { f["peak_d"] = peak.d; f["peak_gold"] = rows[0].gold.estimate + peak.gold }
                        out["fit"] = f
                    }
                    return out
                })
                return
            }
            for ((path, rule), rows) in zip(zip(rewardModels, rules), tables) {
                print("best-of-n on \(env) (\((split ?? .validation).rawValue) split, \(tasks ?? 100) tasks): the pick of \(path) (\(rule)) among n samples")
                print("  n      KL      sqrt_kl  proxy     gold accuracy (95% CI)")
                for r in rows {
                    print(String(format: "  %-6d %-7.3f %-8.3f %-9.4f ", r.n, r.kl, r.kl.squareRoot(), r.proxy) + r.gold.formatted())
                }
                if let fit = BestOfN.fit(rows) {
                    let base = rows[0].gold.estimate
                    let peak = fit.peak.map { String(format: "peak gold %.1f%% at d = %.2f (n about %.0f)", 100 * (base + $0.gold), $0.d, Self.n(forSqrtKL: $0.d)) }
                        ?? "no peak (beta <= 0: gold still rising)"
                    print(String(format: "  fit gold - gold(n=1) = d (alpha - beta d): alpha %.4f, beta %.4f, R^2 %.3f; ", fit.alpha, fit.beta, fit.rSquared) + peak)
                }
            }
        } catch { throw fail("\(error)") }
    }

    /// The n whose best-of-n KL is d^2 (bisection on log n - (n - 1) / n, increasing in n).
    static func n(forSqrtKL d: Double) -> Double {
        var lo = 1.0, hi = 1e9
        for _ in 0..<200 {
            let mid = (lo * hi).squareRoot()
            if log(mid) - (mid - 1) / mid < d * d { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// Reruns an experiment's eval stage on every replicate asked for.
    func rerun(_ file: String, stage: String) throws {
        do {
            let config = try ExperimentConfig.load(path: file, overrides: try overrides.map(ConfigOverride.init))
            let seeds = seed.map { [$0] } ?? config.replicateSeeds
            let runsDirectory = URL(fileURLWithPath: runs)
            var replicates: [(seed: UInt64, evals: [EvalSummary])] = []
            for s in seeds {
                let replicate = config.replicate(seed: s, lookingIn: runsDirectory)
                let evals = try ExperimentEval.rerun(config: replicate, stageName: stage, runsDirectory: runsDirectory, split: split)
                if !json {
                    if seeds.count > 1 { print("== seed \(s)") }
                    for e in evals { EvalLines.describe(e, baseline: nil).forEach { print($0) } }
                }
                replicates.append((s, evals))
            }
            let rows = SeedGroup.rows(replicates)
            if json {
                printJSON(["experiment": config.name, "stage": stage, "seeds": seeds, "evaluations": SeedGroup.json(rows)] as [String: Any])
            } else if seeds.count > 1 {
                print("")
                SeedGroup.table(rows).forEach { print($0) }
            }
        } catch let error as ExperimentConfigError {
            throw fail("\(error)")
        } catch {
            throw fail("\(error)")
        }
    }

    /// Every line of a JSONL file, with a breakdown by `--by`.
    func evaluateFile(_ path: String, model: Transformer, tokenizer: Tokenizer) throws {
        let jsonl: JSONLEnvironment
        do { jsonl = try JSONLEnvironment(path: path, tools: tools) } catch { throw fail("\(error)") }
        for problem in jsonl.problems { FileHandle.standardError.write(Data("warning: \(path): \(problem); line skipped\n".utf8)) }
        let list = tasks.map { Array(jsonl.tasks.prefix($0)) } ?? jsonl.tasks
        do { try Evaluation.checkPromptsFit(list, tokenizer: tokenizer, model: model) } catch { throw fail("\(path): \(error)") }
        let executor: ToolExecutor = { tool, input in
            guard tool == .python else { return ("", "only the python tool is available to a JSONL eval") }
            let r = PythonTool().run(input)
            return (r.text, r.failure.map { "\($0)" })
        }
        let result = Evaluation.run(model: model, tokenizer: tokenizer, environment: jsonl, tasks: list, tools: executor,
                                    parameters: parameters(list.count))
        let summary = EvalSummary(stage: "eval", environment: "jsonl", split: nil, result: result, contamination: nil)
        try report(summary, result, source: "\(path): every line (\(list.count) tasks, \(jsonl.problems.count) lines skipped)")
    }

    /// The pass@k samples asked for (`--samples N`), for the environment evals.
    var sampled: (samples: Int, ks: [Int], temperature: Double)? {
        samples > 0 ? (samples, k, Double(temperature)) : nil
    }

    func parameters(_ count: Int) -> Evaluation.Parameters {
        Evaluation.Parameters(tasks: count, samples: samples, ks: k, temperature: temperature, maxNewTokens: maxNewTokens ?? 128)
    }

    func report(_ summary: EvalSummary, _ result: Evaluation.Result, source: String) throws {
        // Kept in the store like an experiment's eval stage: figures and every answer (run: none).
        let evalID = try store.open().recordEval(run: nil, checkpoint: checkpoint ?? "", suite: summary.environment, step: nil,
                                                 split: summary.split?.rawValue, metrics: ExperimentRunner.evalMetrics(summary, result),
                                                 items: ExperimentRunner.evalItems(result))
        let greedy = result.items.filter { $0.sampleIndex < 0 }
        let breakdown = by.map { path in
            Breakdown.accuracy(greedy.map { (Breakdown.merged($0.metadata), $0.verdict.failure == nil ? Evaluation.isCorrect($0.verdict) : nil) }, by: path)
        }
        if json {
            var object: [String: Any] = [
                "checkpoint": checkpoint ?? "", "environment": result.environment, "source": source, "graded": summary.graded, "eval_id": evalID,
                "greedy_accuracy": summary.greedyAccuracy, "machinery_failures": result.machineryFailures, "tool_use": result.greedyToolUse,
                "pass_at_k": Dictionary(uniqueKeysWithValues: result.passAtK.map { ("\($0.key)", $0.value) }),
                "verdicts": Dictionary(uniqueKeysWithValues: result.verdictCounts.map { ($0.key.rawValue, $0.value) }),
            ]
            if let a = summary.accuracy { object["interval"] = [a.lower, a.upper] }
            if let c = summary.contamination { object["contamination"] = c }
            if let split = summary.split { object["split"] = split.rawValue }
            if !summary.byPhrasing.isEmpty {
                object["phrasing"] = Dictionary(uniqueKeysWithValues: summary.byPhrasing.map {
                    ($0.phrasing, ["accuracy": $0.accuracy.estimate, "lower": $0.accuracy.lower, "upper": $0.accuracy.upper] as [String: Any])
                })
            }
            if let abstention = AbstentionLines.groups(result.items) {
                object["abstention"] = AbstentionLines.json(abstention)
                if let c = AbstentionLines.calibration(result.items) { object["calibration"] = AbstentionLines.json(c) }
                if let c = AbstentionLines.sequenceCalibration(result.items) { object["sequence_calibration"] = AbstentionLines.json(c) }
            }
            if let breakdown, let by {
                object["by"] = [by: breakdown.map { ["value": $0.value, "accuracy": $0.accuracy.estimate, "lower": $0.accuracy.lower,
                                                     "upper": $0.accuracy.upper, "graded": $0.graded] as [String: Any] }]
            }
            printJSON(object)
            return
        }
        print("\(checkpoint ?? ""): \(source)")
        EvalLines.describe(summary, baseline: nil).forEach { print($0) }
        for kk in result.passAtK.keys.sorted() {
            print("  pass@\(kk) " + (result.passAtKIntervals[kk]?.formatted() ?? String(format: "%.1f%%", result.passAtK[kk]! * 100))
                  + " (\(samples) samples per task; 95% t-interval over tasks)")
        }
        if let abstention = AbstentionLines.groups(result.items) {
            AbstentionLines.describe(abstention).forEach { print($0) }
            if let c = AbstentionLines.calibration(result.items) { AbstentionLines.describe(c).forEach { print($0) } }
            if let c = AbstentionLines.sequenceCalibration(result.items) { AbstentionLines.describe(c).forEach { print($0) } }
        }
        print("  stored as eval \(evalID) in \(store.db)")
        print("  verdicts: " + result.verdictCounts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
        if let breakdown, let by {
            if breakdown.isEmpty {
                print("  no item has a `\(by)` field")
            } else {
                print("  by \(by):")
                for row in breakdown { print("    \(pad(row.value, 16)) \(pad(row.accuracy.formatted(), 22)) of \(row.graded)") }
            }
        }
        for item in greedy.prefix(3) {
            print("  e.g. \(item.prompt.replacingOccurrences(of: "\n", with: " ")) -> \(item.completion.replacingOccurrences(of: "\n", with: " ")) [\(item.verdict.kind.rawValue)]")
        }
    }
}
extension Tool: ExpressibleByArgument {}
