// SeedGroup: an experiment run once per seed (`seeds: [0, 1, 2]` or `ponder run FILE --seeds
// 0,1,2`), and what the replicates say together (DESIGN.md §12).
//
// Each replicate is an ordinary run of the experiment with that seed (its own run rows, filed
// under one experiment row, and its own runs/NAME/seed-S/ folder); evaluation tasks come from the
// shared held-out seed, so every replicate answers the same questions. Across replicates:
//   accuracy  mean over seeds of each replicate's greedy accuracy, with the t-interval
//             mean +- t_{0.975, S-1} sd / sqrt(S); with one seed, that run's Wilson interval.
//   change    per replicate, the paired difference from the first evaluation of the same
//             environment and split (same tasks), then the mean with its t-interval across
//             seeds; with one seed, the per-task paired interval. Called a change only when the
//             interval excludes 0.

import Foundation
import PonderCore
import Storage

public enum SeedGroup {
    /// Runs every replicate of `config` in seed order; stops early when one is interrupted.
    /// Returns each replicate's runner (its evals, whether it was interrupted).
    public static func run(_ config: ExperimentConfig, store: RunStore, options: RunnerOptions,
                           report: @escaping (RunEvent) -> Void) throws -> [(seed: UInt64, runner: ExperimentRunner)] {
        let seeds = config.replicateSeeds
        var group = options
        if !config.seeds.isEmpty && group.groupConfigText == nil { group.groupConfigText = config.resolvedYAML() }
        var done: [(seed: UInt64, runner: ExperimentRunner)] = []
        for (i, seed) in seeds.enumerated() {
            if seeds.count > 1 || !config.seeds.isEmpty { report(.replicateStarted(seed: seed, index: i + 1, count: seeds.count)) }
            let replicate = config.seeds.isEmpty ? config : config.replicate(seed: seed)
            let runner = ExperimentRunner(config: replicate, store: store, options: group, report: report)
            try runner.run()
            done.append((seed, runner))
            if runner.interrupted { break }
        }
        return done
    }

    /// One evaluation across the replicates.
    public struct Row: Sendable {
        public var stage: String
        public var environment: String
        public var split: Split?
        /// Each replicate's greedy accuracy, by seed.
        public var perSeed: [(seed: UInt64, accuracy: Double, graded: Int)]
        /// Mean with its t-interval across seeds (Wilson for one seed).
        public var accuracy: Interval?
        /// The stage this row is compared with (the first evaluation of the same environment
        /// and split), and the paired change from it.
        public var baseline: String?
        public var change: Interval?
        /// The per-seed paired changes.
        public var changePerSeed: [Double]
        /// Mean share of greedy answers that called a tool.
        public var toolUse: Double
        /// Accuracy per held-out kind (code: unseen spec / seen spec, unseen inputs), as `accuracy`.
        public var byHeldOutKind: [(kind: String, accuracy: Interval?)]

        public var isSignificantChange: Bool { change?.excludes(0) ?? false }
    }

    /// Rows in the order the evaluations ran, one per (stage, environment).
    public static func rows(_ replicates: [(seed: UInt64, evals: [EvalSummary])]) -> [Row] {
        guard let first = replicates.first else { return [] }
        return first.evals.map { e in
            var perSeed: [(UInt64, Double, Int)] = []
            var changes: [Double] = [], toolUse: [Double] = []
            var kinds: [String: [Interval]] = [:]
            var single: (accuracy: Interval?, change: Interval?) = (nil, nil)
            var baselineStage: String?
            for (seed, evals) in replicates {
                guard let mine = evals.first(where: { $0.stage == e.stage && $0.environment == e.environment }) else { continue }
                perSeed.append((seed, mine.greedyAccuracy, mine.graded))
                toolUse.append(mine.toolUse)
                for (kind, accuracy) in mine.byHeldOutKind { kinds[kind, default: []].append(accuracy) }
                let baseline = evals.first { $0.environment == mine.environment && $0.split == mine.split }
                if let baseline, baseline.stage != mine.stage, let d = mine.change(from: baseline) {
                    baselineStage = baseline.stage
                    changes.append(d.estimate)
                    single.change = d
                }
                single.accuracy = mine.accuracy
            }
            let several = perSeed.count > 1
            return Row(stage: e.stage, environment: e.environment, split: e.split, perSeed: perSeed,
                       accuracy: several ? Statistics.meanInterval(perSeed.map(\.1))?.clamped(to: 0...1) : single.accuracy,
                       baseline: baselineStage,
                       change: several ? Statistics.meanInterval(changes)?.clamped(to: -1...1) : single.change,
                       changePerSeed: changes, toolUse: toolUse.reduce(0, +) / Double(max(1, toolUse.count)),
                       byHeldOutKind: kinds.keys.sorted().map { kind in
                           let values = kinds[kind]!
                           return (kind, values.count > 1 ? Statistics.meanInterval(values.map(\.estimate))?.clamped(to: 0...1) : values.first)
                       })
        }
    }

    /// The end-of-run table of a group.
    public static func table(_ rows: [Row]) -> [String] {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        let seeds = rows.first?.perSeed.count ?? 0
        var lines = [seeds > 1
            ? "held-out greedy accuracy over \(seeds) seeds: mean with 95% t-interval across seeds (changes paired per seed on the same tasks):"
            : "held-out greedy accuracy, 95% intervals (Wilson; changes paired on the same tasks):"]
        lines.append("  " + pad("stage", 14) + pad("environment", 12) + pad("split", 11) + pad("accuracy", 22)
                     + (seeds > 1 ? pad("per seed", 20) : pad("tasks", 7)) + "change")
        for row in rows {
            var change = ""
            if let c = row.change, let baseline = row.baseline {
                change = EvalLines.points(c) + " vs \(baseline)" + (c.excludes(0) ? "" : " (no significant change)")
            }
            let perSeed = seeds > 1
                ? pad(row.perSeed.map { String(format: "%.1f", $0.accuracy * 100) }.joined(separator: " "), 20)
                : pad("\(row.perSeed.first?.graded ?? 0)", 7)
            lines.append("  " + pad(row.stage, 14) + pad(row.environment, 12) + pad(row.split?.rawValue ?? "file", 11)
                         + pad(row.accuracy?.formatted() ?? "n/a", 22) + perSeed + change)
        }
        return lines
    }

    /// The rows as JSON-ready values (`ponder run --summary-json`, read by `make results`).
    public static func json(_ rows: [Row]) -> [[String: Any]] {
        rows.map { row in
            var object: [String: Any] = [
                "stage": row.stage, "environment": row.environment, "split": row.split?.rawValue ?? NSNull(),
                "per_seed": row.perSeed.map { ["seed": $0.seed, "accuracy": $0.accuracy, "graded": $0.graded] as [String: Any] },
                "change_per_seed": row.changePerSeed, "tool_use": row.toolUse,
            ]
            var kinds: [String: Any] = [:]
            for (kind, accuracy) in row.byHeldOutKind {
                kinds[kind] = accuracy.map { ["mean": $0.estimate, "lower": $0.lower, "upper": $0.upper] } ?? NSNull()
            }
            if !kinds.isEmpty { object["by_held_out_kind"] = kinds }
            if let a = row.accuracy { object["accuracy"] = ["mean": a.estimate, "lower": a.lower, "upper": a.upper] }
            if let c = row.change, let b = row.baseline {
                object["change"] = ["baseline": b, "mean": c.estimate, "lower": c.lower, "upper": c.upper, "significant": c.excludes(0)]
            }
            return object
        }
    }
}
