// `ponder bench`: throughput figures of this machine (DESIGN.md §11).

import ArgumentParser
import Foundation
import Kernels

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Training and generation throughput of this machine, against its sgemm rate.")

    @Option(help: "Comma-separated model configs to run (tiny, small, medium).")
    var configs: String = "tiny,small,medium"

    @Option(help: "Timed training steps per config (the median is reported).")
    var steps: Int = 5

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    func validate() throws {
        let known = Set(BenchConfig.all.map(\.name))
        for name in configs.split(separator: ",") where !known.contains(String(name)) {
            throw ValidationError("unknown config '\(name)'; choose from \(known.sorted().joined(separator: ", "))")
        }
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
    }

    func run() throws {
        let wanted = Set(configs.split(separator: ",").map(String.init))
        let sgemm = ModelBenchmark.sgemmRate()
        if !json {
            print("sgemm 512x512x512: \(fmt(sgemm, 1)) GFLOP/s (OpenBLAS, \(BLAS.threads) threads)")
            print("")
            print(pad("config", 8) + pad("params", 10) + pad("train tok/s", 13) + pad("FLOP/tok", 10)
                  + pad("GFLOP/s", 9) + pad("of sgemm", 10) + pad("gen tok/s", 11) + pad("peak MB", 9) + "budget MB (train/gen)")
        }
        var results: [ModelBenchResult] = []
        for bc in BenchConfig.all where wanted.contains(bc.name) {
            let r = try ModelBenchmark.run(bc, sgemmGFLOPS: sgemm, steps: steps)
            results.append(r)
            if !json {
                print(pad(r.config, 8) + pad(String(format: "%.2fM", Double(r.parameters) / 1e6), 10)
                      + pad(fmt(r.trainTokensPerSecond, 0), 13) + pad(String(format: "%.1fM", r.flopsPerToken / 1e6), 10)
                      + pad(fmt(r.trainGFLOPS, 1), 9) + pad(String(format: "%.0f%%", r.sgemmShare * 100), 10)
                      + pad(fmt(r.generationTokensPerSecond, 0), 11) + pad(fmt(r.peakResidentMB, 0), 9)
                      + "\(fmt(r.trainingBudgetMB, 0)) / \(fmt(r.generationBudgetMB, 0))")
            }
        }
        if json {
            let object = BenchReport(sgemmGFLOPS: sgemm, blasThreads: BLAS.threads, models: results)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(object), as: UTF8.self))
        } else {
            print("")
            print("train: forward + backward + clip + AdamW on [batch, seq] random tokens (tiny 32x128, small 16x256, medium 8x256)")
            print("gen: 64 sequences, 32-token prompts, 128 new tokens each, temperature 1")
        }
    }
}

struct BenchReport: Codable {
    var sgemmGFLOPS: Double
    var blasThreads: Int
    var models: [ModelBenchResult]
}

func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
