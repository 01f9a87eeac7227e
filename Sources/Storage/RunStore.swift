// RunStore: the one door to ponder.sqlite (DESIGN.md §8). Opening, and everything trainers write.
// Queries for the command line are in RunStore+Queries.swift.
//
// A file store is a GRDB DatabasePool, so SQLite runs in WAL mode with synchronous = NORMAL:
// one writer, readers that never block it (`ponder runs` while a run trains), and a commit that
// needs no fsync. Durability, stated plainly: a transaction that returned has reached the
// operating system, so it survives a kill of the process at any instant (StorageTests kill a
// writer with SIGKILL to check this); a power loss or kernel crash may lose the last few commits,
// never the database's consistency. Every write method is one transaction: a step's metrics,
// rollouts and per-function rewards land together or not at all.
//
// GRDB opens write transactions IMMEDIATE, so a read-then-write such as `upsertExperiment` holds
// the write lock throughout, and two processes sharing one file (two stages, or a trainer and an
// eval) wait for each other through the busy timeout instead of failing.
//
// Not here: retries, caching, background writes. A trainer calls `recordStep` synchronously once
// per step; at the rates of StoreBenchmark.swift that is far below a step's cost.
import Foundation
import GRDB

/// Errors a user can act on. `description` says what to do.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The file has applied migrations this build does not know. Nothing was written to it.
    case newerSchema(file: String, unknownMigrations: [String])
    /// The file exists but SQLite cannot read it as a database.
    case notADatabase(file: String, reason: String)
    case runNotFound(String)
    /// The step already has rows: resume with `truncate(run:afterStep:)` first.
    case stepAlreadyRecorded(run: Int64, step: Int)

    public var description: String {
        switch self {
        case let .newerSchema(file, unknown):
            return "\(file) was written by a newer Ponder (schema \(unknown.joined(separator: ", "))); "
                + "upgrade Ponder or use another --db"
        case let .notADatabase(file, reason):
            return "\(file) is not a Ponder database (\(reason)); move it away or use another --db"
        case let .runNotFound(key):
            return "no run '\(key)' in the store; `ponder runs` lists them"
        case let .stepAlreadyRecorded(run, step):
            return "run \(run) already has rows for step \(step) (or the step lists one group and sample twice); "
                + "a resumed run must truncate the store to its checkpoint's step before recording again"
        }
    }
}

/// One reward function's result on one rollout: a value, or why there is none.
public struct RewardValue: Sendable, Equatable {
    public var function: String
    public var value: Double?
    public var failure: String?

    public init(function: String, value: Double?, failure: String? = nil) {
        self.function = function; self.value = value; self.failure = failure
    }
}

/// A rollout as a trainer hands it over; the store adds the run, the step and the row ids.
public struct NewRollout: Sendable, Equatable {
    public var groupIndex: Int
    public var sampleIndex: Int
    public var taskID: String
    public var environment: String
    public var prompt: String
    public var completion: String
    public var tokenCount: Int
    public var finishReason: String
    public var totalReward: Double?
    public var advantage: Double?
    /// JSON text, or nil when no tool was called.
    public var toolCalls: String?
    public var rewards: [RewardValue]

    public init(groupIndex: Int, sampleIndex: Int, taskID: String, environment: String, prompt: String,
                completion: String, tokenCount: Int, finishReason: String, totalReward: Double?,
                advantage: Double?, toolCalls: String? = nil, rewards: [RewardValue] = []) {
        self.groupIndex = groupIndex; self.sampleIndex = sampleIndex; self.taskID = taskID
        self.environment = environment; self.prompt = prompt; self.completion = completion
        self.tokenCount = tokenCount; self.finishReason = finishReason; self.totalReward = totalReward
        self.advantage = advantage; self.toolCalls = toolCalls; self.rewards = rewards
    }
}

/// One graded answer as an evaluation hands it over.
/// A preference pair as the store keeps it (texts as the chat format would show them).
public struct NewPreferencePair: Sendable, Equatable {
    public var split: String
    public var pairIndex: Int
    public var source: String
    public var taskID: String?
    public var environment: String?
    /// The prompt's messages, JSON.
    public var prompt: String
    public var chosen: String
    public var rejected: String
    public var margin: Double?
    public var goldAgrees: Bool?
    /// A JSON object of the line's other keys (file pairs).
    public var extra: String?

    public init(split: String, pairIndex: Int, source: String, taskID: String?, environment: String?, prompt: String,
                chosen: String, rejected: String, margin: Double?, goldAgrees: Bool?, extra: String?) {
        self.split = split; self.pairIndex = pairIndex; self.source = source; self.taskID = taskID; self.environment = environment
        self.prompt = prompt; self.chosen = chosen; self.rejected = rejected; self.margin = margin; self.goldAgrees = goldAgrees
        self.extra = extra
    }
}

public struct NewEvalItem: Sendable, Equatable {
    public var itemIndex: Int
    public var sampleIndex: Int
    public var taskID: String
    public var answerable: Bool
    public var prompt: String
    public var completion: String
    public var reference: String
    public var extracted: String?
    public var verdict: EvalVerdict
    /// The task's metadata, a JSON object.
    public var metadata: String?
    /// A machinery failure (sandbox, timeout): the item is then not evidence about the model.
    public var failure: String?

    public init(itemIndex: Int, sampleIndex: Int = 0, taskID: String, answerable: Bool = true, prompt: String,
                completion: String, reference: String, extracted: String?, verdict: EvalVerdict,
                metadata: String? = nil, failure: String? = nil) {
        self.itemIndex = itemIndex; self.sampleIndex = sampleIndex; self.taskID = taskID
        self.answerable = answerable; self.prompt = prompt; self.completion = completion
        self.reference = reference; self.extracted = extracted; self.verdict = verdict
        self.metadata = metadata; self.failure = failure
    }
}

public struct RunStore: Sendable {
    /// The connection(s). Public for ad-hoc reads (`ponder` subcommands, tests); writes should go
    /// through the methods below, which keep one transaction per logical write.
    public let database: any DatabaseWriter

    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    /// Throws `StoreError.newerSchema` or `.notADatabase`, without writing, for files it must not touch.
    public static func open(path: String) throws -> RunStore {
        let file = (path as NSString).lastPathComponent
        if FileManager.default.fileExists(atPath: path) {
            try refuseUnknownSchema(path: path, file: file)
        }
        do {
            return try RunStore(database: openPool(path: path))
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw StoreError.notADatabase(file: file, reason: error.message ?? "\(error)")
        }
    }

    /// Switching a new file to WAL needs a lock that SQLite refuses at once, without the busy
    /// timeout, while another connection is switching it too: try again for up to ten seconds.
    private static func openPool(path: String) throws -> DatabasePool {
        let deadline = Date().addingTimeInterval(10)
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration())
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    /// A private in-memory store, for tests and dry runs.
    public static func inMemory() throws -> RunStore {
        try RunStore(database: DatabaseQueue(configuration: configuration()))
    }

    /// A private in-memory copy of the store at `path` (read through a read-only connection):
    /// what the ranks other than 0 of a data-parallel run write to, so they make rank 0's
    /// decisions without touching its file.
    public static func inMemoryCopy(of path: String) throws -> RunStore {
        var readOnly = configuration()
        readOnly.readonly = true
        let source = try DatabaseQueue(path: path, configuration: readOnly)
        let copy = try DatabaseQueue(configuration: configuration())
        try source.backup(to: copy)
        try source.close()
        return try RunStore(database: copy)
    }

    init(database: any DatabaseWriter) throws {
        self.database = database
        try Self.migrate(database)
    }

    /// Brings the schema up to date when other processes may be doing the same: GRDB reads the
    /// applied migrations before each migration's own transaction, so two processes opening a
    /// new store at once (a trainer and `ponder runs`, a test polling the file) can both try to
    /// apply "v1", and the second fails with "table already exists". Its transaction waited for
    /// the first's lock, so by then the migrations it lost to are committed: when the applied
    /// set has grown, read it again and carry on; any other failure is thrown as it is.
    private static func migrate(_ database: any DatabaseWriter) throws {
        func applied() throws -> Set<String> { try database.read { try Schema.appliedIdentifiers($0) } }
        var before = try applied()
        for attempt in 1... {
            do {
                return try Schema.migrator.migrate(database)
            } catch let error as DatabaseError {
                let after = try applied()
                guard attempt < 2 * Schema.knownIdentifiers.count, after.count > before.count else { throw error }
                before = after
            }
        }
    }

    private static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.label = "ponder.store"
        // A trainer writing while `ponder runs` reads, or two stages of one experiment in two
        // processes: wait for the lock rather than fail.
        configuration.busyMode = .timeout(30)
        configuration.foreignKeysEnabled = true
        return configuration
    }

    /// Reads the applied migrations through a read-only connection, so a file from a newer
    /// Ponder is left exactly as it was.
    private static func refuseUnknownSchema(path: String, file: String) throws {
        var configuration = configuration()
        configuration.readonly = true
        let applied: Set<String>
        let foreignTables: [String]
        do {
            let probe = try DatabaseQueue(path: path, configuration: configuration)
            (applied, foreignTables) = try probe.read { db in
                let applied = try Schema.appliedIdentifiers(db)
                // GRDB creates its (empty) migrations table before the first migration's
                // transaction, so a store killed in between holds that table alone: still ours.
                let tables = applied.isEmpty
                    ? try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'")
                    : []
                return (applied, tables)
            }
            try probe.close()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw StoreError.notADatabase(file: file, reason: error.message ?? "\(error)")
        }
        // Another program's SQLite file: adding Ponder's tables to it would be rude at best.
        if !foreignTables.isEmpty {
            throw StoreError.notADatabase(file: file, reason: "it holds tables of another program: \(foreignTables.sorted().prefix(3).joined(separator: ", "))")
        }
        let unknown = applied.subtracting(Schema.knownIdentifiers).sorted()
        if !unknown.isEmpty { throw StoreError.newerSchema(file: file, unknownMigrations: unknown) }
    }

    /// Closes the connections now rather than when the last copy of the store goes away.
    public func close() throws { try database.close() }

    // MARK: - Experiments and runs

    /// The id of the experiment with this name and exactly this resolved config text, inserting it
    /// the first time. Editing the file gives a new row, so every run points at the text it ran.
    public func upsertExperiment(name: String, configText: String) throws -> Int64 {
        let hash = SHA256.hex(configText)
        return try database.write { db in
            if let existing = try ExperimentRecord
                .filter(sql: "name = ? AND config_hash = ?", arguments: [name, hash])
                .fetchOne(db), let id = existing.id {
                return id
            }
            var record = ExperimentRecord(id: nil, name: name, configText: configText, configHash: hash, createdAt: Date())
            try record.insert(db)
            return record.id!
        }
    }

    /// Starts a run in status `running`.
    public func createRun(experimentID: Int64, name: String, stage: String, seed: UInt64,
                          checkpointDir: String? = nil, parent: Int64? = nil, notes: String? = nil) throws -> Int64 {
        try database.write { db in
            let now = Date()
            var record = RunRecord(experimentID: experimentID, name: name, stage: stage, status: .running, seed: seed,
                                   startedAt: now, updatedAt: now, checkpointDir: checkpointDir,
                                   parentRunID: parent, notes: notes)
            try record.insert(db)
            return record.id!
        }
    }

    /// Sets a run's status, and its note when one is given (an interrupted run notes how to
    /// resume it). Leaving `running` stamps `ended_at`; going back to `running` (a resume)
    /// clears it.
    public func setStatus(run: Int64, _ status: RunStatus, note: String? = nil) throws {
        try database.write { db in
            let now = Date()
            try db.execute(
                sql: "UPDATE runs SET status = ?, updated_at = ?, ended_at = ?, notes = COALESCE(?, notes) WHERE id = ?",
                arguments: [status, now, status == .running ? nil : now, note, run])
            if db.changesCount == 0 { throw StoreError.runNotFound(String(run)) }
        }
    }

    /// Records one step: every metric, every rollout and every rollout's per-function rewards, in
    /// one transaction. A step that already has rows is refused (`StoreError.stepAlreadyRecorded`)
    /// and nothing of this call is written. NaN metric values are stored as NULL.
    public func recordStep(run: Int64, step: Int, metrics: [String: Double], rollouts: [NewRollout] = []) throws {
        do {
            try database.write { db in
                // Cached statements rather than record inserts: this is the one hot write path,
                // and binding values directly is about twice as fast as encoding records
                // (StoreBenchmark.swift). The columns are those of MetricRecord, RolloutRecord
                // and RolloutRewardRecord.
                let insertMetric = try db.cachedStatement(sql: "INSERT INTO metrics (run_id, name, step, value) VALUES (?, ?, ?, ?)")
                for (name, value) in metrics {
                    try insertMetric.execute(arguments: [run, name, step, value.isNaN ? nil : value])
                }
                let insertRollout = try db.cachedStatement(sql: """
                    INSERT INTO rollouts (run_id, step, group_index, sample_index, task_id, environment, prompt,
                        completion, token_count, finish_reason, total_reward, advantage, tool_calls)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                let insertReward = try db.cachedStatement(sql: "INSERT INTO rollout_rewards (rollout_id, function, value, failure) VALUES (?, ?, ?, ?)")
                for rollout in rollouts {
                    try insertRollout.execute(arguments: [
                        run, step, rollout.groupIndex, rollout.sampleIndex, rollout.taskID, rollout.environment,
                        rollout.prompt, rollout.completion, rollout.tokenCount, rollout.finishReason,
                        rollout.totalReward?.nanAsNil, rollout.advantage?.nanAsNil, rollout.toolCalls,
                    ])
                    let rolloutID = db.lastInsertedRowID
                    for reward in rollout.rewards {
                        try insertReward.execute(arguments: [rolloutID, reward.function, reward.value?.nanAsNil, reward.failure])
                    }
                }
                try touch(run: run, db)
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
            || error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError.stepAlreadyRecorded(run: run, step: step)
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_FOREIGNKEY {
            throw StoreError.runNotFound(String(run))
        }
    }

    /// Deletes the metrics, rollouts (with their rewards) and checkpoint rows of steps after
    /// `step`, in one transaction. A run resumed from its checkpoint at step N calls this with N
    /// before recording step N + 1, so steps the killed process wrote past its last checkpoint are
    /// replaced, never duplicated. Returns how many distinct steps were removed.
    @discardableResult
    public func truncate(run: Int64, afterStep step: Int) throws -> Int {
        try database.write { db in
            let removed = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM (
                    SELECT step FROM metrics WHERE run_id = ?1 AND step > ?2
                    UNION SELECT step FROM rollouts WHERE run_id = ?1 AND step > ?2)
                """, arguments: [run, step]) ?? 0
            try db.execute(sql: "DELETE FROM metrics WHERE run_id = ? AND step > ?", arguments: [run, step])
            try db.execute(sql: "DELETE FROM rollouts WHERE run_id = ? AND step > ?", arguments: [run, step])
            try db.execute(sql: "DELETE FROM checkpoints WHERE run_id = ? AND step > ?", arguments: [run, step])
            try touch(run: run, db)
            return removed
        }
    }

    /// Deletes every row a run wrote (metrics, rollouts, checkpoint notes, evaluations with their
    /// items), in one transaction, keeping the run itself: a single-step stage (tokenizer, eval)
    /// that was killed part way redoes its work from a clean slate.
    public func clear(run: Int64) throws {
        try database.write { db in
            for table in ["metrics", "rollouts", "checkpoints", "evals"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE run_id = ?", arguments: [run])
            }
            try touch(run: run, db)
        }
    }

    /// Replaces the run's preference pairs of `split` with `pairs`, in one transaction.
    public func recordPreferences(run: Int64, split: String, _ pairs: [NewPreferencePair]) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM preference_pairs WHERE run_id = ? AND split = ?", arguments: [run, split])
            let insert = try db.cachedStatement(sql: """
                INSERT INTO preference_pairs (run_id, split, pair_index, source, task_id, environment, prompt, chosen, rejected,
                    margin, gold_agrees, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for p in pairs {
                try insert.execute(arguments: [run, p.split, p.pairIndex, p.source, p.taskID, p.environment, p.prompt, p.chosen,
                                               p.rejected, p.margin, p.goldAgrees, p.extra])
            }
            try touch(run: run, db)
        }
    }

    /// How many preference pairs of `split` the run has, and how many of those the verifier agrees with.
    public func preferenceCounts(run: Int64, split: String) throws -> (pairs: Int, goldAgrees: Int) {
        try database.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*), COALESCE(SUM(gold_agrees), 0) FROM preference_pairs WHERE run_id = ? AND split = ?",
                                       arguments: [run, split])!
            return (row[0], row[1])
        }
    }

    /// Notes that the run wrote a checkpoint directory at `step` (replacing an earlier note for
    /// the same step, as a resumed run rewrites it).
    public func recordCheckpoint(run: Int64, step: Int, path: String) throws {
        try database.write { db in
            try CheckpointRecord(runID: run, step: step, path: path, createdAt: Date()).insert(db, onConflict: .replace)
            try touch(run: run, db)
        }
    }

    private func touch(run: Int64, _ db: Database) throws {
        try db.execute(sql: "UPDATE runs SET updated_at = ? WHERE id = ?", arguments: [Date(), run])
        if db.changesCount == 0 { throw StoreError.runNotFound(String(run)) }
    }

    // MARK: - Evaluations and the judge cache

    /// Records an evaluation and all its items in one transaction; returns the eval id.
    public func recordEval(run: Int64?, checkpoint: String, suite: String, step: Int?, split: String? = nil,
                           metrics: [String: Double], items: [NewEvalItem]) throws -> Int64 {
        try database.write { db in
            var record = EvalRecord(id: nil, runID: run, checkpoint: checkpoint, suite: suite, step: step,
                                    createdAt: Date(), metrics: metrics.filter { $0.value.isFinite }, split: split)
            try record.insert(db)
            let evalID = record.id!
            for item in items {
                try EvalItemRecord(evalID: evalID, itemIndex: item.itemIndex, sampleIndex: item.sampleIndex,
                                   taskID: item.taskID, answerable: item.answerable, prompt: item.prompt,
                                   completion: item.completion, reference: item.reference,
                                   extracted: item.extracted, verdict: item.verdict, metadata: item.metadata,
                                   failure: item.failure).insert(db)
            }
            return evalID
        }
    }

    /// The cached judge answer for `key`, if any.
    public func judgeCache(key: String) throws -> JudgeCacheEntry? {
        try database.read { db in try JudgeCacheEntry.fetchOne(db, key: key) }
    }

    /// Stores (or replaces) a judge answer.
    public func putJudgeCache(_ entry: JudgeCacheEntry) throws {
        try database.write { db in try entry.insert(db, onConflict: .replace) }
    }
}

extension Double {
    /// SQLite stores NaN as NULL anyway; saying so keeps the round trip explicit.
    var nanAsNil: Double? { isNaN ? nil : self }
}
