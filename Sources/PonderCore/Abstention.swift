// Refusal and hallucination figures (DESIGN.md §10), SimpleQA style, from per-question outcomes.
//
// Each answer is correct, incorrect, or not attempted (a refusal, or no answer at all). A question
// is answerable (the world holds its fact) or not (the entity was never seen, or the question rests
// on a false premise); every attempted answer to an unanswerable question is incorrect: an
// invented fact.
//
//   accuracy               correct / answerable questions
//   attempted rate         attempted / answerable questions
//   accuracy | attempted   correct / attempted answerable questions
//   over-refusal           not attempted / answerable questions          (want low)
//   hallucination rate     incorrect / attempted, over every question
//   invented               attempted / unanswerable questions             (want low)
//   refusal, unanswerable  not attempted / unanswerable questions         (want high)
//   F                      harmonic mean of accuracy and accuracy | attempted (SimpleQA's F)
//   correct - incorrect    (correct - incorrect) / every question, in [-1, 1]: a wrong answer
//                          costs what a right one earns, a refusal nothing
//
// Shares carry Wilson 95% intervals; the index a t-interval over the per-question values
// (+1, 0, -1); F, a ratio of shares, a seeded percentile bootstrap over questions.

import Foundation

public enum AnswerOutcome: String, Codable, Sendable, CaseIterable {
    case correct, incorrect, notAttempted = "not_attempted"

    /// The outcome of a verifier's verdict: a refusal or an empty answer is not attempted.
    public init(_ verdict: VerdictKind) {
        switch verdict {
        case .correct: self = .correct
        case .incorrect: self = .incorrect
        case .refused, .unparseable: self = .notAttempted
        }
    }
}

public struct AbstentionItem: Sendable, Equatable {
    public var answerable: Bool
    public var outcome: AnswerOutcome

    public init(answerable: Bool, outcome: AnswerOutcome) {
        self.answerable = answerable
        self.outcome = outcome
    }
}

/// A share with its count: `count` of `of`, and the Wilson interval (nil when `of` is 0).
public struct Share: Sendable, Equatable, Codable {
    public var count: Int
    public var of: Int
    public var interval: Interval?

    public init(_ count: Int, of n: Int) {
        self.count = count
        self.of = n
        interval = Statistics.wilson(successes: count, of: n)
    }

    public var value: Double? { of > 0 ? Double(count) / Double(of) : nil }

    /// "87.0% [80.2, 91.7] (87/100)", or "n/a (0 items)".
    public var described: String {
        guard let interval else { return "n/a (0 items)" }
        return interval.formatted() + " (\(count)/\(of))"
    }

    /// As stored metrics: NAME, NAME_lower, NAME_upper, NAME_n (nothing when `of` is 0).
    public func metrics(named name: String) -> [String: Double] {
        guard let interval else { return [:] }
        return interval.metrics(named: name).merging([name + "_n": Double(of)]) { a, _ in a }
    }
}

extension Interval {
    /// As stored metrics: NAME, NAME_lower, NAME_upper.
    public func metrics(named name: String) -> [String: Double] {
        [name: estimate, name + "_lower": lower, name + "_upper": upper]
    }
}

public struct AbstentionReport: Sendable, Equatable {
    public var questions: Int
    public var accuracy: Share
    public var attempted: Share
    public var accuracyGivenAttempted: Share
    public var overRefusal: Share
    public var hallucination: Share
    public var invented: Share
    public var refusalOnUnanswerable: Share
    /// Harmonic mean of accuracy and accuracy | attempted; nil when either is undefined or both 0.
    public var f: Interval?
    /// (correct - incorrect) / questions, with a t-interval.
    public var correctMinusIncorrect: Interval?

    public init(_ items: [AbstentionItem], bootstrap: Int = 1000, seed: UInt64 = 0) {
        let answerable = items.filter(\.answerable), unanswerable = items.filter { !$0.answerable }
        func count(_ of: [AbstentionItem], _ outcome: AnswerOutcome) -> Int { of.filter { $0.outcome == outcome }.count }
        let correct = count(answerable, .correct)
        let attemptedAnswerable = answerable.count - count(answerable, .notAttempted)
        let attemptedAll = items.count - count(items, .notAttempted)
        questions = items.count
        accuracy = Share(correct, of: answerable.count)
        attempted = Share(attemptedAnswerable, of: answerable.count)
        accuracyGivenAttempted = Share(correct, of: attemptedAnswerable)
        overRefusal = Share(count(answerable, .notAttempted), of: answerable.count)
        // Every attempt that is not a right answer to an answerable question is a wrong or invented one.
        hallucination = Share(attemptedAll - correct, of: attemptedAll)
        invented = Share(unanswerable.count - count(unanswerable, .notAttempted), of: unanswerable.count)
        refusalOnUnanswerable = Share(count(unanswerable, .notAttempted), of: unanswerable.count)

        let values = items.map { item -> Double in
            guard item.outcome != .notAttempted else { return 0 }
            return item.answerable && item.outcome == .correct ? 1 : -1
        }
        correctMinusIncorrect = Statistics.meanInterval(values)
            .map { Interval(estimate: $0.estimate, lower: max(-1, $0.lower), upper: min(1, $0.upper)) }
            ?? values.first.map { Interval(estimate: $0, lower: -1, upper: 1) }

        if let estimate = Self.f(answerable) {
            var rng = RNG(seed: seed)
            var draws: [Double] = []
            for _ in 0..<bootstrap {
                let resample = (0..<answerable.count).map { _ in answerable[rng.nextInt(below: answerable.count)] }
                draws.append(Self.f(resample) ?? 0)
            }
            draws.sort()
            f = draws.isEmpty ? Interval(estimate: estimate, lower: estimate, upper: estimate)
                : Interval(estimate: estimate, lower: draws[Int(0.025 * Double(draws.count - 1))],
                           upper: draws[Int((0.975 * Double(draws.count - 1)).rounded(.up))])
        } else {
            f = nil
        }
    }

    /// SimpleQA's F on answerable items: 2 a g / (a + g), a = correct / all, g = correct / attempted.
    static func f(_ answerable: [AbstentionItem]) -> Double? {
        let correct = Double(answerable.filter { $0.outcome == .correct }.count)
        let attempted = Double(answerable.filter { $0.outcome != .notAttempted }.count)
        guard !answerable.isEmpty, attempted > 0 else { return nil }
        let a = correct / Double(answerable.count), g = correct / attempted
        return a + g > 0 ? 2 * a * g / (a + g) : 0
    }
}
