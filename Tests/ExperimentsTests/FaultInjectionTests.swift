// A killed `ponder run` resumes to exactly the uninterrupted run. The built tool runs
// experiments/tiny-grpo.yaml (tokenizer, pretrain, SFT, eval on two environments, GRPO, eval):
//   - killed by SIGKILL at every fault point (PONDER_FAULT, FaultPlan.swift): before and after a
//     step's store commit, between a checkpoint's two renames, between an eval's environments,
//     in the tokenizer stage; each time in each trainer stage where the point exists;
//   - killed with `kill -9` at seeded random moments of one run, resumed after each, until a
//     resumed run finishes (each moment a random 2-25% of the uninterrupted run's wall time);
//   - interrupted by SIGINT: exit status 130, the run marked interrupted with its resume command;
// then resumed with `--resume` to the end. Every time the store's rows (metrics but timings,
// rollouts with their rewards and advantages, evaluations with their items, checkpoint notes,
// one run row per stage) and the final weights equal the uninterrupted run's, and SQLite's
// integrity check passes.
import Foundation
import GRDB
import Testing
import Storage
import PonderCore
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct FaultInjectionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let experiment = root.appendingPathComponent("experiments/tiny-grpo.yaml").path

    /// Every fault point of the tiny experiment, in every stage that has it, some with a checkpoint
    /// behind the store (resume replays the steps between) and some with none yet (resume starts
    /// the stage over). A checkpoint's first save has no previous one to move aside, so
    /// mid_checkpoint is tried on a later save.
    static let points: [String] = [
        "tokenizer/tokenizer:0",
        "pretrain/before_commit:15", "pretrain/after_commit:10", "pretrain/mid_checkpoint:20",
        "sft/before_commit:4", "sft/after_commit:20", "sft/mid_checkpoint:20",
        "before_rl/eval:1",
        "grpo/before_commit:3", "grpo/after_commit:4", "grpo/mid_checkpoint:4",
        "after_rl/eval:1",
    ]

    /// A fresh directory in which `run` runs `experiment` with its store and runs folder there;
    /// `weights` is the model file of the stage whose weights are compared (relative to runs/).
    struct Workspace {
        let directory: URL
        let ponder: URL
        var experiment = FaultInjectionTests.experiment
        var finalModel = "tiny-grpo/grpo"
        func run(_ extra: [String], environment: [String: String] = [:]) throws -> PonderTool.Outcome {
            try PonderTool.run(ponder, ["run", experiment, "--db", "ponder.sqlite", "--runs", "runs"] + extra,
                               in: directory, environment: environment)
        }
        var store: String { directory.appendingPathComponent("ponder.sqlite").path }
        var weights: URL { directory.appendingPathComponent("runs/\(finalModel)/model.safetensors") }
    }

    static func workspace(experiment: String = FaultInjectionTests.experiment, finalModel: String = "tiny-grpo/grpo") throws -> Workspace {
        let ponder = try #require(PonderTool.executable(), Comment(rawValue: PonderTool.missing))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-faults-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return Workspace(directory: dir, ponder: ponder, experiment: experiment, finalModel: finalModel)
    }

    /// The uninterrupted run, computed once, with its wall time.
    static let baseline: (rows: [String], weights: Data, seconds: Double) = {
        let w = try! workspace()
        let start = Date()
        let outcome = try! w.run([])
        let seconds = Date().timeIntervalSince(start)
        precondition(outcome.status == 0, "the uninterrupted run failed: \(outcome.stderr)")
        let result = (try! dump(w.store), try! Data(contentsOf: w.weights), seconds)
        try? FileManager.default.removeItem(at: w.directory)
        return result
    }()

    @Test(arguments: points)
    func killedAtAFaultPointResumesExactly(_ point: String) throws {
        let w = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: w.directory) }
        let killed = try w.run([], environment: ["PONDER_FAULT": point])
        #expect(killed.signalled && killed.status == SIGKILL, "\(point): the run was not killed (status \(killed.status)) \(killed.stderr)")
        let resumed = try w.run(["--resume"])
        #expect(resumed.status == 0 && !resumed.signalled, "\(point): resume failed: \(resumed.stderr)")
        try Self.expectSameAsBaseline(w, point)
    }

    @Test func killedAtRandomMomentsResumesExactly() throws {
        let w = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: w.directory) }
        var rng = RNG(seed: 20)
        // Each resumed run is killed after a random 2-25% of the uninterrupted run's wall time, so
        // the kills land all through the run on a fast machine and a slow one alike, until a
        // resumed run gets to the end on its own.
        let microseconds = Self.baseline.seconds * 1_000_000
        var kills = 0, finished = false
        for _ in 0..<60 where !finished {
            let process = Process()
            process.executableURL = w.ponder
            process.arguments = ["run", Self.experiment, "--db", "ponder.sqlite", "--runs", "runs", "--resume"]
            process.currentDirectoryURL = w.directory
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32(microseconds * (0.02 + 0.23 * rng.nextDouble())))
            if process.isRunning { kill(process.processIdentifier, SIGKILL); kills += 1 }
            process.waitUntilExit()
            finished = process.terminationReason == .exit && process.terminationStatus == 0
        }
        print("random kills: \(kills), then a resumed run finished: \(finished) (uninterrupted run \(Int(Self.baseline.seconds * 1000)) ms)")
        #expect(kills >= 5, "only \(kills) runs were still running when killed")
        let resumed = try w.run(["--resume"])
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        try Self.expectSameAsBaseline(w, "random kills")
    }

    @Test func ctrlCStopsCleanlyAndResumes() throws {
        let w = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: w.directory) }
        let process = Process()
        process.executableURL = w.ponder
        process.arguments = ["run", Self.experiment, "--db", "ponder.sqlite", "--runs", "runs"]
        process.currentDirectoryURL = w.directory
        let out = w.directory.appendingPathComponent("out.txt")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Interrupt once the pretraining stage has logged a step.
        for _ in 0..<200 where !((try? String(contentsOf: out, encoding: .utf8)) ?? "").contains("\"stage\":\"pretrain\"") {
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 130)
        let text = try String(contentsOf: out, encoding: .utf8)
        #expect(text.contains("resume with:") && text.contains("--resume"), "\(text.suffix(400))")
        let store = try RunStore.open(path: w.store)
        let stopped = try #require(try store.runs().first { $0.run.status == .interrupted })
        #expect(stopped.run.notes?.hasPrefix("resume: ") == true && stopped.run.notes?.hasSuffix("--resume") == true)
        try store.close()
        let resumed = try w.run(["--resume"])
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        try Self.expectSameAsBaseline(w, "ctrl-c")
    }

    static func expectSameAsBaseline(_ w: Workspace, _ what: String) throws {
        let rows = try dump(w.store)
        let baseline = Self.baseline
        #expect(rows.count == baseline.rows.count, "\(what): \(rows.count) rows, uninterrupted \(baseline.rows.count)")
        if let i = zip(rows, baseline.rows).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("\(what): row \(i) differs:\n  resumed:       \(rows[i])\n  uninterrupted: \(baseline.rows[i])")
        }
        #expect(try Data(contentsOf: w.weights) == baseline.weights, "\(what): final weights differ")
        let queue = try DatabaseQueue(path: w.store)
        #expect(try queue.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        try queue.close()
        // No stray staging or moved-aside checkpoint directories.
        let stages = try FileManager.default.contentsOfDirectory(atPath: w.directory.appendingPathComponent("runs/tiny-grpo").path)
        #expect(!stages.contains { $0.hasPrefix(".") }, "\(what): left \(stages.filter { $0.hasPrefix(".") })")
    }

    /// The store as sorted lines, leaving out what differs between identical runs: ids, times,
    /// and timing metrics.
    static func dump(_ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            var lines: [String] = []
            for row in try Row.fetchAll(db, sql: "SELECT stage, status, seed, COUNT(*) AS n FROM runs GROUP BY stage, status, seed") {
                lines.append("run \(row["stage"] as String) \(row["status"] as String) seed \(row["seed"] as Int64) x\(row["n"] as Int)")
            }
            for row in try Row.fetchAll(db, sql: """
                SELECT runs.stage, metrics.name, metrics.step, metrics.value FROM metrics JOIN runs ON runs.id = metrics.run_id
                WHERE metrics.name NOT LIKE 'time/%' AND metrics.name NOT LIKE '%second%' AND metrics.name != 'training_seconds'
                """) {
                lines.append("metric \(row[0] as String) \(row[1] as String) \(row[2] as Int) \(row[3] as Double? ?? .nan)")
            }
            for row in try Row.fetchAll(db, sql: """
                SELECT runs.stage, r.step, r.group_index, r.sample_index, r.task_id, r.completion, r.total_reward, r.advantage,
                       r.finish_reason, r.tool_calls,
                       (SELECT group_concat(function || '=' || IFNULL(value, 'null') || ':' || IFNULL(failure, ''), ';')
                        FROM rollout_rewards WHERE rollout_id = r.id) AS rewards
                FROM rollouts r JOIN runs ON runs.id = r.run_id
                """) {
                lines.append("rollout " + (0..<11).map { "\(row[$0] as DatabaseValue)" }.joined(separator: " | "))
            }
            for row in try Row.fetchAll(db, sql: """
                SELECT runs.stage, e.suite, e.split, i.item_index, i.sample_index, i.task_id, i.completion, i.verdict,
                       i.metadata, i.failure
                FROM evals e JOIN runs ON runs.id = e.run_id JOIN eval_items i ON i.eval_id = e.id
                """) {
                lines.append("eval " + (0..<10).map { "\(row[$0] as DatabaseValue)" }.joined(separator: " | "))
            }
            for row in try Row.fetchAll(db, sql: "SELECT runs.stage, c.step, c.path FROM checkpoints c JOIN runs ON runs.id = c.run_id") {
                let path = (row[2] as String).components(separatedBy: "/runs/").last ?? ""
                lines.append("checkpoint \(row[0] as String) \(row[1] as Int) \(path)")
            }
            return lines.sorted()
        }
    }
}
