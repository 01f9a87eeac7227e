// What the command line reads back: `ponder runs`, `compare`, `rollouts`, and the runner's resume.
// Reads go through the pool's reader connections, so they never wait for a training step.
import Foundation
import GRDB

/// One line of `ponder runs`.
public struct RunSummary: Sendable, Equatable {
    public var run: RunRecord
    public var experiment: String
    /// Distinct steps with at least one metric.
    public var steps: Int
    public var lastStep: Int?
    /// Value at the last step of the first loss metric found (see `RunStore.runs`), if any.
    public var lastLoss: Double?
    public var lastReward: Double?

    /// Wall time from start to end, or to the last write for a run still (or apparently) running.
    public var duration: TimeInterval {
        (run.endedAt ?? run.updatedAt).timeIntervalSince(run.startedAt)
    }
}

/// A rollout with each reward function's result, ordered by function name.
public struct StoredRollout: Sendable, Equatable {
    public var rollout: RolloutRecord
    public var rewards: [RolloutRewardRecord]
}

/// One point of a metric curve. NaN where the trainer logged NaN.
public struct MetricPoint: Sendable, Equatable {
    public var step: Int
    public var value: Double

    public init(step: Int, value: Double) { self.step = step; self.value = value }

    public static func == (a: MetricPoint, b: MetricPoint) -> Bool {
        a.step == b.step && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
    }
}

extension RunStore {
    /// Metric names tried, in order, for the summary's loss and reward columns.
    public static let lossMetricNames = ["loss", "policy_loss", "train/loss"]
    public static let rewardMetricNames = ["reward", "reward_mean", "reward/mean"]

    /// Every run, newest first, with its experiment's name and its latest figures.
    public func runs(lossMetrics: [String] = RunStore.lossMetricNames,
                     rewardMetrics: [String] = RunStore.rewardMetricNames) throws -> [RunSummary] {
        try database.read { db in
            let runs = try RunRecord.order(sql: "id DESC").fetchAll(db)
            let names = try Dictionary(uniqueKeysWithValues: ExperimentRecord.fetchAll(db).map { ($0.id!, $0.name) })
            return try runs.map { run in
                let id = run.id!
                let counts = try Row.fetchOne(db, sql: "SELECT COUNT(DISTINCT step) AS n, MAX(step) AS last FROM metrics WHERE run_id = ?",
                                              arguments: [id])
                return RunSummary(run: run, experiment: names[run.experimentID] ?? "?",
                                  steps: counts?["n"] ?? 0, lastStep: counts?["last"],
                                  lastLoss: try lastValue(db, run: id, names: lossMetrics),
                                  lastReward: try lastValue(db, run: id, names: rewardMetrics))
            }
        }
    }

    private func lastValue(_ db: Database, run: Int64, names: [String]) throws -> Double? {
        for name in names {
            if let row = try Row.fetchOne(db, sql: "SELECT value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step DESC LIMIT 1",
                                          arguments: [run, name]) {
                return (row["value"] as Double?) ?? .nan
            }
        }
        return nil
    }

    public func run(id: Int64) throws -> RunRecord? {
        try database.read { db in try RunRecord.fetchOne(db, key: id) }
    }

    /// The run named by `key`: an id ("12"), or a name, meaning the newest run of that name.
    public func findRun(_ key: String) throws -> RunRecord {
        let found = try database.read { db -> RunRecord? in
            if let id = Int64(key), let run = try RunRecord.fetchOne(db, key: id) { return run }
            return try RunRecord.filter(sql: "name = ?", arguments: [key]).order(sql: "id DESC").fetchOne(db)
        }
        guard let found else { throw StoreError.runNotFound(key) }
        return found
    }

    /// The newest run of an experiment's stage (of one seed, when given), which is the one a
    /// `--resume` continues.
    public func latestRun(experimentName: String, stage: String, seed: UInt64? = nil) throws -> RunRecord? {
        try database.read { db in
            try RunRecord.fetchOne(db, sql: """
                SELECT runs.* FROM runs JOIN experiments ON experiments.id = runs.experiment_id
                WHERE experiments.name = ? AND runs.stage = ? AND (?3 IS NULL OR runs.seed = ?3) ORDER BY runs.id DESC LIMIT 1
                """, arguments: [experimentName, stage, seed.map { Int64(bitPattern: $0) }])
        }
    }

    /// The seed group of a run: the newest run of each seed with the same experiment row and
    /// stage, in seed order (the run alone when it has no replicates).
    public func seedGroup(of run: RunRecord) throws -> [RunRecord] {
        try database.read { db in
            let all = try RunRecord.filter(sql: "experiment_id = ? AND stage = ?", arguments: [run.experimentID, run.stage])
                .order(sql: "id DESC").fetchAll(db)
            var newest: [UInt64: RunRecord] = [:]
            for r in all where newest[r.seed] == nil { newest[r.seed] = r }
            return newest.values.sorted { $0.seed < $1.seed }
        }
    }

    public func experiment(id: Int64) throws -> ExperimentRecord? {
        try database.read { db in try ExperimentRecord.fetchOne(db, key: id) }
    }

    /// The highest step with any metric row, or nil for a run that recorded none.
    public func lastStep(run: Int64) throws -> Int? {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT MAX(step) FROM metrics WHERE run_id = ?", arguments: [run]) }
    }

    /// The metric names a run logged, sorted.
    public func metricNames(run: Int64) throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name", arguments: [run])
        }
    }

    /// One metric's curve, by step.
    public func metricSeries(run: Int64, name: String) throws -> [MetricPoint] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT step, value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step",
                             arguments: [run, name])
                .map { MetricPoint(step: $0["step"], value: ($0["value"] as Double?) ?? .nan) }
        }
    }

    /// All metrics of one step, NaN for NULL.
    public func metrics(run: Int64, step: Int) throws -> [String: Double] {
        try database.read { db in
            let rows = try MetricRecord.filter(sql: "run_id = ? AND step = ?", arguments: [run, step]).fetchAll(db)
            return Dictionary(uniqueKeysWithValues: rows.map { ($0.name, $0.value ?? .nan) })
        }
    }

    /// The rollouts of a run (of one step, if given), in step, group, sample order.
    public func rollouts(run: Int64, step: Int? = nil) throws -> [StoredRollout] {
        try database.read { db in
            var request = RolloutRecord.filter(sql: "run_id = ?", arguments: [run])
            if let step { request = request.filter(sql: "step = ?", arguments: [step]) }
            let rollouts = try request.order(sql: "step, group_index, sample_index").fetchAll(db)
            return try attachRewards(db, rollouts)
        }
    }

    /// The `limit` lowest-reward rollouts of a run (of one step, if given): what `ponder rollouts
    /// --worst K` shows. Rollouts without a total reward come last.
    public func worstRollouts(run: Int64, step: Int? = nil, limit: Int) throws -> [StoredRollout] {
        try database.read { db in
            var request = RolloutRecord.filter(sql: "run_id = ?", arguments: [run])
            if let step { request = request.filter(sql: "step = ?", arguments: [step]) }
            let rollouts = try request
                .order(sql: "total_reward IS NULL, total_reward ASC, step, group_index, sample_index")
                .limit(limit).fetchAll(db)
            return try attachRewards(db, rollouts)
        }
    }

    private func attachRewards(_ db: Database, _ rollouts: [RolloutRecord]) throws -> [StoredRollout] {
        guard !rollouts.isEmpty else { return [] }
        var byRollout: [Int64: [RolloutRewardRecord]] = [:]
        // Chunks keep the IN list under SQLite's variable limit.
        let ids = rollouts.map { $0.id! }
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            let rows = try RolloutRewardRecord.fetchAll(
                db, sql: "SELECT * FROM rollout_rewards WHERE rollout_id IN (\(marks)) ORDER BY rollout_id, function",
                arguments: StatementArguments(chunk))
            for reward in rows { byRollout[reward.rolloutID, default: []].append(reward) }
        }
        return rollouts.map { StoredRollout(rollout: $0, rewards: byRollout[$0.id!] ?? []) }
    }

    public func checkpoints(run: Int64) throws -> [CheckpointRecord] {
        try database.read { db in
            try CheckpointRecord.filter(sql: "run_id = ?", arguments: [run]).order(sql: "step").fetchAll(db)
        }
    }

    /// Evaluations of a run's checkpoints (all evaluations when `run` is nil), oldest first.
    public func evals(run: Int64?) throws -> [EvalRecord] {
        try database.read { db in
            var request = EvalRecord.order(sql: "id")
            if let run { request = request.filter(sql: "run_id = ?", arguments: [run]) }
            return try request.fetchAll(db)
        }
    }

    public func evalItems(eval: Int64) throws -> [EvalItemRecord] {
        try database.read { db in
            try EvalItemRecord.filter(sql: "eval_id = ?", arguments: [eval])
                .order(sql: "item_index, sample_index").fetchAll(db)
        }
    }
}
