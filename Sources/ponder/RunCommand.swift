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
            case .evaluated(let stage, let env, let r):
                var text = String(format: "[\(stage)] \(env): greedy accuracy %.1f%% on \(r.items.filter { $0.sampleIndex < 0 }.count) held-out tasks", r.greedyAccuracy * 100)
                for k in r.passAtK.keys.sorted() { text += String(format: ", pass@\(k) %.1f%%", r.passAtK[k]! * 100) }
                if r.greedyToolUse > 0 { text += String(format: "; a tool called in %.0f%% of answers", r.greedyToolUse * 100) }
                printer.line(text)
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
            printer.line("held-out greedy accuracy:")
            let anyTools = runner.evals.contains { $0.toolUse > 0 }
            for e in runner.evals {
                let tools = anyTools ? String(format: "   (tool calls %3.0f%%)", e.toolUse * 100) : ""
                printer.line("  " + pad(e.stage, 14) + pad(e.environment, 12) + String(format: "%5.1f%%", e.greedyAccuracy * 100) + tools)
            }
        }
    }
}
