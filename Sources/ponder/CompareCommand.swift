// ponder compare RUN... --metric NAME[,NAME...] [--band minmax|ci|none] [--each] [--svg FILE] [--html FILE]
//                [--smoothing W] [--json]
// `--x METRIC` draws each run's metric against another metric logged at the same steps instead
// of the step: `ponder compare ppo --metric gold_reward,score --x sqrt_kl` is the over-optimisation
// picture (gold and proxy reward against sqrt(KL) from the initial policy); replicates are drawn
// one by one. `--fit rl|best_of_n` fits Gao et al.'s form to each curve (gain over its first
// step's value; PonderCore/Overoptimization.swift) and prints alpha, beta, R^2 and the peak.
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
import PonderCore
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
    @Option(help: "Draw against this metric (its value at the same step) instead of the step, e.g. sqrt_kl.") var x: String?
    @Option(help: "With --x: fit each curve's gain over its first value with Gao et al.'s form: rl (d (alpha - beta log d)) or best_of_n (d (alpha - beta d)).")
    var fit: String?
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON only.") var json = false

    func validate() throws {
        if runs.isEmpty && !audits && evals == nil { throw ValidationError("name at least one run (see `ponder runs`)") }
        if audits && evals != nil { throw ValidationError("--audits and --evals are two different tables: give one") }
        if suite != nil && !audits { throw ValidationError("--suite goes with --audits") }
        if !(0..<1).contains(smoothing) { throw ValidationError("--smoothing must be in [0, 1)") }
        if ChartSeries.Band(rawValue: band) == nil { throw ValidationError("--band must be minmax, ci or none, found \(band)") }
        if x != nil && html != nil { throw ValidationError("--html draws against the step; with --x write --svg FILE") }
        if let fit, Overoptimization.Form(rawValue: fit) == nil { throw ValidationError("--fit must be rl or best_of_n, found \(fit)") }
        if fit != nil && x == nil { throw ValidationError("--fit goes with --x (e.g. --x sqrt_kl)") }
    }

    func run() throws {
        let db = try store.open()
        if audits || evals != nil { return try compareAudits(db) }
        var series: [ChartSeries] = []
        var plotted: [(label: String, points: [(x: Double, y: Double)])] = []  // --x: the raw (x, y) of each curve, in step order
        let metrics = metric.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for metric in metrics {
            let named = metrics.count > 1 ? " \(metric)" : ""
            func curve(_ record: RunRecord, _ key: String, _ name: String = metric) throws -> [(step: Int, value: Double)] {
                let points = try db.metricSeries(run: record.id!, name: name)
                if points.isEmpty {
                    let names = try db.metricNames(run: record.id!)
                    throw fail("run \(key) has no metric `\(name)`; it has: \(names.joined(separator: ", "))")
                }
                return points.map { ($0.step, $0.value) }
            }
            for key in runs {
                let record: RunRecord
                do { record = try db.findRun(key) } catch { throw fail("\(error)") }
                let group = Int64(key) == nil ? try db.seedGroup(of: record) : [record]
                if let x {
                    for run in group {
                        let against = Dictionary(try curve(run, key, x).map { ($0.step, $0.value) }, uniquingKeysWith: { a, _ in a })
                        let joined = try curve(run, key).compactMap { p in against[p.step].map { (x: $0, y: p.value) } }
                        let label = "\(run.id!) \(run.name)\(named)" + (group.count > 1 ? " seed \(run.seed)" : "")
                        plotted.append((label, joined))
                        series.append(ChartSeries(label: label, points: joined.sorted { $0.x < $1.x }.map { (Int(($0.x * Self.xScale).rounded()), $0.y) }))
                    }
                } else if group.count > 1 && !each {
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
        var options = ChartOptions(title: "\(metrics.joined(separator: ", ")) by \(x ?? "step")", metric: metrics.joined(separator: ", "), smoothing: smoothing)
        if let x { options.xLabel = x; options.xScale = Self.xScale }
        let fits: [(label: String, fit: Overoptimization.Fit?)] = fit.flatMap(Overoptimization.Form.init).map { form in
            plotted.map { curve in
                let base = curve.points.first?.y ?? 0
                return (curve.label, Overoptimization.fit(d: curve.points.map(\.x), gain: curve.points.map { $0.y - base }, form: form))
            }
        } ?? []
        if let svg { try Report.svgChart(series, options: options).write(toFile: svg, atomically: true, encoding: .utf8) }
        if let html { try Report.htmlReport(series, options: options).write(toFile: html, atomically: true, encoding: .utf8) }
        if json {
            if x != nil {
                printJSON(plotted.enumerated().map { i, curve in
                    var out: [String: Any] = ["label": curve.label, "x": options.xLabel, "points": curve.points.map { [$0.x, $0.y] }]
                    if i < fits.count, let f = fits[i].fit { out["fit"] = Self.describe(f, base: curve.points.first?.y ?? 0) }
                    return out
                })
                return
            }
            printJSON(series.map { s in
                ["label": s.label, "points": s.points.map { [$0.step, $0.value] as [Any] },
                 "band": s.band.map { [$0.step, $0.low, $0.high] as [Any] }] as [String: Any]
            })
            return
        }
        print(Report.terminalChart(series, options: options, color: stdoutIsTerminal))
        for (i, (label, fit)) in fits.enumerated() {
            guard let fit else { print("fit \(label): too few distinct points"); continue }
            let d = Self.describe(fit, base: plotted[i].points.first?.y ?? 0)
            let peak = fit.peak.map { String(format: "peak %.3f at d = %.2f", d["peak"] as! Double, $0.d) } ?? "no peak (beta <= 0)"
            print(String(format: "fit %@: gain = %@; alpha %.4f, beta %.4f, R^2 %.3f; ", label,
                         fit.form == .rl ? "d (alpha - beta log d)" : "d (alpha - beta d)", fit.alpha, fit.beta, fit.rSquared) + peak)
        }
        if let svg { print("wrote \(svg)") }
        if let html { print("wrote \(html)") }
    }

    /// --x values are drawn on the step axis as x * xScale, rounded.
    static let xScale = 1000.0

    static func describe(_ fit: Overoptimization.Fit, base: Double) -> [String: Any] {
        var out: [String: Any] = ["form": fit.form.rawValue, "alpha": fit.alpha, "beta": fit.beta, "r_squared": fit.rSquared, "start": base]
        if let peak = fit.peak { out["peak_d"] = peak.d; out["peak"] = base + peak.gold }
        return out
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
