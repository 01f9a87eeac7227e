// The RLHF stages in a real run (experiments/tiny-rlhf.yaml: tokenizer, pretrain, SFT,
// verifier-labelled pairs and a two-member reward-model ensemble, a one-layer reward model on a
// prefix of the same pairs with its own label noise, PPO on the ensemble's min score with the
// gold reward beside it, DPO from the SFT model on synthetic pairs, eval): a process killed by SIGKILL at fault
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
        // The resumed process rebuilds reward_model's pairs for rm_small (preferences.from).
        "rm_small/before_commit:3",
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

    struct StoredPair: Sendable { var chosen, rejected: String; var goldAgrees: Bool? }

    /// The run's store rows, final weights, pairs, rm_small's config.json, and what `ponder compare
    /// --x sqrt_kl --fit rl` and `ponder eval --best-of` with two reward models print on it.
    static let baseline: (rows: [String], weights: Data, pairs: [String: [StoredPair]], smallConfig: String,
                          compare: PonderTool.Outcome, bestOf: PonderTool.Outcome, sqrtKL: [Int: Double]) = {
        let w = try! workspace()
        let outcome = try! w.run([])
        precondition(outcome.status == 0, "the uninterrupted run failed: \(outcome.stderr)")
        let queue = try! DatabaseQueue(path: w.store)
        let pairs = try! queue.read { db in
            Dictionary(grouping: try Row.fetchAll(db, sql: """
                SELECT r.stage, p.pair_index, p.chosen, p.rejected, p.gold_agrees FROM preference_pairs p JOIN runs r ON r.id = p.run_id
                WHERE p.split = 'train' ORDER BY p.pair_index
                """), by: { $0["stage"] as String }).mapValues { rows in
                rows.map { StoredPair(chosen: $0["chosen"], rejected: $0["rejected"], goldAgrees: $0["gold_agrees"]) }
            }
        }
        let sqrtKL = try! queue.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: """
                SELECT m.step, m.value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.stage = 'ppo' AND m.name = 'sqrt_kl'
                """).map { ($0["step"] as Int, $0["value"] as Double) })
        }
        try? queue.close()
        let compare = try! PonderTool.run(w.ponder, ["compare", "tiny-rlhf/ppo", "--metric", "gold_reward", "--x", "sqrt_kl", "--fit", "rl",
                                                     "--json", "--db", "ponder.sqlite"], in: w.directory)
        let bestOf = try! PonderTool.run(w.ponder, ["eval", "runs/tiny-rlhf/sft", "--env", "arithmetic", "--split", "test", "--tasks", "6",
                                                    "--max-new-tokens", "16", "--best-of", "4", "--seed", "3", "--json",
                                                    "--reward-model", "runs/tiny-rlhf/reward_model", "--reward-model", "runs/tiny-rlhf/rm_small",
                                                    "--combine", "min", "--combine", "mean"], in: w.directory)
        let smallConfig = (try? String(contentsOf: w.directory.appendingPathComponent("runs/tiny-rlhf/rm_small/config.json"), encoding: .utf8)) ?? ""
        let result = (try! rows(w.store), try! Data(contentsOf: w.weights), pairs, smallConfig, compare, bestOf, sqrtKL)
        try? FileManager.default.removeItem(at: w.directory)
        return result
    }()

    /// rm_small reuses reward_model's answers (the first 10 of its pairs, or all when fewer, the same two answers each)
    /// with its own 25% label noise, and keeps one layer of the SFT model.
    @Test func aStageReusesAnEarlierStagesPairs() throws {
        let big = Self.baseline.pairs["reward_model"] ?? [], small = Self.baseline.pairs["rm_small"] ?? []
        // The verifier source asks for 12 pairs but only gets one where a prompt's samples disagree.
        #expect(big.count >= 2 && small.count == min(10, big.count), "pairs: reward_model \(big.count), rm_small \(small.count)")
        for (i, (a, b)) in zip(big, small).enumerated() {
            #expect(Set([a.chosen, a.rejected]) == Set([b.chosen, b.rejected]), "pair \(i) of rm_small is not reward_model's")
        }
        let flipped = small.filter { $0.goldAgrees == false }.count
        #expect(flipped > 0 && flipped < small.count, "rm_small: \(flipped) of \(small.count) labels against the verifier")
        #expect(Self.baseline.smallConfig.contains("\"num_hidden_layers\":1") || Self.baseline.smallConfig.contains("\"num_hidden_layers\" : 1"),
                "rm_small's config.json: \(Self.baseline.smallConfig)")
    }

    /// PPO's gold reward against its sqrt(KL), joined by step, with the RL fit.
    @Test func compareDrawsAMetricAgainstAnother() throws {
        let out = Self.baseline.compare
        #expect(out.status == 0, "compare failed: \(out.stderr)")
        let curves = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]], "\(out.stdout)")
        #expect(curves.count == 1 && curves.first?["x"] as? String == "sqrt_kl")
        let points = try #require(curves.first?["points"] as? [[Double]])
        #expect(points.count == Self.baseline.sqrtKL.count && points.count == 4, "\(points.count) points")
        let stored = Self.baseline.sqrtKL.values.sorted(), drawn = points.map { $0[0] }.sorted()
        #expect(zip(stored, drawn).allSatisfy { abs($0 - $1) <= 1e-9 }, "x must be the run's sqrt_kl \(stored): \(drawn)")
        #expect(points.allSatisfy { (0...1).contains($0[1]) }, "y must be a gold reward: \(points)")
        let fit = try #require(curves.first?["fit"] as? [String: Any], "no fit: \(curves)")
        #expect(fit["form"] as? String == "rl" && (fit["r_squared"] as? Double).map { $0 <= 1 } == true, "\(fit)")
    }

    /// Two reward models pick from one set of samples: at n = 1 their gold accuracy (the mean over
    /// every sample) is the same number, the combine rules are each model's own.
    @Test func bestOfNSharesSamplesAcrossRewardModels() throws {
        let out = Self.baseline.bestOf
        #expect(out.status == 0, "eval --best-of failed: \(out.stderr)")
        let tables = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]], "\(out.stdout)")
        #expect(tables.count == 2)
        #expect(tables.map { $0["combine"] as? String } == ["min", "mean"] && tables.allSatisfy { $0["seed"] as? Int == 3 })
        #expect(tables.map { ($0["reward_model"] as? String)?.hasSuffix("rm_small") } == [false, true])
        let rows = tables.map { $0["rows"] as? [[String: Any]] ?? [] }
        #expect(rows.map { $0.map { $0["n"] as? Int } } == [[1, 2, 4], [1, 2, 4]])
        let gold1 = rows.compactMap { $0.first?["gold"] as? Double }
        #expect(gold1.count == 2 && gold1[0] == gold1[1], "gold at n = 1: \(gold1)")
    }

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
