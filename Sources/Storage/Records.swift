// Records: one Codable struct per table of Schema.swift, which alone reads and writes that table
// (GRDB's recommended practice). Properties are Swift-cased; CodingKeys map them to the
// snake_case columns. Auto-incremented ids are optional until the row is inserted.
//
// These are the rows as stored. Trainers hand the store the lighter `NewRollout` and
// `NewEvalItem` (RunStore.swift), because run ids, steps and row ids are the store's business.
import Foundation
import GRDB

/// Where a run stands. A run killed without a chance to say so stays `running` in the store;
/// the runner that resumes it, or notices it, marks it `interrupted`.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case running, completed, failed, interrupted
}

/// One evaluated answer's fate (DESIGN.md §10): `refused` is "not attempted"; `unparseable`
/// is an attempt the extractor could not read, counted apart from wrong answers.
public enum EvalVerdict: String, Codable, Sendable, CaseIterable {
    case correct, incorrect, refused, unparseable
}

/// An experiment file as it was resolved: the same name and text always map to the same row.
public struct ExperimentRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "experiments"
    public var id: Int64?
    public var name: String
    public var configText: String
    /// Lowercase hex SHA-256 of `configText` (UTF-8).
    public var configHash: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name, configText = "config_text", configHash = "config_hash", createdAt = "created_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One stage of one experiment (tokenizer, pretrain, sft, grpo, ...), possibly resumed many times.
public struct RunRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "runs"
    public var id: Int64?
    public var experimentID: Int64
    public var name: String
    public var stage: String
    public var status: RunStatus
    /// Stored as the Int64 with the same bits: SQLite integers are signed.
    private var seedBits: Int64
    public var startedAt: Date
    /// Last write of any kind for this run (a step, a checkpoint, a status): for a run left
    /// `running` by a killed process, this is about when it died.
    public var updatedAt: Date
    public var endedAt: Date?
    public var checkpointDir: String?
    /// The run whose final checkpoint this one started from (sft after pretrain, grpo after sft).
    public var parentRunID: Int64?
    public var notes: String?

    public var seed: UInt64 {
        get { UInt64(bitPattern: seedBits) }
        set { seedBits = Int64(bitPattern: newValue) }
    }

    public init(id: Int64? = nil, experimentID: Int64, name: String, stage: String, status: RunStatus,
                seed: UInt64, startedAt: Date, updatedAt: Date, endedAt: Date? = nil,
                checkpointDir: String? = nil, parentRunID: Int64? = nil, notes: String? = nil) {
        self.id = id; self.experimentID = experimentID; self.name = name; self.stage = stage
        self.status = status; self.seedBits = Int64(bitPattern: seed); self.startedAt = startedAt
        self.updatedAt = updatedAt; self.endedAt = endedAt; self.checkpointDir = checkpointDir
        self.parentRunID = parentRunID; self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case id, name, stage, status, notes
        case experimentID = "experiment_id", seedBits = "seed", startedAt = "started_at"
        case updatedAt = "updated_at", endedAt = "ended_at", checkpointDir = "checkpoint_dir"
        case parentRunID = "parent_run_id"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One scalar of one step. `value` is nil where the trainer logged NaN.
struct MetricRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "metrics"
    var runID: Int64
    var name: String
    var step: Int
    var value: Double?

    enum CodingKeys: String, CodingKey { case runID = "run_id", name, step, value }
}

/// One sampled completion of one group of one step, with what it earned.
public struct RolloutRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "rollouts"
    public var id: Int64?
    public var runID: Int64
    public var step: Int
    public var groupIndex: Int
    public var sampleIndex: Int
    public var taskID: String
    public var environment: String
    public var prompt: String
    public var completion: String
    public var tokenCount: Int
    /// "stop", "length" (truncated at max_completion_length), or what the engine reports.
    public var finishReason: String
    public var totalReward: Double?
    public var advantage: Double?
    /// JSON text of the tool calls made during generation, as the trainer encoded them.
    public var toolCalls: String?

    enum CodingKeys: String, CodingKey {
        case id, step, environment, prompt, completion, advantage
        case runID = "run_id", groupIndex = "group_index", sampleIndex = "sample_index", taskID = "task_id"
        case tokenCount = "token_count", finishReason = "finish_reason", totalReward = "total_reward"
        case toolCalls = "tool_calls"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One reward function's verdict on one rollout: a value, or the reason there is none
/// (a judge call that failed is a failure, never a score of 0; DESIGN.md §6).
public struct RolloutRewardRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "rollout_rewards"
    public var rolloutID: Int64
    public var function: String
    public var value: Double?
    public var failure: String?

    enum CodingKeys: String, CodingKey { case rolloutID = "rollout_id", function, value, failure }
}

/// A checkpoint directory written by a run at a step.
public struct CheckpointRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "checkpoints"
    public var runID: Int64
    public var step: Int
    public var path: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey { case runID = "run_id", step, path, createdAt = "created_at" }
}

/// One evaluation of one checkpoint on one suite, with its aggregate figures
/// (accuracy, hallucination rate, ... by name; DESIGN.md §10).
public struct EvalRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "evals"
    public var id: Int64?
    public var runID: Int64?
    public var checkpoint: String
    public var suite: String
    public var step: Int?
    public var createdAt: Date
    /// Stored as a JSON object in the `metrics` column.
    public var metrics: [String: Double]
    /// The split graded ("validation", "test"); nil for an external set.
    public var split: String?

    enum CodingKeys: String, CodingKey {
        case id, checkpoint, suite, step, metrics, split, runID = "run_id", createdAt = "created_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One answer of one evaluation.
public struct EvalItemRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "eval_items"
    public var evalID: Int64
    public var itemIndex: Int
    public var sampleIndex: Int
    public var taskID: String
    /// False for questions whose right answer is a refusal (the knowledge suite's unanswerables).
    public var answerable: Bool
    public var prompt: String
    public var completion: String
    public var reference: String
    public var extracted: String?
    public var verdict: EvalVerdict
    /// The task's metadata as a JSON object (nil in rows written before schema v2).
    public var metadata: String?
    /// Why the machinery could not grade the answer (then it is left out of the accuracy).
    public var failure: String?

    enum CodingKeys: String, CodingKey {
        case prompt, completion, reference, extracted, verdict, answerable, metadata, failure
        case evalID = "eval_id", itemIndex = "item_index", sampleIndex = "sample_index", taskID = "task_id"
    }
}

/// A judge's answer to one exact request, so the same question is never paid for twice.
public struct JudgeCacheEntry: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "judge_cache"
    /// The caller's hash of everything that determines the answer (backend, model, rubric, prompt).
    public var key: String
    public var backend: String
    public var prompt: String
    public var response: String?
    public var score: Double?
    public var failure: String?
    public var createdAt: Date

    public init(key: String, backend: String, prompt: String, response: String?, score: Double?,
                failure: String?, createdAt: Date = Date()) {
        self.key = key; self.backend = backend; self.prompt = prompt; self.response = response
        self.score = score; self.failure = failure; self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case key, backend, prompt, response, score, failure, createdAt = "created_at"
    }

    /// A cache key for a request made of `parts` (backend, model, rubric, prompt, ...): the
    /// SHA-256 of the parts joined by NUL, so ("ab", "c") and ("a", "bc") differ.
    public static func key(_ parts: [String]) -> String {
        SHA256.hex(parts.joined(separator: "\u{0}"))
    }
}

extension RunStatus: DatabaseValueConvertible {}
extension EvalVerdict: DatabaseValueConvertible {}
