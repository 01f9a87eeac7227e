// ponder run FILE [--resume] [--db PATH] [--runs DIR] [--json-logs]

import ArgumentParser
import Experiments
import Foundation
import Storage

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run an experiment file: every stage in order, each resumable.")

    @Argument(help: "The experiment file, e.g. experiments/quickstart.yaml.")
    var file: String

    @Flag(help: "Continue the newest runs of this experiment from their last checkpoints; completed stages are skipped.")
    var resume = false

    @OptionGroup var store: StoreOptions

    @Option(help: "Where checkpoints go (runs/EXPERIMENT/STAGE/).")
    var runs: String = "runs"

    @Flag(help: "Print one JSON object per logged step instead of a progress line.")
    var jsonLogs = false

    func run() throws {
        let config: ExperimentConfig
        do { config = try ExperimentConfig.load(path: file) } catch let error as ExperimentConfigError {
            throw fail("\(error)")
        }
        let db = try store.open()
        let printer = ProgressPrinter(jsonLogs: jsonLogs)
        printer.line("experiment \(config.name): \(config.stages.map(\.name).joined(separator: " -> "))  (store: \(store.db))")
        let runner = ExperimentRunner(config: config, store: db, options: RunnerOptions(resume: resume, runsDirectory: URL(fileURLWithPath: runs))) { event in
            switch event {
            case .stageStarted(let stage, let kind, let run, _):
                printer.line("[\(stage)] \(kind.rawValue) stage, run \(run)")
            case .stageSkipped(let stage, let reason):
                printer.line("[\(stage)] skipped: \(reason)")
            case .progress(let stage, let p):
                printer.step(stage: stage, p)
            case .evaluated(let summary, let baseline):
                for line in EvalLines.describe(summary, baseline: baseline) { printer.line(line) }
            case .stageFinished(let stage, _, let seconds):
                printer.line("[\(stage)] done in \(duration(seconds))")
            case .note(let text):
                printer.line("  " + text)
            }
        }
        do { try runner.run() } catch {
            throw fail("\(error)\n(the store keeps every completed step; `ponder run \(file) --resume` continues)")
        }
        if !runner.evals.isEmpty {
            printer.line("")
            for line in EvalLines.table(runner.evals) { printer.line(line) }
        }
    }
}
