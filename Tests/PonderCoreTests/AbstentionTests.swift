// Refusal and hallucination figures on a hand-counted example, and calibration on synthetic sets
// whose calibration is known.
import Testing
@testable import PonderCore

@Suite struct AbstentionTests {
    @Test func outcomesOfVerdicts() {
        #expect(AnswerOutcome(.correct) == .correct && AnswerOutcome(.incorrect) == .incorrect)
        #expect(AnswerOutcome(.refused) == .notAttempted && AnswerOutcome(.unparseable) == .notAttempted)
    }

    @Test func handCountedReport() throws {
        // Answerable (10): 5 correct, 2 incorrect, 3 not attempted.
        // Unanswerable (5): 2 answered (invented), 3 refused.
        let items = [AbstentionItem](repeating: .init(answerable: true, outcome: .correct), count: 5)
            + .init(repeating: .init(answerable: true, outcome: .incorrect), count: 2)
            + .init(repeating: .init(answerable: true, outcome: .notAttempted), count: 3)
            + .init(repeating: .init(answerable: false, outcome: .incorrect), count: 2)
            + .init(repeating: .init(answerable: false, outcome: .notAttempted), count: 3)
        let r = AbstentionReport(items)
        #expect(r.questions == 15)
        #expect(r.accuracy == Share(5, of: 10))
        #expect(r.attempted == Share(7, of: 10))
        #expect(r.accuracyGivenAttempted == Share(5, of: 7))
        #expect(r.overRefusal == Share(3, of: 10))
        #expect(r.hallucination == Share(4, of: 9))           // 2 + 2 incorrect of 7 + 2 attempted
        #expect(r.invented == Share(2, of: 5))
        #expect(r.refusalOnUnanswerable == Share(3, of: 5))
        // F = 2 * 0.5 * (5/7) / (0.5 + 5/7) = 10/17.
        let f = try #require(r.f)
        #expect(abs(f.estimate - 10.0 / 17) < 1e-12)
        #expect(f.lower <= f.estimate && f.estimate <= f.upper && f.lower < f.upper)
        // (5 - 4) / 15, with the t-interval of fifteen values: five +1, four -1, six 0.
        let index = try #require(r.correctMinusIncorrect)
        #expect(abs(index.estimate - 1.0 / 15) < 1e-12)
        let values = [Double](repeating: 1, count: 5) + [Double](repeating: -1, count: 4) + [Double](repeating: 0, count: 6)
        let want = try #require(Statistics.meanInterval(values))
        #expect(abs(index.lower - want.lower) < 1e-12 && abs(index.upper - want.upper) < 1e-12)
        // The bootstrap is seeded: the same report twice.
        #expect(AbstentionReport(items).f == r.f)
    }

    @Test func emptyAndDegenerateSets() {
        let none = AbstentionReport([])
        #expect(none.accuracy.value == nil && none.f == nil && none.correctMinusIncorrect == nil)
        // Nothing attempted: accuracy 0, accuracy | attempted undefined, so no F.
        let silent = AbstentionReport([.init(answerable: true, outcome: .notAttempted)])
        #expect(silent.accuracy == Share(0, of: 1) && silent.accuracyGivenAttempted.value == nil && silent.f == nil)
    }

    @Test func eceOfKnownCalibration() throws {
        // Always 90% sure, right 6 times in 10: ECE = |0.6 - 0.9| = 0.3.
        let over = (0..<10).map { ConfidentAnswer(confidence: 0.9, correct: $0 < 6) }
        #expect(abs(try #require(Calibration.ece(over)) - 0.3) < 1e-12)
        // Two bins, each calibrated exactly: 0.25 right 1 of 4, 0.75 right 3 of 4.
        let exact = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75].enumerated().map { i, c in
            ConfidentAnswer(confidence: c, correct: i == 0 || i >= 5)
        }
        #expect(abs(try #require(Calibration.ece(exact))) < 1e-12)
        // A large synthetic set drawn calibrated: confidence c uniform, right with probability c.
        var rng = RNG(seed: 7)
        let drawn = (0..<20_000).map { _ -> ConfidentAnswer in
            let c = rng.nextDouble()
            return ConfidentAnswer(confidence: c, correct: rng.nextDouble() < c)
        }
        #expect(try #require(Calibration.ece(drawn)) < 0.02)
        let table = Calibration.reliability(exact, bins: 4)
        #expect(table.map(\.count) == [0, 4, 0, 4])
        #expect(table[1].accuracy == 0.25 && table[3].accuracy == 0.75 && table[0].accuracy == nil)
        #expect(Calibration.reliability([ConfidentAnswer(confidence: 1, correct: true)], bins: 10)[9].count == 1)
    }

    @Test func abstentionCurveAndTargetScores() throws {
        // Ten questions, four answered: 0.9 right, 0.8 wrong, 0.8 right, 0.4 wrong.
        let answers = [ConfidentAnswer(confidence: 0.9, correct: true), ConfidentAnswer(confidence: 0.8, correct: false),
                       ConfidentAnswer(confidence: 0.8, correct: true), ConfidentAnswer(confidence: 0.4, correct: false)]
        let curve = Calibration.abstentionCurve(answers, questions: 10)
        #expect(curve.map(\.threshold) == [0.9, 0.8, 0.4])
        #expect(curve.map(\.attempted) == [0.1, 0.3, 0.4])
        #expect(abs(curve[1].accuracy - 2.0 / 3) < 1e-12 && curve[2].accuracy == 0.5)
        // t = 0: every answer counts, a wrong one costs 0: 2 / 10.
        #expect(Calibration.targetScore(answers, questions: 10, t: 0) == 0.2)
        // t = 0.5: answers above 0.5 (three), a wrong one costs 1: (2 - 1) / 10.
        #expect(Calibration.targetScore(answers, questions: 10, t: 0.5) == 0.1)
        // t = 0.75: the same three, a wrong one costs 3: (2 - 3) / 10.
        #expect(abs(try #require(Calibration.targetScore(answers, questions: 10, t: 0.75)) + 0.1) < 1e-12)
        // t = 0.85: only the 0.9 answer: 1 / 10.
        #expect(Calibration.targetScore(answers, questions: 10, t: 0.85) == 0.1)
    }
}
