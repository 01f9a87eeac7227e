// ponder runs [--json]: a table of runs with status and last metrics.

import ArgumentParser
import Foundation
import Storage

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List runs: stage, status, steps, last loss or reward.")

    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON only.") var json = false

    func run() throws {
        let rows = try store.open().runs()
        if json {
            printJSON(rows.map { r -> [String: Any] in
                var o: [String: Any] = ["run": r.run.id ?? 0, "name": r.run.name, "experiment": r.experiment, "stage": r.run.stage,
                                        "status": r.run.status.rawValue, "steps": r.steps, "duration_seconds": r.duration]
                if let l = r.lastLoss { o["last_loss"] = l }
                if let w = r.lastReward { o["last_reward"] = w }
                if let n = r.run.notes { o["notes"] = n }
                return o
            })
            return
        }
        if rows.isEmpty { print("no runs in \(store.db) yet: try `ponder run experiments/quickstart.yaml`"); return }
        print(pad("run", 5) + pad("experiment", 18) + pad("stage", 12) + pad("status", 12) + pad("steps", 7) + pad("last loss", 11) + pad("last reward", 12) + "duration")
        for r in rows {
            print(pad("\(r.run.id ?? 0)", 5) + pad(r.experiment, 18) + pad(r.run.stage, 12) + pad(r.run.status.rawValue, 12)
                  + pad("\(r.steps)", 7) + pad(r.lastLoss.map { fmt($0, 4) } ?? "-", 11) + pad(r.lastReward.map { fmt($0, 3) } ?? "-", 12)
                  + duration(r.duration))
        }
        let interrupted = rows.filter { $0.run.status == .interrupted }
        if let latest = interrupted.first {
            print("\n\(interrupted.count) interrupted run(s); the latest, \(latest.run.name) (run \(latest.run.id ?? 0)), continues with:")
            print("  " + (latest.run.notes.flatMap { $0.hasPrefix("resume: ") ? String($0.dropFirst(8)) : nil }
                          ?? "ponder run experiments/\(latest.experiment).yaml --resume"))
        }
    }
}
