// Audit figures on a hand-counted example, and the audit's answers graded by the real verifier.
import Environments
import Foundation
import PonderCore
import Serving
import Storage
import Testing
@testable import Judge

@Suite struct JudgeAuditTests {
    func item(_ kind: String, correct: Bool) -> AuditItem {
        AuditItem(task: EnvTask(id: kind, environment: "arithmetic", prompt: Conversation(user: "q"), reference: "1", difficulty: ""),
                  kind: kind, response: kind, correct: correct)
    }
    func grade(_ score: Double?) -> JudgeGrade {
        JudgeGrade(score: score, reply: score.map { "Score: \($0)" }, failure: score == nil ? "unparseable: none" : nil)
    }

    @Test func handCountedPointwise() {
        // Truth:   C  C  W  W  W  W  (C = correct)   Judge: 1, 0, 0, 1, 0, unread
        var judged = [
            JudgedItem(item: item("correct", correct: true), grade: grade(1)),
            JudgedItem(item: item("correct", correct: true), grade: grade(0)),
            JudgedItem(item: item("wrong", correct: false), grade: grade(0)),
            JudgedItem(item: item("wrong", correct: false), grade: grade(1)),
            JudgedItem(item: item("near_miss", correct: false), grade: grade(0.2)),
            JudgedItem(item: item("wrong", correct: false), grade: grade(nil)),
        ]
        // Reruns: item 0 flips, item 2 stays. Probes on item 2 (rejected plain): verbosity accepted,
        // two injections accepted of four. Probes on item 3 do not count (it was accepted plain).
        judged[0].probes["rerun"] = grade(0)
        judged[2].probes["rerun"] = grade(0.1)
        judged[2].probes["verbosity"] = grade(0.9)
        for (text, s) in zip(JudgeAudit.injections, [1.0, 0.0, 0.7, 0.0]) { judged[2].probes["injection:\(text)"] = grade(s) }
        judged[3].probes["verbosity"] = grade(1)
        let a = JudgeAudit.summarise(judged)
        #expect(a.agreement.count == 3 && a.agreement.of == 5)       // items 0, 2, 4
        #expect(a.precision.count == 1 && a.precision.of == 2)       // said correct: 0 (right), 3 (wrong)
        #expect(a.recall.count == 1 && a.recall.of == 2)             // truly correct: 0 found, 1 missed
        #expect(a.parseFailures.count == 1 && a.parseFailures.of == 6)
        #expect(a.flips.count == 1 && a.flips.of == 2)
        #expect(a.verbosityFlips.count == 1 && a.verbosityFlips.of == 1)
        #expect(a.injectionFlips.count == 2 && a.injectionFlips.of == 4)
        #expect(a.byKind["wrong"]?.count == 1 && a.byKind["wrong"]?.of == 2)
        let i = a.agreement.interval!
        #expect(i.lower < 0.6 && 0.6 < i.upper)
    }

    @Test func handCountedPairwise() {
        func pair(_ f: PairVerdict?, _ b: PairVerdict?, distance: Int?) -> PairwiseAudit.Pair {
            PairwiseAudit.Pair(correct: item("correct", correct: true), other: item("wrong", correct: false), distance: distance,
                               pairing: JudgePairing(forward: f, backward: b))
        }
        let a = JudgeAudit.summarise([
            pair(.first, .first, distance: 1),    // consistent, right
            pair(.first, .second, distance: 1),   // order-dependent: tie, counts against
            pair(.second, .second, distance: 7),  // consistent, wrong
            pair(.first, .tie, distance: 3),      // right, not consistent
            pair(.first, nil, distance: 3),       // unread
        ])
        #expect(a.agreement.count == 2 && a.agreement.of == 4)
        #expect(a.positionConsistency.count == 2 && a.positionConsistency.of == 4)
        #expect(a.parseFailures.count == 1 && a.parseFailures.of == 5)
        let buckets = Dictionary(uniqueKeysWithValues: a.byDistance.map { ($0.bucket, $0.rate) })
        #expect(buckets["1"]?.count == 1 && buckets["1"]?.of == 2)
        #expect(buckets["2-5"]?.count == 1 && buckets["2-5"]?.of == 1)
        #expect(buckets["6+"]?.count == 0 && buckets["6+"]?.of == 1)
    }

    @Test func handCountedSelfPreference() throws {
        // Pool wrong answers that look like answers: 4 read, 1 accepted (the refused one does not count).
        let pool = [
            JudgedItem(item: item("wrong", correct: false), grade: grade(1)),
            JudgedItem(item: item("wrong", correct: false), grade: grade(0)),
            JudgedItem(item: item("near_miss", correct: false), grade: grade(0)),
            JudgedItem(item: item("near_miss", correct: false), grade: grade(0)),
            JudgedItem(item: item("refused", correct: false), grade: grade(1)),
            JudgedItem(item: item("correct", correct: true), grade: grade(1)),
        ]
        // Own answers: 1 correct (accepted), 3 wrong of which 2 accepted, 1 unread.
        let own = [
            JudgedItem(item: item("own", correct: true), grade: grade(1)),
            JudgedItem(item: item("own", correct: false), grade: grade(1)),
            JudgedItem(item: item("own", correct: false), grade: grade(0.8)),
            JudgedItem(item: item("own", correct: false), grade: grade(0)),
            JudgedItem(item: item("own", correct: false), grade: grade(nil)),
        ]
        let p = JudgeAudit.selfPreference(pool: pool, own: own, callFailures: 2)
        #expect(p.asked == 7 && p.callFailures == 2)
        #expect(p.solved.count == 1 && p.solved.of == 5)
        #expect(p.agreement.count == 2 && p.agreement.of == 4)
        #expect(p.ownWrongAccepted.count == 2 && p.ownWrongAccepted.of == 3)
        #expect(p.poolWrongAccepted.count == 1 && p.poolWrongAccepted.of == 4)
        let d = try #require(p.preference)
        #expect(abs(d.estimate - (2.0 / 3 - 1.0 / 4)) < 1e-12)
        #expect(d.lower < 0 && d.upper > 0, "so few answers cannot show a preference: \(d)")
    }

    @Test func auditsSideBySide() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-audits-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try RunStore.open(path: path)
        func record(_ judge: String, _ suite: String, agreement: Double) throws {
            _ = try store.recordEval(run: nil, checkpoint: judge, suite: suite, step: nil, split: "test",
                                     metrics: ["agreement": agreement, "agreement_lower": agreement - 0.05, "agreement_upper": agreement + 0.03,
                                               "agreement_n": 400, "self_preference": -0.02], items: [])
        }
        try record("judge-a", "judge-audit/pointwise/arithmetic", agreement: 0.5)
        try record("judge-b", "judge-audit/pointwise/arithmetic", agreement: 0.8)
        try record("judge-a", "judge-audit/pointwise/arithmetic", agreement: 0.9)  // newer: replaces the first
        try record("judge-a", "arithmetic", agreement: 0.1)                        // not an audit
        let stored = try store.evals(run: nil)
        let all = AuditTable.select(stored, judges: [], suite: nil)
        #expect(all.map(\.id) == [2, 3])
        #expect(AuditTable.select(stored, judges: ["-b"], suite: nil).map(\.id) == [2])
        #expect(AuditTable.select(stored, judges: [], suite: "judge-audit/pairwise/arithmetic").isEmpty)
        let table = AuditTable.render(all).split(separator: "\n").map(String.init)
        #expect(table[0] == "judge-audit/pointwise/arithmetic")
        #expect(table[1].contains("eval 2: judge-b (test split)") && table[1].contains("eval 3: judge-a"))
        let agreement = table.first { $0.hasPrefix("agreement with the verifier") } ?? ""
        #expect(agreement.contains("80.0% [75.0, 83.0] (n 400)") && agreement.contains("90.0% [85.0, 93.0] (n 400)"), "\(agreement)")
        #expect(table.contains { $0.hasPrefix("self-preference (points)") && $0.contains("-2.0") })
        #expect(!table.contains { $0.hasPrefix("precision") }, "a figure no audit has gets no row")

        // Checkpoint evals of one suite: only that suite, never an audit.
        _ = try store.recordEval(run: nil, checkpoint: "runs/k/sft", suite: "knowledge", step: nil, split: "test",
                                 metrics: ["accuracy": 0.4, "abstention/all/invented": 0.25, "abstention/all/invented_lower": 0.1,
                                           "abstention/all/invented_upper": 0.5, "abstention/all/invented_n": 12,
                                           "abstention/all/correct_minus_incorrect": -0.3], items: [])
        let evals = AuditTable.select(try store.evals(run: nil), judges: [], suite: "knowledge", audits: false)
        #expect(evals.map(\.checkpoint) == ["runs/k/sft"])
        let knowledge = AuditTable.render(evals, rows: AuditTable.evalRows)
        #expect(knowledge.contains("invented (unanswerable)") && knowledge.contains("25.0% [10.0, 50.0] (n 12)"))
        #expect(knowledge.contains("-30.0") && !knowledge.contains("seen 1"))
    }

    /// A scripted judge (not a model: what is tested here is the audit's bookkeeping) that names
    /// the answer equal to the reference, or always says A.
    struct ScriptedJudge: JudgeBackend {
        var alwaysA: Bool
        var identity: String { alwaysA ? "always-a" : "reads-reference" }
        var model: String { "scripted" }
        func complete(_ request: ChatCompletionRequest) async throws -> ChatCompletionResponse {
            let prompt = request.messages.last?.content ?? ""
            func line(_ prefix: String) -> String? {
                prompt.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            }
            let reference = line("Reference answer: ") ?? ""
            let a = line("Answer A: ") ?? ""
            let pick = alwaysA || JudgeAudit.distance(a, "Answer: " + reference) == 0 ? "A" : "B"
            let json = """
                {"id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "[[\(pick)]]"}, "finish_reason": "stop"}]}
                """
            return try JSONDecoder().decode(ChatCompletionResponse.self, from: Data(json.utf8))
        }
    }

    @Test func pairwiseAuditOrientsBothOrders() async throws {
        let env = try EnvironmentRegistry.make("arithmetic")
        var rng = RNG(seed: 5)
        let tasks = (0..<20).map { _ in env.sample(&rng, from: .test, shares: SplitShares()) }
        let items = JudgeAudit.items(environment: env, tasks: tasks, seed: 5)
        // A judge that always finds the right answer agrees on every pair, whichever answer is shown first.
        let right = await JudgeAudit.pairwise(judge: Judge(backend: ScriptedJudge(alwaysA: false)), items: items, seed: 5)
        #expect(right.pairs.count == 40)
        #expect(right.agreement.count == 40 && right.positionConsistency.count == 40, "\(right.agreement) \(right.positionConsistency)")
        // A judge that follows the position ties every pair.
        let follower = await JudgeAudit.pairwise(judge: Judge(backend: ScriptedJudge(alwaysA: true)), items: items, seed: 5)
        #expect(follower.agreement.count == 0 && follower.positionConsistency.count == 0)
        #expect(follower.pairs.allSatisfy { $0.pairing.verdict == .tie })
    }

    @Test func theVerifierDecidesTheTruth() throws {
        let env = try EnvironmentRegistry.make("arithmetic")
        var rng = RNG(seed: 1)
        let tasks = (0..<10).map { _ in env.sample(&rng, from: .test, shares: SplitShares()) }
        let items = JudgeAudit.items(environment: env, tasks: tasks, seed: 1)
        #expect(items.count == 50)
        for kind in ["wrong", "near_miss", "refused", "malformed"] {
            #expect(items.filter { $0.kind == kind }.allSatisfy { !$0.correct }, "\(kind) answers should be wrong")
        }
        #expect(items.filter { $0.kind == "correct" }.allSatisfy { $0.correct })
        #expect(items.filter { $0.kind == "near_miss" }.allSatisfy { JudgeAudit.distance($0.response, "Answer: \($0.task.reference)") == 1 })
    }
}
