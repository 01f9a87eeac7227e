// Evaluations reproduce and replicate: rerunning an experiment's eval stage from its file (or
// from the experiment.yaml beside a checkpoint) grades the same tasks with the same verdicts;
// a seed group files its replicates under one experiment row, answers the same questions in
// every replicate, and is summarised across seeds; eval items keep their task metadata.
import Foundation
import Testing
@testable import Experiments
import Model
import PonderCore
import Storage

@Suite(.serialized) struct ReproducibilityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-repro-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func tinyGRPO(_ overrides: [String] = []) throws -> ExperimentConfig {
        try ExperimentConfig.load(path: root.appendingPathComponent("experiments/tiny-grpo.yaml").path,
                                  overrides: overrides.map(ConfigOverride.init))
    }

    @Test func rerunningAnEvalStageReproducesIt() throws {
        let config = try Self.tinyGRPO(["stages.before_rl.tasks=20", "stages.after_rl.tasks=20"])
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore.open(path: dir.appendingPathComponent("ponder.sqlite").path)
        let runs = dir.appendingPathComponent("runs")
        let runner = ExperimentRunner(config: config, store: store, options: RunnerOptions(runsDirectory: runs)) { _ in }
        try runner.run()
        let original = try #require(runner.evals.first { $0.stage == "after_rl" })
        #expect(original.graded == 20 && original.contamination == 0)

        let again = try #require(try ExperimentEval.rerun(config: config, stageName: "after_rl", runsDirectory: runs).first)
        #expect(again.outcomes == original.outcomes)
        #expect(again.contamination == 0 && again.split == .validation)

        // The test split: other questions, none of them trained on either.
        let test = try #require(try ExperimentEval.rerun(config: config, stageName: "after_rl", runsDirectory: runs, split: .test).first)
        #expect(Set(test.outcomes.keys).isDisjoint(with: original.outcomes.keys) && test.contamination == 0 && test.split == .test)

        // From the checkpoint alone: before_rl evaluated the sft checkpoint, and the experiment.yaml
        // beside it rebuilds that evaluation.
        let sft = config.runDirectory(in: runs).appendingPathComponent("sft")
        let (found, file) = try #require(try ExperimentEval.experiment(ofCheckpoint: sft))
        #expect(file.lastPathComponent == "experiment.yaml" && found == config)
        let (model, tokenizer) = try ExperimentEval.loadCheckpoint(sft)
        let viaCheckpoint = try ExperimentEval.evaluate(environment: "arithmetic", of: found, model: model, tokenizer: tokenizer,
                                                        split: .validation, tasks: nil, maxNewTokens: nil).summary
        #expect(viaCheckpoint.outcomes == runner.evals.first { $0.stage == "before_rl" }!.outcomes)

        // Mistakes name what exists.
        #expect(throws: RunnerError.self) { try ExperimentEval.rerun(config: config, stageName: "after", runsDirectory: runs) }
        do { _ = try ExperimentEval.rerun(config: config, stageName: "grpo", runsDirectory: runs) } catch {
            #expect("\(error)".contains("not an eval stage (eval stages: before_rl, after_rl)"))
        }

        // Stored items carry their task's metadata and split.
        let record = try #require(try store.evals(run: nil).last { $0.suite == "arithmetic" })
        #expect(record.split == "validation")
        let item = try #require(try store.evalItems(eval: record.id!).first)
        let metadata = Breakdown.object(json: item.metadata)
        #expect(metadata["split"] as? String == "validation" && metadata["expression"] is String)
    }

    @Test func aSeedGroupSharesItsQuestionsAndItsExperimentRow() throws {
        let config = try Self.tinyGRPO(["seeds=[3,4]", "stages.grpo.steps=2"])
        #expect(config.seed == 3 && config.replicateSeeds == [3, 4])
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore.open(path: dir.appendingPathComponent("ponder.sqlite").path)
        let runs = dir.appendingPathComponent("runs")
        var replicateEvents: [UInt64] = []
        let replicates = try SeedGroup.run(config, store: store, options: RunnerOptions(runsDirectory: runs)) { event in
            if case .replicateStarted(let seed, _, _) = event { replicateEvents.append(seed) }
        }
        #expect(replicates.map(\.seed) == [3, 4] && replicateEvents == [3, 4])
        for seed in [3, 4] {
            #expect(FileManager.default.fileExists(atPath: runs.appendingPathComponent("tiny-grpo/seed-\(seed)/grpo/model.safetensors").path))
        }
        let all = try store.runs()
        #expect(Set(all.map(\.run.experimentID)).count == 1, "one experiment row for the group")
        let grpo = try store.findRun("tiny-grpo/grpo")
        #expect(try store.seedGroup(of: grpo).map(\.seed) == [3, 4])
        // Both replicates answered the same questions (the held-out seed is shared), with different weights.
        let a = replicates[0].runner.evals, b = replicates[1].runner.evals
        #expect(Set(a[0].outcomes.keys) == Set(b[0].outcomes.keys))
        let rows = SeedGroup.rows(replicates.map { ($0.seed, $0.runner.evals) })
        #expect(rows.map(\.stage) == ["before_rl", "before_rl", "after_rl", "after_rl"])
        #expect(rows.map(\.environment) == ["arithmetic", "counting", "arithmetic", "counting"])
        #expect(rows.allSatisfy { $0.perSeed.map(\.seed) == [3, 4] })
        #expect(rows[2].baseline == "before_rl" && rows[2].changePerSeed.count == 2 && rows[0].baseline == nil)

        // Resuming a completed group skips every stage of every replicate and rebuilds the same table.
        var skipped = 0
        let resumed = try SeedGroup.run(config, store: store, options: RunnerOptions(resume: true, runsDirectory: runs)) { event in
            if case .stageSkipped = event { skipped += 1 }
        }
        #expect(skipped == 2 * config.stages.count)
        #expect(SeedGroup.rows(resumed.map { ($0.seed, $0.runner.evals) }).map(\.perSeed.count) == [2, 2, 2, 2])
        #expect(resumed[1].runner.evals.map(\.outcomes) == b.map(\.outcomes))
    }

    /// A file without `seeds` run with `ponder run --seeds 0,1,2` keeps its replicates under
    /// runs/NAME/seed-S; an eval of seed S finds them there, and finds runs/NAME otherwise.
    @Test func aReplicateIsFoundWhereTheRunPutIt() throws {
        let config = try Self.tinyGRPO()
        #expect(config.seeds.isEmpty)
        let runs = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: runs) }
        let plain = runs.appendingPathComponent(config.name).path
        #expect(config.replicate(seed: 1, lookingIn: runs).runDirectory(in: runs).path == plain)
        let seedOne = runs.appendingPathComponent(config.name).appendingPathComponent("seed-1")
        try FileManager.default.createDirectory(at: seedOne, withIntermediateDirectories: true)
        let found = config.replicate(seed: 1, lookingIn: runs)
        #expect(found.runDirectory(in: runs).path == seedOne.path && found.seed == 1)
        #expect(config.replicate(seed: 2, lookingIn: runs).runDirectory(in: runs).path == plain)
        // A seed group's replicate is its seed folder whether or not it exists yet.
        let group = try Self.tinyGRPO(["seeds=[4,5]"])
        #expect(group.replicate(seed: 5, lookingIn: runs).runDirectory(in: runs).lastPathComponent == "seed-5")
    }

    /// Across seeds the accuracy is the mean with a t-interval, and a change is called only when
    /// the interval of the per-seed paired changes excludes 0.
    @Test func groupFiguresAcrossSeeds() throws {
        func summary(_ stage: String, _ outcomes: [Double]) -> EvalSummary {
            EvalSummary(stage: stage, environment: "arithmetic", split: .validation,
                        outcomes: Dictionary(uniqueKeysWithValues: outcomes.enumerated().map { ("t\($0.offset)", $0.element) }),
                        machineryFailures: 0, passAtK: [:], toolUse: 0, contamination: 0, byHeldOutKind: [])
        }
        let ten = Array(repeating: 0.0, count: 10)
        func ones(_ n: Int) -> [Double] { Array(repeating: 1, count: n) + Array(repeating: 0, count: 10 - n) }
        let replicates: [(seed: UInt64, evals: [EvalSummary])] = [
            (0, [summary("before", ten), summary("after", ones(6))]),
            (1, [summary("before", ten), summary("after", ones(7))]),
            (2, [summary("before", ten), summary("after", ones(8))]),
        ]
        let rows = SeedGroup.rows(replicates)
        let after = rows[1]
        let accuracy = try #require(after.accuracy), change = try #require(after.change)
        #expect(abs(accuracy.estimate - 0.7) < 1e-12)
        #expect(abs(accuracy.upper - 0.7 - 4.302652729749462 * 0.1 / 3.0.squareRoot()) < 1e-8)
        #expect(after.isSignificantChange && change.lower > 0)
        let table = SeedGroup.table(rows).joined(separator: "\n")
        #expect(table.contains("over 3 seeds") && table.contains("60.0 70.0 80.0") && !table.contains("no significant change"))

        // Changes of +10, -10 and 0 points: no significant change, and the table says so.
        let mixed: [(seed: UInt64, evals: [EvalSummary])] = [
            (0, [summary("before", ones(5)), summary("after", ones(6))]),
            (1, [summary("before", ones(5)), summary("after", ones(4))]),
            (2, [summary("before", ones(5)), summary("after", ones(5))]),
        ]
        let flat = SeedGroup.rows(mixed)[1]
        #expect(!flat.isSignificantChange)

        // Seeds far apart (10%, 70%, 100%): the t-interval over seeds is cut to what an accuracy can be.
        let spread: [(seed: UInt64, evals: [EvalSummary])] = [
            (0, [summary("before", ten), summary("after", ones(1))]),
            (1, [summary("before", ten), summary("after", ones(7))]),
            (2, [summary("before", ten), summary("after", ones(10))]),
        ]
        let wide = try #require(SeedGroup.rows(spread)[1].accuracy)
        #expect(wide.lower == 0 && wide.upper == 1 && abs(wide.estimate - 0.6) < 1e-12)
        #expect(SeedGroup.table(SeedGroup.rows(mixed)).joined().contains("(no significant change)"))

        // One run: Wilson interval, and the eval line's wording.
        let single = summary("after", ones(3))
        #expect(EvalLines.describe(single, baseline: summary("before", ten)).joined().contains("no significant change"))
        let big = summary("after", Array(repeating: 1, count: 40) + Array(repeating: 0, count: 10))
        let base = summary("before", Array(repeating: 0, count: 50))
        let line = try #require(EvalLines.comparison(big, base))
        #expect(line.hasPrefix("vs before (paired, 50 tasks): +80.0 points [") && line.hasSuffix(": a gain"), "\(line)")
    }
}
