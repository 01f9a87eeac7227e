// The store's schema: one migration per shipped version, frozen once shipped (DESIGN.md §8).
//
// Never edit a registered migration: a database on a user's disk remembers which identifiers it
// has applied (GRDB keeps them in `grdb_migrations`) and never runs one twice, so a change to
// "v1" would silently not reach existing files. Schema changes go in a new migration ("v2", ...)
// appended at the end. A file that lists an identifier this build does not know was written by a
// newer Ponder; `RunStore.open` refuses it before anything is written (see `StoreError`).
//
// Tables are plural and columns snake_case, as in DESIGN.md §8, because people read
// ponder.sqlite with the `sqlite3` shell as much as through Ponder.
//
// Choices worth knowing:
// - metrics is WITHOUT ROWID with primary key (run_id, name, step): a curve is one range scan,
//   and inserting a step twice is a constraint error, never a duplicate row. There is no
//   (run_id, step) index: truncation on resume scans one run's rows, which is rare and cheap,
//   while every step's insert would pay for the index.
// - rollouts are unique on (run_id, step, group_index, sample_index) for the same reason.
// - Child rows cascade: deleting a run (or truncating its steps on resume) takes its metrics,
//   rollouts and their per-function rewards with it.
// - Metric values are nullable REAL: SQLite stores NaN as NULL, and the store reads NULL back
//   as NaN, so a diverged loss is recorded rather than refused.
import GRDB

enum Schema {
    /// Every migration this build knows, in order. Append only.
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: createVersion1)
        migrator.registerMigration("v2", migrate: addSplitsAndItemMetadata)
        migrator.registerMigration("v3", migrate: addPreferencePairs)
        return migrator
    }()

    /// The identifiers of `migrator`, for error messages and tests.
    static var knownIdentifiers: [String] { migrator.migrations }

    /// The migrations applied to `db`. GRDB's `appliedIdentifiers` selects from its table first
    /// and, when that fails, rethrows unless its (cached) schema proves the table absent: while
    /// another connection was creating the store, an open failed that way with "no such table:
    /// grdb_migrations" (once in 1415 rounds of `storesOpenedAtOnceAllMigrate`, and in CI; none
    /// in 4000 rounds since). Here `sqlite_master` is asked first, so a missing table is an
    /// empty set.
    static func appliedIdentifiers(_ db: Database) throws -> Set<String> {
        let exists = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'grdb_migrations')") ?? false
        guard exists else { return [] }
        return try String.fetchSet(db, sql: "SELECT identifier FROM grdb_migrations")
    }

    /// v2: which split an eval graded (`validation` / `test`; NULL for an external file such
    /// as `ponder eval --data`), each item's task metadata (JSON: a JSONL line's extra keys, a
    /// counting task's kind, a code task's family and held-out kind) for breakdowns, and the
    /// machinery failure that kept an item out of the accuracy.
    /// The pairs a reward_model or dpo stage learned from (and was evaluated on), with their source.
    private static func addPreferencePairs(_ db: Database) throws {
        try db.create(table: "preference_pairs", options: .withoutRowID) { t in
            t.column("run_id", .integer).notNull().references("runs", onDelete: .cascade)
            t.column("split", .text).notNull()
            t.column("pair_index", .integer).notNull()
            t.column("source", .text).notNull()
            t.column("task_id", .text)
            t.column("environment", .text)
            t.column("prompt", .jsonText).notNull()
            t.column("chosen", .text).notNull()
            t.column("rejected", .text).notNull()
            t.column("margin", .double)
            t.column("gold_agrees", .boolean)
            t.column("extra", .jsonText)
            t.primaryKey(["run_id", "split", "pair_index"])
        }
    }

    private static func addSplitsAndItemMetadata(_ db: Database) throws {
        try db.alter(table: "evals") { t in t.add(column: "split", .text) }
        try db.alter(table: "eval_items") { t in
            t.add(column: "metadata", .jsonText)
            t.add(column: "failure", .text)
        }
    }

    private static func createVersion1(_ db: Database) throws {
        try db.create(table: "experiments") { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("name", .text).notNull()
            t.column("config_text", .text).notNull()
            t.column("config_hash", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.uniqueKey(["name", "config_hash"])
        }

        try db.create(table: "runs") { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("experiment_id", .integer).notNull().indexed()
                .references("experiments", onDelete: .cascade)
            t.column("name", .text).notNull().indexed()
            t.column("stage", .text).notNull()
            t.column("status", .text).notNull()
                .check(sql: "status IN ('running', 'completed', 'failed', 'interrupted')")
            t.column("seed", .integer).notNull()
            t.column("started_at", .datetime).notNull()
            t.column("updated_at", .datetime).notNull()
            t.column("ended_at", .datetime)
            t.column("checkpoint_dir", .text)
            t.column("parent_run_id", .integer).indexed().references("runs", onDelete: .setNull)
            t.column("notes", .text)
        }

        try db.create(table: "metrics", options: .withoutRowID) { t in
            t.column("run_id", .integer).notNull().references("runs", onDelete: .cascade)
            t.column("name", .text).notNull()
            t.column("step", .integer).notNull()
            t.column("value", .double)
            t.primaryKey(["run_id", "name", "step"])
        }

        try db.create(table: "rollouts") { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("run_id", .integer).notNull().references("runs", onDelete: .cascade)
            t.column("step", .integer).notNull()
            t.column("group_index", .integer).notNull()
            t.column("sample_index", .integer).notNull()
            t.column("task_id", .text).notNull()
            t.column("environment", .text).notNull()
            t.column("prompt", .text).notNull()
            t.column("completion", .text).notNull()
            t.column("token_count", .integer).notNull()
            t.column("finish_reason", .text).notNull()
            t.column("total_reward", .double)
            t.column("advantage", .double)
            t.column("tool_calls", .jsonText)
            t.uniqueKey(["run_id", "step", "group_index", "sample_index"])
        }

        try db.create(table: "rollout_rewards", options: .withoutRowID) { t in
            t.column("rollout_id", .integer).notNull().references("rollouts", onDelete: .cascade)
            t.column("function", .text).notNull()
            t.column("value", .double)
            t.column("failure", .text)
            t.primaryKey(["rollout_id", "function"])
        }

        try db.create(table: "checkpoints", options: .withoutRowID) { t in
            t.column("run_id", .integer).notNull().references("runs", onDelete: .cascade)
            t.column("step", .integer).notNull()
            t.column("path", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.primaryKey(["run_id", "step"])
        }

        try db.create(table: "evals") { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("run_id", .integer).indexed().references("runs", onDelete: .setNull)
            t.column("checkpoint", .text).notNull()
            t.column("suite", .text).notNull()
            t.column("step", .integer)
            t.column("created_at", .datetime).notNull()
            t.column("metrics", .jsonText).notNull()
        }

        try db.create(table: "eval_items", options: .withoutRowID) { t in
            t.column("eval_id", .integer).notNull().references("evals", onDelete: .cascade)
            t.column("item_index", .integer).notNull()
            t.column("sample_index", .integer).notNull()
            t.column("task_id", .text).notNull()
            t.column("answerable", .boolean).notNull()
            t.column("prompt", .text).notNull()
            t.column("completion", .text).notNull()
            t.column("reference", .text).notNull()
            t.column("extracted", .text)
            t.column("verdict", .text).notNull()
                .check(sql: "verdict IN ('correct', 'incorrect', 'refused', 'unparseable')")
            t.primaryKey(["eval_id", "item_index", "sample_index"])
        }

        try db.create(table: "judge_cache") { t in
            t.primaryKey("key", .text)
            t.column("backend", .text).notNull()
            t.column("prompt", .text).notNull()
            t.column("response", .text)
            t.column("score", .double)
            t.column("failure", .text)
            t.column("created_at", .datetime).notNull()
        }
    }
}
