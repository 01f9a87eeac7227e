// The RLHF stages in a real run (experiments/tiny-rlhf.yaml: tokenizer, pretrain, SFT,
// verifier-labelled pairs and a two-member reward-model ensemble, PPO on its min score with the
// gold reward beside it, DPO on synthetic pairs, eval): a process killed by SIGKILL at fault
// points of each new stage resumes with `--resume` to exactly the uninterrupted run's store
// rows and final weights; the pairs are stored with their source; the run's figures are there.
import Foundation
import GRDB
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct RLHFRunTests {
    static let experiment = FaultInjectionTests.root.appendingPathComponent("experiments/tiny-rlhf.yaml").path

    static let points = [
        "reward_model/before_commit:8", "reward_model/mid_checkpoint:6", "reward_model/after_commit:2",
        "ppo/after_commit:3", "ppo/mid_checkpoint:4",
        "dpo/before_commit:3", "dpo/mid_checkpoint:4",
    ]

    static func workspace() throws -> FaultInjectionTests.Workspace {
        try FaultInjectionTests.workspace(experiment: experiment, finalModel: "tiny-rlhf/dpo")
    }

    /// Store rows as the fault tests compare them, plus the preference pairs.
    static func rows(_ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let pairs = try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.stage, p.split, p.pair_index, p.source, p.chosen, p.rejected, p.gold_agrees
                FROM preference_pairs p JOIN runs r ON r.id = p.run_id ORDER BY r.stage, p.split, p.pair_index
                """).map { "\($0)" }
        }
        return try FaultInjectionTests.dump(path) + pairs
    }

    static let baseline: (rows: [String], weights: Data) = {
        let w = try! workspace()
        let outcome = try! w.run([])
        precondition(outcome.status == 0, "the uninterrupted run failed: \(outcome.stderr)")
        let result = (try! rows(w.store), try! Data(contentsOf: w.weights))
        try? FileManager.default.removeItem(at: w.directory)
        return result
    }()

    @Test func theRunStoresPairsAndFigures() throws {
        let rows = Self.baseline.rows
        #expect(rows.contains { $0.contains("reward_model") && $0.contains("\"verifier\"") }, "no verifier pairs stored")
        #expect(rows.contains { $0.contains("\"synthetic/correct_over_wrong\"") }, "no synthetic pairs stored")
        for metric in ["eval/accuracy", "member", "gold_reward", "sqrt_kl", "value_loss", "explained_variance", "rewards/reward_model",
                       "rewards/accuracy", "logps/chosen", "logps/rejected", "rewards/margins"] {
            #expect(rows.contains { $0.contains(" \(metric) ") || $0.contains("\(metric)=") || $0.contains("\"\(metric)\"") },
                    "no \(metric) in the store")
        }
    }

    @Test(arguments: points)
    func killedAtAFaultPointResumesExactly(_ point: String) throws {
        let w = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: w.directory) }
        let killed = try w.run([], environment: ["PONDER_FAULT": point])
        #expect(killed.signalled && killed.status == SIGKILL, "\(point): the run was not killed (status \(killed.status)) \(killed.stderr)")
        let resumed = try w.run(["--resume"])
        #expect(resumed.status == 0 && !resumed.signalled, "\(point): resume failed: \(resumed.stderr)")
        let rows = try Self.rows(w.store)
        #expect(rows.count == Self.baseline.rows.count, "\(point): \(rows.count) rows, uninterrupted \(Self.baseline.rows.count)")
        if let i = zip(rows, Self.baseline.rows).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("\(point): row \(i) differs:\n  resumed:       \(rows[i])\n  uninterrupted: \(Self.baseline.rows[i])")
        }
        #expect(try Data(contentsOf: w.weights) == Self.baseline.weights, "\(point): final weights differ")
    }
}
