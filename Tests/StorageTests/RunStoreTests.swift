// RunStore on an in-memory database and on real WAL files: what trainers write, what the command
// line reads back, resume without duplicates, and files the store must refuse without touching.
import Foundation
import Synchronization
import GRDB
import Testing
@testable import Storage

@Suite struct RunStoreTests {
    @Test func experimentsAreKeyedByNameAndConfigText() throws {
        let store = try RunStore.inMemory()
        let first = try store.upsertExperiment(name: "quickstart", configText: "seed: 1\n")
        #expect(try store.upsertExperiment(name: "quickstart", configText: "seed: 1\n") == first)
        let edited = try store.upsertExperiment(name: "quickstart", configText: "seed: 2\n")
        #expect(edited != first)
        let record = try #require(try store.experiment(id: first))
        #expect(record.configText == "seed: 1\n")
        #expect(record.configHash == SHA256.hex("seed: 1\n"))
    }

    @Test func runLifecycleStampsTimes() throws {
        let store = try RunStore.inMemory()
        let experiment = try store.upsertExperiment(name: "e", configText: "x")
        let pretrain = try store.createRun(experimentID: experiment, name: "e/pretrain", stage: "pretrain",
                                           seed: UInt64.max, checkpointDir: "runs/e/pretrain")
        let sft = try store.createRun(experimentID: experiment, name: "e/sft", stage: "sft", seed: 3, parent: pretrain)
        var run = try #require(try store.run(id: pretrain))
        #expect(run.status == .running && run.endedAt == nil)
        #expect(run.seed == UInt64.max)
        #expect(run.checkpointDir == "runs/e/pretrain")
        try store.setStatus(run: pretrain, .interrupted)
        run = try #require(try store.run(id: pretrain))
        #expect(run.status == .interrupted && run.endedAt != nil)
        try store.setStatus(run: pretrain, .running)
        #expect(try store.run(id: pretrain)?.endedAt == nil)
        try store.setStatus(run: pretrain, .completed)
        #expect(try store.run(id: sft)?.parentRunID == pretrain)
        #expect(throws: StoreError.runNotFound("999")) { try store.setStatus(run: 999, .failed) }
    }

    @Test func stepRoundTripsWithRolloutsAndRewards() throws {
        let store = try RunStore.inMemory()
        let experiment = try store.upsertExperiment(name: "e", configText: "x")
        let run = try store.createRun(experimentID: experiment, name: "e/grpo", stage: "grpo", seed: 1)
        let rollouts = [
            sampleRollout(group: 0, sample: 0, reward: 1),
            sampleRollout(group: 0, sample: 1, reward: 0),
            NewRollout(groupIndex: 1, sampleIndex: 0, taskID: "t1", environment: "knowledge", prompt: "Who?",
                       completion: "I don't know.", tokenCount: 4, finishReason: "stop", totalReward: nil,
                       advantage: nil, rewards: [RewardValue(function: "judge", value: nil, failure: "HTTP 503")]),
        ]
        try store.recordStep(run: run, step: 0, metrics: ["loss": 2.5, "reward": 0.5, "kl": .nan], rollouts: rollouts)

        let metrics = try store.metrics(run: run, step: 0)
        #expect(metrics["loss"] == 2.5 && metrics["reward"] == 0.5)
        #expect(metrics["kl"]?.isNaN == true)
        #expect(try store.metricNames(run: run) == ["kl", "loss", "reward"])

        let stored = try store.rollouts(run: run, step: 0)
        #expect(stored.count == 3)
        #expect(stored[0].rollout.toolCalls == #"[{"tool":"python","code":"print(2)"}]"#)
        #expect(stored[0].rewards.map(\.function) == ["accuracy", "format"])
        #expect(stored[0].rewards.map(\.value) == [1, 1])
        #expect(stored[2].rewards == [RolloutRewardRecord(rolloutID: stored[2].rollout.id!, function: "judge",
                                                          value: nil, failure: "HTTP 503")])
        #expect(stored[2].rollout.totalReward == nil)

        let worst = try store.worstRollouts(run: run, limit: 2)
        #expect(worst.map(\.rollout.totalReward) == [0, 1])
    }

    @Test func aStepIsRecordedOnceAndARefusedStepLeavesNothing() throws {
        let store = try RunStore.inMemory()
        let experiment = try store.upsertExperiment(name: "e", configText: "x")
        let run = try store.createRun(experimentID: experiment, name: "r", stage: "grpo", seed: 1)
        try store.recordStep(run: run, step: 0, metrics: ["loss": 1], rollouts: [sampleRollout(group: 0, sample: 0, reward: 1)])
        // Same step again, with a new metric and a new rollout: refused as a whole.
        #expect(throws: StoreError.stepAlreadyRecorded(run: run, step: 0)) {
            try store.recordStep(run: run, step: 0, metrics: ["entropy": 3, "loss": 1],
                                 rollouts: [sampleRollout(group: 5, sample: 0, reward: 1)])
        }
        #expect(try store.metricNames(run: run) == ["loss"])
        #expect(try store.rollouts(run: run).count == 1)
        #expect(throws: StoreError.runNotFound("42")) { try store.recordStep(run: 42, step: 0, metrics: ["loss": 1]) }
    }

    @Test func truncateThenResumeNeitherDuplicatesNorLoses() throws {
        let store = try RunStore.inMemory()
        let experiment = try store.upsertExperiment(name: "e", configText: "x")
        let run = try store.createRun(experimentID: experiment, name: "r", stage: "grpo", seed: 1)
        for step in 0..<10 {
            try store.recordStep(run: run, step: step, metrics: ["loss": Double(step), "reward": Double(step) / 10],
                                 rollouts: [sampleRollout(group: 0, sample: 0, reward: 1), sampleRollout(group: 0, sample: 1, reward: 0)])
            if step % 4 == 0 { try store.recordCheckpoint(run: run, step: step, path: "ckpt/\(step)") }
        }
        // Killed after step 9; the last checkpoint is step 8.
        #expect(try store.checkpoints(run: run).map(\.step) == [0, 4, 8])
        #expect(try store.truncate(run: run, afterStep: 4) == 5)
        #expect(try store.lastStep(run: run) == 4)
        #expect(try store.checkpoints(run: run).map(\.step) == [0, 4])
        let orphanRewards = try store.database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rollout_rewards WHERE rollout_id NOT IN (SELECT id FROM rollouts)")
        }
        #expect(orphanRewards == 0)
        for step in 5..<10 {
            try store.recordStep(run: run, step: step, metrics: ["loss": Double(step) + 0.5, "reward": 1],
                                 rollouts: [sampleRollout(group: 0, sample: 0, reward: 1), sampleRollout(group: 0, sample: 1, reward: 0)])
        }
        let loss = try store.metricSeries(run: run, name: "loss")
        #expect(loss.map(\.step) == Array(0..<10))
        #expect(loss[5].value == 5.5 && loss[4].value == 4)
        #expect(try store.rollouts(run: run).count == 20)
        let rewardRows = try store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rollout_rewards") }
        #expect(rewardRows == 40)
    }

    @Test func summariesFindAndEvals() throws {
        let store = try RunStore.inMemory()
        let experiment = try store.upsertExperiment(name: "quickstart", configText: "x")
        let a = try store.createRun(experimentID: experiment, name: "quickstart/sft", stage: "sft", seed: 1)
        let b = try store.createRun(experimentID: experiment, name: "quickstart/grpo", stage: "grpo", seed: 1, parent: a)
        for step in 0..<3 { try store.recordStep(run: a, step: step, metrics: ["loss": 3 - Double(step)]) }
        for step in 0..<5 { try store.recordStep(run: b, step: step, metrics: ["policy_loss": 0.1, "reward_mean": Double(step)]) }
        try store.setStatus(run: a, .completed)

        let summaries = try store.runs()
        #expect(summaries.map(\.run.id) == [b, a])
        #expect(summaries[0].steps == 5 && summaries[0].lastStep == 4)
        #expect(summaries[0].lastReward == 4 && summaries[0].lastLoss == 0.1)
        #expect(summaries[1].lastLoss == 1 && summaries[1].lastReward == nil)
        #expect(summaries[1].experiment == "quickstart" && summaries[1].run.status == .completed)
        #expect(summaries[1].duration >= 0)

        #expect(try store.findRun(String(a)).id == a)
        #expect(try store.findRun("quickstart/grpo").id == b)
        #expect(try store.latestRun(experimentName: "quickstart", stage: "sft")?.id == a)
        #expect(throws: StoreError.runNotFound("nope")) { try store.findRun("nope") }

        let items = [
            NewEvalItem(itemIndex: 0, taskID: "k0", prompt: "Capital of Zorbia?", completion: "Vel", reference: "Vel",
                        extracted: "Vel", verdict: .correct),
            NewEvalItem(itemIndex: 1, taskID: "k1", answerable: false, prompt: "Who founded Qarth?",
                        completion: "I don't know.", reference: "", extracted: nil, verdict: .refused),
        ]
        let evalID = try store.recordEval(run: b, checkpoint: "runs/q/grpo/step-4", suite: "knowledge", step: 4,
                                          metrics: ["accuracy": 1, "refusal_rate_unanswerable": 1], items: items)
        let evals = try store.evals(run: b)
        #expect(evals.count == 1 && evals[0].id == evalID && evals[0].metrics["accuracy"] == 1)
        let stored = try store.evalItems(eval: evalID)
        #expect(stored.map(\.verdict) == [.correct, .refused])
        #expect(stored[1].answerable == false && stored[1].extracted == nil)
    }

    @Test func judgeCacheStoresScoresAndFailures() throws {
        let store = try RunStore.inMemory()
        #expect(try store.judgeCache(key: "k") == nil)
        let failed = JudgeCacheEntry(key: "k", backend: "openai:gpt", prompt: "rate", response: nil, score: nil, failure: "timeout")
        try store.putJudgeCache(failed)
        #expect(try store.judgeCache(key: "k")?.failure == "timeout")
        try store.putJudgeCache(JudgeCacheEntry(key: "k", backend: "openai:gpt", prompt: "rate", response: "7", score: 0.7, failure: nil))
        let entry = try #require(try store.judgeCache(key: "k"))
        #expect(entry.score == 0.7 && entry.failure == nil)
        #expect(JudgeCacheEntry.key(["ab", "c"]) != JudgeCacheEntry.key(["a", "bc"]))
        #expect(JudgeCacheEntry.key(["local", "rubric", "prompt"]).count == 64)
    }

    @Test func fileStoreIsWALAndReopens() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("ponder.sqlite")
        do {
            let store = try RunStore.open(path: path)
            let experiment = try store.upsertExperiment(name: "e", configText: "x")
            let run = try store.createRun(experimentID: experiment, name: "r", stage: "grpo", seed: 1)
            try store.recordStep(run: run, step: 0, metrics: ["loss": 1])
            let mode = try store.database.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            #expect(mode == "wal")
            try store.close()
        }
        let reopened = try RunStore.open(path: path)
        #expect(try reopened.findRun("r").stage == "grpo")
        #expect(try reopened.metricSeries(run: 1, name: "loss") == [MetricPoint(step: 0, value: 1)])
    }

    /// A trainer creating a store while another process polls for it (CI hit this: "table
    /// \"experiments\" already exists"): every opener of a new file must come back with the full
    /// schema. Separate connections in one process take the same file locks as two processes.
    @Test func storesOpenedAtOnceAllMigrate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let failures = Mutex<[String]>([])
        for round in 0..<40 {
            let path = directory.file("race-\(round).sqlite")
            DispatchQueue.concurrentPerform(iterations: 6) { _ in
                do {
                    let store = try RunStore.open(path: path)
                    let applied = try store.database.read { try Schema.migrator.appliedIdentifiers($0) }
                    if applied != Set(Schema.knownIdentifiers) { failures.withLock { $0.append("round \(round): \(applied.sorted())") } }
                    try store.close()
                } catch {
                    failures.withLock { $0.append("round \(round): \(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(3))")
    }

    @Test func newerSchemaIsRefusedAndTheFileIsUntouched() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("ponder.sqlite")
        do {
            // A newer Ponder: our v1, then a migration this build has never heard of.
            let queue = try DatabaseQueue(path: path)
            var migrator = Schema.migrator
            migrator.registerMigration("v2-future") { db in
                try db.execute(sql: "CREATE TABLE future_things (id INTEGER PRIMARY KEY, note TEXT)")
                try db.execute(sql: "INSERT INTO future_things (note) VALUES ('keep me')")
            }
            try migrator.migrate(queue)
            try queue.close()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect {
            _ = try RunStore.open(path: path)
        } throws: { error in
            (error as? StoreError)?.description
                == "ponder.sqlite was written by a newer Ponder (schema v2-future); upgrade Ponder or use another --db"
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        let note = try DatabaseQueue(path: path).read { db in try String.fetchOne(db, sql: "SELECT note FROM future_things") }
        #expect(note == "keep me")
    }

    @Test func aFileThatIsNotADatabaseIsRefusedAndKept() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("notes.sqlite")
        let text = Data(String(repeating: "not a database, just my notes\n", count: 100).utf8)
        try text.write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try RunStore.open(path: path)
        } throws: { error in
            guard case .notADatabase(let file, _)? = error as? StoreError else { return false }
            return file == "notes.sqlite"
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == text)

        // Someone else's SQLite file is refused too, rather than filled with Ponder's tables.
        let other = directory.file("other.sqlite")
        do {
            let queue = try DatabaseQueue(path: other)
            try queue.write { db in try db.execute(sql: "CREATE TABLE contacts (name TEXT)") }
            try queue.close()
        }
        #expect {
            _ = try RunStore.open(path: other)
        } throws: { error in
            (error as? StoreError)?.description.contains("holds tables of another program: contacts") == true
        }
        let tables = try DatabaseQueue(path: other).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        #expect(tables == ["contacts"])

        // A store killed after GRDB created its migrations table but before the first migration
        // committed holds that empty table alone: it opens and migrates (the kill test hit this).
        let killed = directory.file("killed.sqlite")
        do {
            let queue = try DatabaseQueue(path: killed)
            try queue.write { db in try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)") }
            try queue.close()
        }
        let reopened = try RunStore.open(path: killed)
        #expect(try reopened.upsertExperiment(name: "e", configText: "x") > 0)
    }

    @Test func benchmarkReportsRates() throws {
        let result = try RunStore.benchmark(steps: 200, rolloutsPerStep: 64, rewardFunctions: 4)
        print("store benchmark: \(Int(result.rolloutsPerSecond)) rollouts/s, \(Int(result.stepsPerSecond)) steps/s "
              + "(\(result.rolloutsPerStep) rollouts x \(result.rewardFunctions) rewards + 20 metrics per step, median of \(result.steps))")
        #expect(result.rolloutsPerSecond > 1000)
        #expect(abs(result.stepsPerSecond * 64 - result.rolloutsPerSecond) < 1e-6 * result.rolloutsPerSecond)
    }
}
