// EvalReport: what an evaluation tells a reader, with its uncertainty (DESIGN.md §12).
//
// An `EvalSummary` keeps each graded task's greedy outcome (1 correct, 0 not; machinery
// failures are left out and counted apart), so the accuracy carries a Wilson interval and two
// evaluations of the same tasks can be compared pairwise: `change(from:)` is the mean per-task
// difference with its t-interval, called a change only when the interval excludes 0.
// `Breakdown` groups items by a metadata field (a JSONL line's `difficulty.level`, a counting
// task's `kind`, a code task's `held_out` kind).
// The store keeps the same items (eval_items, with their metadata as JSON), so a summary can be
// rebuilt from it when a resumed run skips an eval stage that completed earlier.

import Environments
import Foundation
import PonderCore
import Storage
import Training

public struct EvalSummary: Sendable {
    public var stage: String
    public var environment: String
    /// The split graded; nil for an external set (a JSONL file given to `ponder eval --data`).
    public var split: Split?
    /// Greedy outcome per graded task id: 1 correct, 0 not. Tasks the machinery failed to grade are absent.
    public var outcomes: [String: Double]
    public var machineryFailures: Int
    public var passAtK: [Int: Double]
    /// pass@k with its 95% t-interval over the tasks (when there are several).
    public var passAtKIntervals: [Int: Interval] = [:]
    /// Share of greedy answers that called a tool.
    public var toolUse: Double
    /// Eval tasks whose key occurs in the run's training stream (0 expected); nil when the
    /// training stream is unknown.
    public var contamination: Int?
    /// Accuracy per held-out kind when the environment has several (code).
    public var byHeldOutKind: [(kind: String, accuracy: Interval)]
    /// Accuracy on tasks asked in a seen and in an unseen (held-out) phrasing, when the
    /// environment has phrasings (metadata `phrasing`).
    public var byPhrasing: [(phrasing: String, accuracy: Interval)] = []

    public var graded: Int { outcomes.count }
    public var correct: Int { Int(outcomes.values.reduce(0, +)) }
    /// Greedy accuracy with its Wilson interval (nil when nothing was graded).
    public var accuracy: Interval? { Statistics.wilson(successes: correct, of: graded) }
    /// The point estimate alone (0 when nothing was graded).
    public var greedyAccuracy: Double { accuracy?.estimate ?? 0 }

    /// The paired difference of this evaluation's accuracy from `before`'s, over the tasks both
    /// graded (nil with fewer than two).
    public func change(from before: EvalSummary) -> Interval? {
        let shared = outcomes.keys.filter { before.outcomes[$0] != nil }.sorted()
        return Statistics.pairedDifference(before: shared.map { before.outcomes[$0]! }, after: shared.map { outcomes[$0]! })
    }

    /// Tasks both evaluations graded.
    public func sharedTasks(with other: EvalSummary) -> Int { outcomes.keys.filter { other.outcomes[$0] != nil }.count }
}

extension EvalSummary {
    /// A summary of an evaluation's greedy items.
    public init(stage: String, environment: String, split: Split?, result: Evaluation.Result, contamination: Int?) {
        self.stage = stage
        self.environment = environment
        self.split = split
        let greedy = result.items.filter { $0.sampleIndex < 0 }
        outcomes = Dictionary(greedy.filter { $0.verdict.failure == nil }.map { ($0.taskID, Evaluation.isCorrect($0.verdict) ? 1.0 : 0.0) },
                              uniquingKeysWith: { a, _ in a })
        machineryFailures = result.machineryFailures
        passAtK = result.passAtK
        passAtKIntervals = result.passAtKIntervals
        toolUse = result.greedyToolUse
        self.contamination = contamination
        let graded = greedy.map { (Breakdown.merged($0.metadata), $0.verdict.failure == nil ? Evaluation.isCorrect($0.verdict) : nil) }
        byHeldOutKind = Breakdown.accuracy(graded, by: "held_out").map { ($0.value, $0.accuracy) }
        byPhrasing = Breakdown.accuracy(graded, by: "phrasing").map { ($0.value, $0.accuracy) }
    }

    /// A summary rebuilt from a stored evaluation (a resumed run skips completed eval stages).
    init(stage: String, record: EvalRecord, items: [EvalItemRecord]) {
        self.stage = stage
        environment = record.suite
        split = record.split.flatMap(Split.init(rawValue:))
        let greedy = items.filter { $0.sampleIndex < 0 }
        outcomes = Dictionary(greedy.filter { $0.failure == nil }.map { ($0.taskID, Self.isCorrect($0) ? 1.0 : 0.0) },
                              uniquingKeysWith: { a, _ in a })
        machineryFailures = Int(record.metrics["machinery_failures"] ?? 0)
        passAtK = [:]
        for (name, value) in record.metrics where name.hasPrefix("pass@") {
            guard let k = Int(name.dropFirst(5)) else { continue }
            passAtK[k] = value
            if let lower = record.metrics["\(name)_lower"], let upper = record.metrics["\(name)_upper"] {
                passAtKIntervals[k] = Interval(estimate: value, lower: lower, upper: upper)
            }
        }
        toolUse = record.metrics["tool_use"] ?? 0
        contamination = record.metrics["contamination"].map { Int($0) }
        let graded = greedy.map { (Breakdown.object(json: $0.metadata), $0.failure == nil ? Self.isCorrect($0) : nil) }
        byHeldOutKind = Breakdown.accuracy(graded, by: "held_out").map { ($0.value, $0.accuracy) }
        byPhrasing = Breakdown.accuracy(graded, by: "phrasing").map { ($0.value, $0.accuracy) }
    }

    /// A stored answer counts as `Evaluation.isCorrect` counted it live: right, or a refusal of a
    /// question whose right answer is a refusal (its verdict scored 1). Counting only `correct`
    /// gave a resumed run's summary 12.2% where the live one had said 32.2%.
    static func isCorrect(_ item: EvalItemRecord) -> Bool {
        item.verdict == .correct || (item.verdict == .refused && !item.answerable)
    }
}

/// Accuracy grouped by a metadata field.
public enum Breakdown {
    /// A task's metadata as one JSON-like object: its string values, with a JSONL line's extra
    /// keys (kept as a JSON object under `fields`) spread at the top level.
    public static func merged(_ metadata: [String: String]) -> [String: Any] {
        var out: [String: Any] = metadata.filter { $0.key != "fields" }
        if let text = metadata["fields"], let fields = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
            for (key, value) in fields { out[key] = value }
        }
        return out
    }

    /// `merged(metadata)` as JSON text with sorted keys, for the store.
    public static func json(_ metadata: [String: String]) -> String {
        let data = try? JSONSerialization.data(withJSONObject: merged(metadata), options: [.sortedKeys])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Stored metadata JSON back as an object (empty when absent or unreadable).
    public static func object(json: String?) -> [String: Any] {
        guard let json, let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [:] }
        return object
    }

    /// The value at a dotted path, as text; nil when absent. ("difficulty.level" of a line with
    /// {"difficulty": {"level": 3}} -> "3"; "kind" of a counting task -> "letter")
    public static func value(_ metadata: [String: Any], at path: String) -> String? {
        var node: Any? = metadata
        for component in path.split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
            if let object = node as? [String: Any] {
                node = object[component]
            } else if let list = node as? [Any], let i = Int(component), list.indices.contains(i) {
                node = list[i]
            } else {
                return nil
            }
        }
        switch node {
        case nil, is NSNull: return nil
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        case let other?:
            let data = try? JSONSerialization.data(withJSONObject: other, options: [.sortedKeys, .fragmentsAllowed])
            return data.map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// Accuracy with its Wilson interval per value of the field at `path`, sorted by value
    /// (numbers numerically); items without the field are grouped as "(none)". `correct` is
    /// nil for an item the machinery failed to grade (left out).
    public static func accuracy(_ items: [(metadata: [String: Any], correct: Bool?)], by path: String)
        -> [(value: String, accuracy: Interval, graded: Int)] {
        var groups: [String: (correct: Int, graded: Int)] = [:]
        var anyPresent = false
        for item in items {
            let value = Breakdown.value(item.metadata, at: path)
            anyPresent = anyPresent || value != nil
            guard let correct = item.correct else { continue }
            groups[value ?? "(none)", default: (0, 0)].graded += 1
            if correct { groups[value ?? "(none)", default: (0, 0)].correct += 1 }
        }
        guard anyPresent else { return [] }
        return groups.sorted { a, b in
            if let x = Double(a.key), let y = Double(b.key) { return x < y }
            return a.key < b.key
        }.compactMap { key, counts in
            Statistics.wilson(successes: counts.correct, of: counts.graded).map { (key, $0, counts.graded) }
        }
    }
}

/// Evaluations as lines of text, for the terminal and the README table.
public enum EvalLines {
    /// The eval line of one environment, and its comparison with `baseline` when that is an
    /// earlier stage: "change" only when the paired interval excludes 0.
    public static func describe(_ e: EvalSummary, baseline: EvalSummary?) -> [String] {
        var text = "[\(e.stage)] \(e.environment)" + (e.split.map { ", \($0.rawValue) split" } ?? "") + ": greedy accuracy "
            + (e.accuracy.map { $0.formatted() + " (95% CI)" } ?? "n/a") + ", \(e.graded) tasks"
        for k in e.passAtK.keys.sorted() {
            text += ", pass@\(k) " + (e.passAtKIntervals[k]?.formatted() ?? String(format: "%.1f%%", e.passAtK[k]! * 100))
        }
        if e.toolUse > 0 { text += String(format: "; a tool called in %.0f%% of answers", e.toolUse * 100) }
        if let c = e.contamination { text += "; contamination \(c)" }
        var lines = [text]
        if e.machineryFailures > 0 {
            lines.append("  \(e.machineryFailures) answers could not be graded (machinery failures), left out of the figures")
        }
        if e.byHeldOutKind.count > 1 {
            lines.append("  " + e.byHeldOutKind.map { "\($0.kind): \($0.accuracy.formatted())" }.joined(separator: "; "))
        }
        if !e.byPhrasing.isEmpty {
            lines.append("  phrasing " + e.byPhrasing.map { "\($0.phrasing): \($0.accuracy.formatted())" }.joined(separator: "; "))
        }
        if let baseline, baseline.stage != e.stage, let line = comparison(e, baseline) { lines.append("  " + line) }
        return lines
    }

    /// "vs before_rl (paired, 100 tasks): +12.0 points [3.1, 20.9]", or "...: no significant change".
    public static func comparison(_ e: EvalSummary, _ baseline: EvalSummary) -> String? {
        guard let change = e.change(from: baseline) else { return nil }
        let verdict = change.excludes(0) ? (change.estimate > 0 ? "a gain" : "a loss") : "no significant change"
        return "vs \(baseline.stage) (paired, \(e.sharedTasks(with: baseline)) tasks): " + points(change) + ": \(verdict)"
    }

    /// A difference of shares in percentage points: "+12.0 points [3.1, 20.9]".
    public static func points(_ d: Interval) -> String {
        String(format: "%+.1f points [%.1f, %.1f]", d.estimate * 100, d.lower * 100, d.upper * 100)
    }
}

/// Refusal and hallucination figures (PonderCore/Abstention.swift) of the greedy answers to tasks
/// that say whether they can be answered (`answerable` in their metadata: the knowledge
/// environment, or a JSONL line's field), overall, by question kind (`partition`) and by how many
/// times pretraining saw the fact (`exposure_bucket`, groups "seen 0", "seen 1", "seen 2-4", "seen 5+").
public enum AbstentionLines {
    public struct Group: Sendable {
        public var name: String
        public var report: AbstentionReport
    }

    /// Nil when no graded item says whether it is answerable. Machinery failures are left out.
    public static func groups(_ items: [Evaluation.Item]) -> [Group]? {
        let graded = items.filter { $0.sampleIndex < 0 && $0.verdict.failure == nil }
        let marked = graded.compactMap { item -> (kind: String?, exposure: String?, item: AbstentionItem)? in
            let fields = Breakdown.merged(item.metadata)
            let flag = fields["answerable"].map { "\($0)".lowercased() }
            guard let flag, flag == "true" || flag == "false" || flag == "1" || flag == "0" else { return nil }
            return (fields["partition"].map { "\($0)" }, fields["exposure_bucket"].map { "\($0)" },
                    AbstentionItem(answerable: flag == "true" || flag == "1", outcome: AnswerOutcome(item.verdict.kind)))
        }
        guard !marked.isEmpty else { return nil }
        var out = [Group(name: "all", report: AbstentionReport(marked.map(\.item)))]
        for kind in Set(marked.compactMap(\.kind)).sorted() {
            out.append(Group(name: kind, report: AbstentionReport(marked.filter { $0.kind == kind }.map(\.item))))
        }
        // Corpus facts by how often pretraining saw them (the knowledge environment's `exposure`).
        for bucket in ["0", "1", "2-4", "5+"] where marked.contains(where: { $0.exposure == bucket }) {
            out.append(Group(name: "seen \(bucket)", report: AbstentionReport(marked.filter { $0.exposure == bucket }.map(\.item))))
        }
        return out
    }

    /// Calibration of the greedy answers, by one of two confidences:
    ///   sample agreement (when the eval drew samples, `--samples K`): the share of the task's
    ///     samples whose extracted answer is the greedy one (normalised; a refusal agrees with
    ///     nothing);
    ///   sequence probability: exp of the greedy completion's log-probability under the model
    ///     (Evaluation.Item.logProb), always available.
    /// Refusals are not attempted and carry no confidence.
    public struct CalibrationReport: Sendable {
        /// Which confidence: "agreement of K samples with the greedy answer" or "sequence probability".
        public var confidence: String
        public var samples: Int
        public var questions: Int
        public var answers: [ConfidentAnswer]
        public var ece: Double?
        public var bins: [Calibration.Bin]
        public var targets: [(t: Double, score: Double)]
    }

    public static let targets = [0, 0.5, 0.75, 0.9]

    public static func calibration(_ items: [Evaluation.Item]) -> CalibrationReport? {
        let samples = Dictionary(grouping: items.filter { $0.sampleIndex >= 0 && $0.verdict.failure == nil }, by: \.taskID)
        let greedy = items.filter { $0.sampleIndex < 0 && $0.verdict.failure == nil }
        guard !samples.isEmpty, !greedy.isEmpty else { return nil }
        func key(_ v: Verdict) -> String? {
            AnswerOutcome(v.kind) == .notAttempted ? nil : v.extracted.map { Answers.normalized($0) }
        }
        var answers: [ConfidentAnswer] = []
        for item in greedy where AnswerOutcome(item.verdict.kind) != .notAttempted {
            guard let drawn = samples[item.taskID], !drawn.isEmpty, let mine = key(item.verdict) else { continue }
            let agree = drawn.filter { key($0.verdict) == mine }.count
            answers.append(ConfidentAnswer(confidence: Double(agree) / Double(drawn.count), correct: item.verdict.kind == .correct))
        }
        let k = samples.values.map(\.count).max() ?? 0
        return report("agreement of \(k) samples with the greedy answer", samples: k, questions: greedy.count, answers)
    }

    /// Calibration by sequence probability: every attempted greedy answer, confidence exp(logProb).
    public static func sequenceCalibration(_ items: [Evaluation.Item]) -> CalibrationReport? {
        let greedy = items.filter { $0.sampleIndex < 0 && $0.verdict.failure == nil }
        guard !greedy.isEmpty else { return nil }
        let answers = greedy.filter { AnswerOutcome($0.verdict.kind) != .notAttempted }
            .map { ConfidentAnswer(confidence: min(1, exp($0.logProb)), correct: $0.verdict.kind == .correct) }
        return report("sequence probability of the greedy answer", samples: 0, questions: greedy.count, answers)
    }

    static func report(_ confidence: String, samples: Int, questions: Int, _ answers: [ConfidentAnswer]) -> CalibrationReport {
        CalibrationReport(confidence: confidence, samples: samples, questions: questions, answers: answers, ece: Calibration.ece(answers),
                          bins: Calibration.reliability(answers),
                          targets: targets.compactMap { t in Calibration.targetScore(answers, questions: questions, t: t).map { (t, $0) } })
    }

    public static func describe(_ c: CalibrationReport) -> [String] {
        var lines = ["  calibration (confidence: \(c.confidence); \(c.answers.count) attempted of \(c.questions)):"]
        lines.append("    expected calibration error   " + (c.ece.map { String(format: "%.3f", $0) } ?? "n/a") + " (10 bins)")
        lines.append("    confidence-target score      " + c.targets.map { String(format: "t=%.2f: %+.3f", $0.t, $0.score) }.joined(separator: ", ")
                     + " (a wrong answer costs t/(1-t))")
        for bin in c.bins where bin.count > 0 {
            lines.append(String(format: "    confidence [%.1f, %.1f%@  %4d answers, mean confidence %.2f, accuracy %.2f",
                                bin.lower, bin.upper, bin.upper >= 1 ? "]" : ")", bin.count, bin.meanConfidence ?? 0, bin.accuracy ?? 0))
        }
        return lines
    }

    public static func json(_ c: CalibrationReport) -> [String: Any] {
        ["confidence": c.confidence, "samples": c.samples, "questions": c.questions, "attempted": c.answers.count, "ece": c.ece ?? NSNull(),
         "targets": c.targets.map { ["t": $0.t, "score": $0.score] },
         "reliability": c.bins.filter { $0.count > 0 }.map { ["lower": $0.lower, "upper": $0.upper, "count": $0.count,
                                                               "mean_confidence": $0.meanConfidence ?? 0, "accuracy": $0.accuracy ?? 0] }]
    }

    public static func describe(_ groups: [Group]) -> [String] {
        var lines: [String] = []
        for g in groups {
            let r = g.report
            let what = g.name == "all" ? "all questions"
                : g.name.hasPrefix("seen ") ? "facts \(g.name) times in pretraining" : "kind \(g.name)"
            lines.append("  refusal and hallucination, \(what) (\(r.questions)):")
            if r.accuracy.of > 0 {
                lines.append("    accuracy (answerable)        \(r.accuracy.described)")
                lines.append("    attempted (answerable)       \(r.attempted.described)")
                lines.append("    accuracy given attempted     \(r.accuracyGivenAttempted.described)")
                lines.append("    over-refusal (answerable)    \(r.overRefusal.described)")
            }
            lines.append("    hallucination (of attempted) \(r.hallucination.described)")
            if r.invented.of > 0 {
                lines.append("    invented (unanswerable)      \(r.invented.described)")
            }
            if let f = r.f { lines.append("    F (SimpleQA)                 \(f.formatted()) (bootstrap)") }
            if let d = r.correctMinusIncorrect { lines.append("    correct - incorrect          \(d.formatted(signed: true)) points") }
        }
        return lines
    }

    /// The figures as stored metrics: `abstention/GROUP/FIGURE` (GROUP `all`, a kind, or `seen_1`
    /// ...), each share with `_lower`, `_upper` and `_n`.
    public static func metrics(_ groups: [Group]) -> [String: Double] {
        var m: [String: Double] = [:]
        for g in groups {
            let prefix = "abstention/\(g.name.replacingOccurrences(of: " ", with: "_"))/"
            let r = g.report
            for (name, share) in [("accuracy", r.accuracy), ("attempted", r.attempted), ("accuracy_given_attempted", r.accuracyGivenAttempted),
                                  ("over_refusal", r.overRefusal), ("hallucination", r.hallucination), ("invented", r.invented),
                                  ("refusal_unanswerable", r.refusalOnUnanswerable)] {
                m.merge(share.metrics(named: prefix + name)) { $1 }
            }
            for (name, interval) in [("f", r.f), ("correct_minus_incorrect", r.correctMinusIncorrect)] {
                if let interval { m.merge(interval.metrics(named: prefix + name)) { $1 } }
            }
        }
        return m
    }

    public static func json(_ groups: [Group]) -> [String: Any] {
        func share(_ s: Share) -> [String: Any] {
            var o: [String: Any] = ["count": s.count, "of": s.of]
            if let i = s.interval { o["value"] = i.estimate; o["lower"] = i.lower; o["upper"] = i.upper }
            return o
        }
        func interval(_ i: Interval?) -> Any { i.map { ["value": $0.estimate, "lower": $0.lower, "upper": $0.upper] } ?? NSNull() }
        return Dictionary(uniqueKeysWithValues: groups.map { g in
            let r = g.report
            return (g.name, ["questions": r.questions, "accuracy": share(r.accuracy), "attempted": share(r.attempted),
                             "accuracy_given_attempted": share(r.accuracyGivenAttempted), "over_refusal": share(r.overRefusal),
                             "hallucination": share(r.hallucination), "invented": share(r.invented),
                             "refusal_unanswerable": share(r.refusalOnUnanswerable), "f": interval(r.f),
                             "correct_minus_incorrect": interval(r.correctMinusIncorrect)] as [String: Any])
        })
    }
}
