// ponder run FILE [--resume] [--seeds 0,1,2] [--set KEY.PATH=VALUE ...] [--db PATH] [--runs DIR]
//            [--json-logs] [--summary-json FILE]
// mpirun -np N ponder run FILE ...   the same run, data-parallel over N ranks (DESIGN.md §11):
//            rank 0 opens the store and prints; the others copy the store into memory (after rank
//            0 has opened it, before it writes), stay silent, and end the job on any error.

import ArgumentParser
import Distributed
import Experiments
import Foundation
import PonderCore
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

    @Option(help: "Run the experiment once per seed, e.g. 0,1,2 (replicates grouped in the store; overrides `seed` and `seeds`).")
    var seeds: String?

    @Option(name: .customLong("set"), help: "Change a key of the file, checked like the file: stages.grpo.learning_rate=2e-4 (repeatable).")
    var overrides: [String] = []

    @Option(help: "Write the end-of-run table (per evaluation: accuracy, interval, per-seed values, change) here as JSON.")
    var summaryJson: String?

    func run() throws {
        guard let mpi = try MPICollective.joinIfLaunched() else { return try run(collective: SingleProcess.shared) }
        do {
            try run(collective: mpi)
        } catch let exit as ExitCode {
            if exit.rawValue != 0 && exit.rawValue != 130 { mpi.abort("ponder run failed (see the message above)") }
            mpi.finish()
            throw exit
        } catch {
            mpi.abort("\(error)")
        }
        mpi.finish()
    }

    func run(collective: any Collective) throws {
        let config: ExperimentConfig
        do {
            var sets = try overrides.map(ConfigOverride.init)
            if let seeds {
                let values = seeds.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                guard !values.isEmpty, values.allSatisfy({ UInt64($0) != nil }) else {
                    throw fail("--seeds \(seeds): expected seeds separated by commas, e.g. --seeds 0,1,2")
                }
                sets.append(try ConfigOverride("seeds=[\(values.joined(separator: ","))]"))
            }
            config = try ExperimentConfig.load(path: file, overrides: sets)
        } catch let error as ExperimentConfigError {
            throw fail("\(error)")
        }
        var db = collective.isLeader ? try store.open() : nil
        if collective.isDistributed {
            collective.barrier()  // rank 0 has created or migrated the store
            if db == nil {
                do { db = try RunStore.inMemoryCopy(of: store.db) } catch { throw fail("\(store.db): \(error)") }
            }
            collective.barrier()  // every copy taken before rank 0 writes
        }
        let printer = ProgressPrinter(jsonLogs: jsonLogs)
        let ranks = collective.isDistributed ? ", \(collective.size) data-parallel ranks" : ""
        if collective.isLeader {
            printer.line("experiment \(config.name): \(config.stages.map(\.name).joined(separator: " -> "))  (store: \(store.db)\(ranks))")
        }
        let report: (RunEvent) -> Void = { event in
            guard collective.isLeader else { return }
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
            case .replicateStarted(let seed, let index, let count):
                printer.line("== replicate \(index) of \(count): seed \(seed)")
            case .note(let text):
                printer.line("  " + text)
            }
        }
        var faults: FaultPlan
        do { faults = try ProcessInfo.processInfo.environment["PONDER_FAULT"].map(FaultPlan.init(parsing:)) ?? .none } catch {
            throw fail("\(error)")
        }
        // PONDER_FAULT_RANK=R: only rank R dies at the fault point (the tests of a data-parallel job losing a rank).
        if let only = ProcessInfo.processInfo.environment["PONDER_FAULT_RANK"], Int(only) != collective.rank { faults = .none }
        // PONDER_FAULT_SIGNAL=STOP: the process stops (hangs) at the point instead of dying.
        if ProcessInfo.processInfo.environment["PONDER_FAULT_SIGNAL"] == "STOP" { faults.signal = SIGSTOP }
        let launcher = collective.isDistributed ? ["mpirun", "-np", String(collective.size)] : []
        let resumeCommand = (launcher + ["ponder"] + CommandLine.arguments.dropFirst().filter { $0 != "--resume" } + ["--resume"])
            .map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        let interrupt = Interrupt.install()
        var options = RunnerOptions(resume: resume, runsDirectory: URL(fileURLWithPath: runs), faults: faults,
                                    interruptRequested: { interrupt.requested })
        options.resumeCommand = resumeCommand
        options.collective = collective
        let replicates: [(seed: UInt64, runner: ExperimentRunner)]
        do {
            replicates = try SeedGroup.run(config, store: db!, options: options, report: report)
        } catch {
            throw fail("\(error)\n(the store keeps every completed step; `\(resumeCommand)` continues)")
        }
        guard collective.isLeader else { return }
        if replicates.last?.runner.interrupted == true && interrupt.requested {
            printer.line("interrupted: every completed step is stored and the checkpoint written; resume with:")
            printer.line("  \(resumeCommand)")
            throw ExitCode(130)
        }
        let rows = SeedGroup.rows(replicates.map { ($0.seed, $0.runner.evals) })
        if !rows.isEmpty {
            printer.line("")
            for line in SeedGroup.table(rows) { printer.line(line) }
        }
        if let summaryJson {
            let object: [String: Any] = ["experiment": config.name, "seeds": replicates.map(\.seed), "evaluations": SeedGroup.json(rows),
                                         "threads": ProcessInfo.processInfo.environment["PONDER_THREADS"] ?? "default"]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: summaryJson))
        }
    }
}

/// Ctrl-C and SIGTERM during `ponder run`: the first asks the run to stop after its current step
/// (it writes the checkpoint, marks the run interrupted and says how to resume, exit status 130);
/// a second exits at once, which a resume also survives (the store and checkpoints are never
/// half-written).
final class Interrupt: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var sources: [DispatchSourceSignal] = []

    var requested: Bool { lock.lock(); defer { lock.unlock() }; return count > 0 }

    /// Catches SIGINT and SIGTERM from now on; the first one notes on stderr what happens next.
    static func install() -> Interrupt {
        let interrupt = Interrupt()
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [interrupt] in
                interrupt.lock.lock()
                interrupt.count += 1
                let n = interrupt.count
                interrupt.lock.unlock()
                if n == 1 {
                    FileHandle.standardError.write(Data("\nstopping after the current step; Ctrl-C again to quit at once (still resumable)\n".utf8))
                } else {
                    _exit(130)
                }
            }
            source.resume()
            interrupt.sources.append(source)
        }
        return interrupt
    }
}
