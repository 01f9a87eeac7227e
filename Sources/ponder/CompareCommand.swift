// ponder compare RUN... --metric NAME[,NAME...] [--band minmax|ci|none] [--each] [--svg FILE] [--html FILE]
//                [--smoothing W] [--json]
// A run named by its name ("quickstart/grpo") that has replicates (`--seeds`) is drawn as its seed
// group: the mean curve with a band; `--each` draws the replicates one by one. A run id is
// always that one run. Several metrics draw one curve per (run, metric) on one chart: a judge's
// reward beside the verifier's gold accuracy (`--metric rewards/judge,rewards/accuracy`) shows
// where a policy starts to game its judge.
// `ponder compare --audits [JUDGE...] [--suite SUITE]`: the stored `ponder judge audit` results
// side by side instead (the arguments pick judges by a part of their name; none picks all).
// `ponder compare --evals SUITE [CHECKPOINT...] [--html FILE]`: the stored evals of one suite side
// by side; --html draws their reliability diagrams and accuracy / attempted curves
// (accuracy, and refusal and hallucination figures where the suite has them: knowledge).

import ArgumentParser
import Experiments
import Foundation
import Judge
import Storage

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compare", abstract: "Draw a metric's curve for several runs.")

    @Argument(help: "Run ids or names (see `ponder runs`); a name with replicates draws its seed group. With --audits: parts of judges' names.")
    var runs: [String] = []
    @Flag(help: "Print the stored judge audits (`ponder judge audit`) side by side, one table per suite.") var audits = false
    @Option(help: "With --audits: only this suite, e.g. judge-audit/pointwise/arithmetic.") var suite: String?
    @Option(help: "Print the stored evals of this suite (an environment, e.g. knowledge) side by side, newest per checkpoint; the arguments pick checkpoints by a part of their path.")
    var evals: String?
    @Option(help: "The metric to draw, e.g. loss, val_loss, reward; several, comma-separated, share one chart.")
    var metric: String = "loss"
    @Option(help: "Band around a seed group's mean: minmax (the runs' range), ci (95% t-interval of the mean) or none.")
    var band: String = "minmax"
    @Flag(help: "Draw each replicate of a seed group instead of their mean.") var each = false
    @Option(help: "Write a standalone SVG chart here.") var svg: String?
    @Option(help: "Write a self-contained HTML page here.") var html: String?
    @Option(help: "Exponential smoothing weight in [0, 1).") var smoothing: Double = 0.6
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON only.") var json = false

    func validate() throws {
        if runs.isEmpty && !audits && evals == nil { throw ValidationError("name at least one run (see `ponder runs`)") }
        if audits && evals != nil { throw ValidationError("--audits and --evals are two different tables: give one") }
        if suite != nil && !audits { throw ValidationError("--suite goes with --audits") }
        if !(0..<1).contains(smoothing) { throw ValidationError("--smoothing must be in [0, 1)") }
        if ChartSeries.Band(rawValue: band) == nil { throw ValidationError("--band must be minmax, ci or none, found \(band)") }
    }

    func run() throws {
        let db = try store.open()
        if audits || evals != nil { return try compareAudits(db) }
        var series: [ChartSeries] = []
        let metrics = metric.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for metric in metrics {
        let named = metrics.count > 1 ? " \(metric)" : ""
        func curve(_ record: RunRecord, _ key: String) throws -> [(step: Int, value: Double)] {
            let points = try db.metricSeries(run: record.id!, name: metric)
            if points.isEmpty {
                let names = try db.metricNames(run: record.id!)
                throw fail("run \(key) has no metric `\(metric)`; it has: \(names.joined(separator: ", "))")
            }
            return points.map { ($0.step, $0.value) }
        }
        for key in runs {
            let record: RunRecord
            do { record = try db.findRun(key) } catch { throw fail("\(error)") }
            let group = Int64(key) == nil ? try db.seedGroup(of: record) : [record]
            if group.count > 1 && !each {
                let seeds = group.map { String($0.seed) }.joined(separator: ",")
                let what = band == "none" ? "mean" : "mean, band \(band == "ci" ? "95% CI" : "min-max")"
                series.append(ChartSeries.seedGroup(label: "\(record.name)\(named) (seeds \(seeds); \(what))",
                                                    runs: try group.map { try curve($0, key) }, band: ChartSeries.Band(rawValue: band)!))
            } else {
                for run in group {
                    series.append(ChartSeries(label: "\(run.id!) \(run.name)\(named)" + (group.count > 1 ? " seed \(run.seed)" : ""),
                                              points: try curve(run, key)))
                }
            }
        }
        }
        let options = ChartOptions(title: "\(metrics.joined(separator: ", ")) by step", metric: metrics.joined(separator: ", "), smoothing: smoothing)
        if let svg { try Report.svgChart(series, options: options).write(toFile: svg, atomically: true, encoding: .utf8) }
        if let html { try Report.htmlReport(series, options: options).write(toFile: html, atomically: true, encoding: .utf8) }
        if json {
            printJSON(series.map { s in
                ["label": s.label, "points": s.points.map { [$0.step, $0.value] as [Any] },
                 "band": s.band.map { [$0.step, $0.low, $0.high] as [Any] }] as [String: Any]
            })
            return
        }
        print(Report.terminalChart(series, options: options, color: stdoutIsTerminal))
        if let svg { print("wrote \(svg)") }
        if let html { print("wrote \(html)") }
    }

    func compareAudits(_ db: RunStore) throws {
        let chosen = AuditTable.select(try db.evals(run: nil), judges: runs, suite: evals ?? suite, audits: evals == nil)
        if chosen.isEmpty {
            let what = evals.map { "evals of suite \($0)" } ?? "judge audits"
            throw fail("no \(what) in the store\(runs.isEmpty ? "" : " for \(runs.joined(separator: ", "))")\(suite.map { " in suite \($0)" } ?? ""); "
                       + (evals == nil ? "`ponder judge audit --judge CONFIG --env NAME` makes one" : "an eval stage or `ponder eval CHECKPOINT --env NAME` makes one"))
        }
        if json {
            printJSON(chosen.map { ["eval": $0.id ?? 0, "judge": $0.checkpoint, "suite": $0.suite, "split": $0.split ?? "", "metrics": $0.metrics] as [String: Any] })
            return
        }
        print(AuditTable.render(chosen, rows: evals == nil ? AuditTable.rows : AuditTable.evalRows), terminator: "")
        if let html, let suite = evals {
            let curves = try chosen.map { Report.CalibrationCurve(label: $0.checkpoint, items: try db.evalItems(eval: $0.id!)) }
            try Report.calibrationPage(suite: suite, curves).write(toFile: html, atomically: true, encoding: .utf8)
            print("wrote \(html): the reliability diagram and the accuracy / attempted curve")
        }
    }
}
