// ponder compare RUN... --metric NAME [--svg FILE] [--html FILE] [--smoothing W] [--json]

import ArgumentParser
import Experiments
import Foundation
import Storage

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compare", abstract: "Draw a metric's curve for several runs.")

    @Argument(help: "Run ids or names (see `ponder runs`).") var runs: [String]
    @Option(help: "The metric to draw, e.g. loss, val_loss, reward.") var metric: String = "loss"
    @Option(help: "Write a standalone SVG chart here.") var svg: String?
    @Option(help: "Write a self-contained HTML page here.") var html: String?
    @Option(help: "Exponential smoothing weight in [0, 1).") var smoothing: Double = 0.6
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON only.") var json = false

    func validate() throws {
        if runs.isEmpty { throw ValidationError("name at least one run (see `ponder runs`)") }
        if !(0..<1).contains(smoothing) { throw ValidationError("--smoothing must be in [0, 1)") }
    }

    func run() throws {
        let db = try store.open()
        var series: [ChartSeries] = []
        for key in runs {
            let record: RunRecord
            do { record = try db.findRun(key) } catch { throw fail("\(error)") }
            let points = try db.metricSeries(run: record.id!, name: metric)
            if points.isEmpty {
                let names = try db.metricNames(run: record.id!)
                throw fail("run \(key) has no metric `\(metric)`; it has: \(names.joined(separator: ", "))")
            }
            series.append(ChartSeries(label: "\(record.id!) \(record.name)", points: points.map { ($0.step, $0.value) }))
        }
        let options = ChartOptions(title: "\(metric) by step", metric: metric, smoothing: smoothing)
        if let svg { try Report.svgChart(series, options: options).write(toFile: svg, atomically: true, encoding: .utf8) }
        if let html { try Report.htmlReport(series, options: options).write(toFile: html, atomically: true, encoding: .utf8) }
        if json {
            printJSON(series.map { s in ["label": s.label, "points": s.points.map { [$0.step, $0.value] as [Any] }] as [String: Any] })
            return
        }
        print(Report.terminalChart(series, options: options, color: stdoutIsTerminal))
        if let svg { print("wrote \(svg)") }
        if let html { print("wrote \(html)") }
    }
}
