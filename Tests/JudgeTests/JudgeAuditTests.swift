// Audit figures on a hand-counted example, and the audit's answers graded by the real verifier.
import Environments
import PonderCore
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
