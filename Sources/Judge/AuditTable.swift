// Stored evaluations side by side: judge audits (`ponder compare --audits`) and checkpoint evals
// of one suite (`ponder compare --evals knowledge`): one table per suite, a row per figure, a
// column per judge or checkpoint, each cell the figure with its 95% interval and count as stored.

import Foundation
import PonderCore
import Storage

public enum AuditTable {
    /// The figures in the order they are printed; a row appears when some audit has it.
    public static let rows: [(metric: String, label: String)] = [
        ("agreement", "agreement with the verifier"), ("precision", "precision of \"correct\""), ("recall", "recall of \"correct\""),
        ("parse_failure_rate", "parse failures"), ("flip_rate", "flips on rerun (T = 1)"),
        ("verbosity_flip_rate", "verbosity probe accepted"), ("injection_flip_rate", "injection probe accepted"),
        ("self_solved", "own answers correct"), ("self_agreement", "agreement on own answers"),
        ("self_wrong_accepted", "own wrong answers accepted"), ("pool_wrong_accepted", "pool wrong answers accepted"),
        ("self_preference", "self-preference (points)"),
        ("position_consistency", "position consistency"),
        ("agreement_distance_1", "agreement, answers 1 apart"), ("agreement_distance_2-5", "agreement, answers 2-5 apart"),
        ("agreement_distance_6+", "agreement, answers 6+ apart"), ("agreement_distance_other", "agreement, other pairs"),
    ]

    /// The figures of a checkpoint eval (stored by eval stages and `ponder eval`): greedy accuracy,
    /// then the refusal and hallucination figures over all questions and by exposure bucket.
    public static let evalRows: [(metric: String, label: String)] = {
        var rows: [(metric: String, label: String)] = [("accuracy", "greedy accuracy")]
        let figures = [("accuracy", "accuracy (answerable)"), ("attempted", "attempted (answerable)"),
                       ("accuracy_given_attempted", "accuracy given attempted"), ("over_refusal", "over-refusal"),
                       ("hallucination", "hallucination (of attempted)"), ("invented", "invented (unanswerable)"),
                       ("f", "F (SimpleQA)"), ("correct_minus_incorrect", "correct - incorrect (points)")]
        for (metric, label) in figures { rows.append(("abstention/all/\(metric)", label)) }
        for group in ["corpus", "search", "unanswerable", "false_premise"] {
            rows.append(("abstention/\(group)/accuracy", "\(group): accuracy"))
            rows.append(("abstention/\(group)/invented", "\(group): invented"))
        }
        for bucket in ["0", "1", "2-4", "5+"] {
            rows.append(("abstention/seen_\(bucket)/accuracy", "seen \(bucket): accuracy"))
            rows.append(("abstention/seen_\(bucket)/hallucination", "seen \(bucket): hallucination"))
        }
        return rows
    }()

    /// The newest eval of each (judge or checkpoint, suite, split) among `evals` whose name
    /// contains one of `names` (all when empty): judge audits, or with `audits` false the evals
    /// of suite `suite`.
    public static func select(_ evals: [EvalRecord], judges names: [String], suite: String?, audits: Bool = true) -> [EvalRecord] {
        var newest: [String: EvalRecord] = [:]
        for eval in evals where eval.suite.hasPrefix("judge-audit/") == audits {
            if let suite, eval.suite != suite { continue }
            if !names.isEmpty && !names.contains(where: { eval.checkpoint.contains($0) }) { continue }
            newest["\(eval.checkpoint)\n\(eval.suite)\n\(eval.split ?? "")"] = eval  // oldest first: the last one wins
        }
        return newest.values.sorted { ($0.suite, $0.id ?? 0) < ($1.suite, $1.id ?? 0) }
    }

    /// One cell: "95.6% [93.4, 97.1] (n 400)", a difference in signed points, or "-".
    static func cell(_ metrics: [String: Double], _ name: String) -> String {
        guard let value = metrics[name] else { return "-" }
        let signed = name == "self_preference" || name.hasSuffix("correct_minus_incorrect")
        var text = String(format: signed ? "%+.1f" : "%.1f%%", value * 100)
        if let lower = metrics[name + "_lower"], let upper = metrics[name + "_upper"] {
            text += String(format: " [%.1f, %.1f]", lower * 100, upper * 100)
        }
        if let n = metrics[name + "_n"] { text += " (n \(Int(n)))" }
        return text
    }

    /// A text table per suite.
    public static func render(_ audits: [EvalRecord], rows: [(metric: String, label: String)] = rows) -> String {
        var out: [String] = []
        for suite in audits.map(\.suite).uniqued() {
            let columns = audits.filter { $0.suite == suite }
            let shown = rows.filter { row in columns.contains { $0.metrics[row.metric] != nil } }
            let header = ["figure"] + columns.map { "eval \($0.id ?? 0): \($0.checkpoint)" + ($0.split.map { " (\($0) split)" } ?? "") }
            let body = shown.map { row in [row.label] + columns.map { cell($0.metrics, row.metric) } }
            let widths = (0..<header.count).map { c in ([header] + body).map { $0[c].count }.max()! }
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { c, text in text.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
            }
            out.append(suite)
            out.append(line(header))
            out.append(line(widths.map { String(repeating: "-", count: $0) }))
            out.append(contentsOf: body.map(line))
            out.append("")
        }
        return out.joined(separator: "\n")
    }
}
