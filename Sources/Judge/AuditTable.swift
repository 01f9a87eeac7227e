// Judge audits side by side (`ponder compare --audits`): one table per audit suite, a row per
// figure, a column per judge, each cell the figure with its 95% interval and count as
// `ponder judge audit` stored them.

import Foundation
import PonderCore
import Storage

public enum AuditTable {
    /// The figures in the order they are printed; a row appears when some audit has it.
    static let rows: [(metric: String, label: String)] = [
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

    /// The newest audit of each (judge, suite, split) among `evals`, keeping only suites of
    /// `ponder judge audit` and judges whose name contains one of `judges` (all when empty).
    public static func select(_ evals: [EvalRecord], judges: [String], suite: String?) -> [EvalRecord] {
        var newest: [String: EvalRecord] = [:]
        for eval in evals where eval.suite.hasPrefix("judge-audit/") {
            if let suite, eval.suite != suite { continue }
            if !judges.isEmpty && !judges.contains(where: { eval.checkpoint.contains($0) }) { continue }
            newest["\(eval.checkpoint)\n\(eval.suite)\n\(eval.split ?? "")"] = eval  // oldest first: the last one wins
        }
        return newest.values.sorted { ($0.suite, $0.id ?? 0) < ($1.suite, $1.id ?? 0) }
    }

    /// One cell: "95.6% [93.4, 97.1] (n 400)", a difference in signed points, or "-".
    static func cell(_ metrics: [String: Double], _ name: String) -> String {
        guard let value = metrics[name] else { return "-" }
        let signed = name == "self_preference"
        var text = String(format: signed ? "%+.1f" : "%.1f%%", value * 100)
        if let lower = metrics[name + "_lower"], let upper = metrics[name + "_upper"] {
            text += String(format: " [%.1f, %.1f]", lower * 100, upper * 100)
        }
        if let n = metrics[name + "_n"] { text += " (n \(Int(n)))" }
        return text
    }

    /// A text table per suite.
    public static func render(_ audits: [EvalRecord]) -> String {
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
