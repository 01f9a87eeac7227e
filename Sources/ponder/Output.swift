// Output helpers shared by the subcommands: the --db option, errors, JSON printing, the
// live progress line (or one JSON object per logged step when stdout is not a terminal).

import ArgumentParser
import Foundation
import Storage
import Training

struct StoreOptions: ParsableArguments {
    @Option(help: "The SQLite store of runs, metrics, rollouts and evaluations.")
    var db: String = "ponder.sqlite"

    func open() throws -> RunStore {
        let folder = (db as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) || !isDirectory.boolValue {
            throw ValidationError("--db \(db): the folder \(folder) does not exist; create it (mkdir -p \(folder)) or name a store in an existing folder")
        }
        do { return try RunStore.open(path: db) } catch {
            throw ValidationError("\(db): \(error)")
        }
    }
}

func printJSON(_ object: Any) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])) ?? Data("null".utf8)
    print(String(decoding: data, as: UTF8.self))
}

func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(1)
}

let stdoutIsTerminal = isatty(STDOUT_FILENO) == 1

/// Draws training progress: a single rewritten line on a terminal, else (or with --json-logs)
/// one JSON object per logged step.
final class ProgressPrinter {
    let jsonLogs: Bool
    var lastDraw = Date.distantPast
    var lineOpen = false

    init(jsonLogs: Bool) { self.jsonLogs = jsonLogs || !stdoutIsTerminal }

    func step(stage: String, _ p: TrainingProgress) {
        if jsonLogs {
            var object: [String: Any] = ["stage": stage, "step": p.step, "total_steps": p.totalSteps,
                                         "elapsed_seconds": p.elapsedSeconds]
            for (k, v) in p.metrics where v.isFinite { object[k] = v }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            print(String(decoding: data, as: UTF8.self))
            flushOutput()
            return
        }
        let now = Date()
        guard p.step == p.totalSteps || now.timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = now
        var parts = ["\(stage) \(p.step)/\(p.totalSteps)"]
        for key in ["loss", "val_loss", "reward", "kl"] {
            if let v = p.metrics[key], v.isFinite { parts.append(String(format: "\(key) %.4f", v)) }
        }
        if let t = p.metrics["tokens_per_second"] ?? p.metrics["generation_tokens_per_second"] {
            parts.append(String(format: "%.0f tok/s", t))
        }
        let done = Double(p.step - p.resumedFromStep)
        if done > 0 {
            let eta = p.elapsedSeconds / done * Double(p.totalSteps - p.step)
            parts.append("ETA " + duration(eta))
        }
        print("\r\u{1B}[2K" + parts.joined(separator: "  "), terminator: p.step == p.totalSteps ? "\n" : "")
        lineOpen = p.step != p.totalSteps
        flushOutput()
    }

    func line(_ text: String) {
        if jsonLogs {
            if !text.isEmpty, let data = try? JSONSerialization.data(withJSONObject: ["event": text], options: [.sortedKeys]) {
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        if lineOpen { print("") ; lineOpen = false }
        print(text)
    }
}

func flushOutput() { fflush(nil) }

func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60)
        : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
}
