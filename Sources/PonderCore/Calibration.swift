// Calibration of a model's confidence in its answers (DESIGN.md §10).
//
// Each attempted answer carries a confidence in [0, 1] (the answer's sequence probability, or the
// share of k samples that agree with it) and whether it was right.
//
//   reliability table   B equal-width bins of confidence ([0, 1/B), ..., [(B-1)/B, 1]); per bin
//                       the answers, their mean confidence and their accuracy
//   ECE                 sum over bins of (n_b / N) |accuracy_b - confidence_b|
//   abstention curve    answering only above a threshold: for each distinct confidence c (highest
//                       first), the share of all questions answered at threshold c and the accuracy
//                       of those answers
//   confidence target   answer only when confidence > t; a right answer scores 1, a wrong one
//                       -t / (1 - t), an abstention 0 (so answering pays exactly when the chance
//                       of being right exceeds t); the mean over every question, the model's own
//                       refusals included as 0

import Foundation

public struct ConfidentAnswer: Sendable, Equatable {
    public var confidence: Double
    public var correct: Bool

    public init(confidence: Double, correct: Bool) {
        self.confidence = confidence
        self.correct = correct
    }
}

public enum Calibration {
    public struct Bin: Sendable, Equatable {
        public var lower: Double
        public var upper: Double
        public var count: Int
        public var meanConfidence: Double?
        public var accuracy: Double?
    }

    public static func reliability(_ answers: [ConfidentAnswer], bins: Int = 10) -> [Bin] {
        precondition(bins > 0)
        var grouped = [[ConfidentAnswer]](repeating: [], count: bins)
        for a in answers {
            let c = min(max(a.confidence, 0), 1)
            grouped[min(Int(c * Double(bins)), bins - 1)].append(a)
        }
        return grouped.enumerated().map { b, group in
            let n = Double(group.count)
            return Bin(lower: Double(b) / Double(bins), upper: Double(b + 1) / Double(bins), count: group.count,
                       meanConfidence: group.isEmpty ? nil : group.map(\.confidence).reduce(0, +) / n,
                       accuracy: group.isEmpty ? nil : Double(group.filter(\.correct).count) / n)
        }
    }

    /// Expected calibration error over `bins` equal-width bins (nil for no answers).
    public static func ece(_ answers: [ConfidentAnswer], bins: Int = 10) -> Double? {
        guard !answers.isEmpty else { return nil }
        return reliability(answers, bins: bins).reduce(0) { sum, bin in
            guard let c = bin.meanConfidence, let a = bin.accuracy else { return sum }
            return sum + Double(bin.count) / Double(answers.count) * abs(a - c)
        }
    }

    /// (threshold, share of `questions` answered, accuracy of those answers), highest threshold first.
    public static func abstentionCurve(_ answers: [ConfidentAnswer], questions: Int) -> [(threshold: Double, attempted: Double, accuracy: Double)] {
        guard questions > 0 else { return [] }
        let sorted = answers.sorted { $0.confidence > $1.confidence }
        var out: [(threshold: Double, attempted: Double, accuracy: Double)] = []
        var right = 0
        for (i, a) in sorted.enumerated() {
            if a.correct { right += 1 }
            // One point per distinct confidence: ties are answered together.
            if i + 1 < sorted.count && sorted[i + 1].confidence == a.confidence { continue }
            out.append((a.confidence, Double(i + 1) / Double(questions), Double(right) / Double(i + 1)))
        }
        return out
    }

    /// The confidence-target score at `t` in [0, 1): mean over `questions` (answers not in
    /// `answers` are the model's own abstentions and score 0).
    public static func targetScore(_ answers: [ConfidentAnswer], questions: Int, t: Double) -> Double? {
        precondition((0..<1).contains(t), "the confidence target must be in [0, 1)")
        guard questions > 0 else { return nil }
        let penalty = t / (1 - t)
        let total = answers.reduce(0.0) { sum, a in
            guard a.confidence > t else { return sum }
            return sum + (a.correct ? 1 : -penalty)
        }
        return total / Double(questions)
    }
}
