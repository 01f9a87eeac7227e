// `ponder bench`: throughput figures of this machine (DESIGN.md §11).

import ArgumentParser
import Foundation
import Kernels
import Model
import Tokenization
import Environments
import Storage

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Training and generation throughput of this machine, against its sgemm rate.")

    @Option(help: "Comma-separated model configs to run (tiny, small, medium, smollm-135m).")
    var configs: String = "tiny,small,medium"

    @Option(help: "Timed training steps per config (the median is reported).")
    var steps: Int = 5

    @Flag(help: "Also print where training time goes, per kernel family.")
    var profile = false

    @Flag(inversion: .prefixedNo, help: "Measure generation throughput too.")
    var generation = true

    @Option(help: "Comma-separated batch sizes (sequences) of the generation runs; the table shows the first.")
    var genSequences: String = "64"

    var genSequenceCounts: [Int] { genSequences.split(separator: ",").compactMap { Int($0) } }

    @Option(help: "Comma-separated sections to run: model, reference, tokenizer, sandbox, store.")
    var sections: String = "model,reference,tokenizer,sandbox,store"

    @Option(help: "Comma-separated storage types of the reference section: float32, bfloat16.")
    var referenceDtypes: String = "float32,bfloat16"

    var referenceDTypeList: [WeightDType] { referenceDtypes.split(separator: ",").compactMap { WeightDType(rawValue: String($0)) } }

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    func validate() throws {
        let known = Set(BenchConfig.all.map(\.name))
        for name in configs.split(separator: ",") where !known.contains(String(name)) {
            throw ValidationError("unknown config '\(name)'; choose from \(known.sorted().joined(separator: ", "))")
        }
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
        let counts = genSequences.split(separator: ",")
        if counts.isEmpty || counts.contains(where: { Int($0).map { $0 < 1 || $0 > 4096 } ?? true }) {
            throw ValidationError("--gen-sequences takes batch sizes from 1 to 4096, e.g. 1,16,64; found '\(genSequences)'")
        }
        for name in referenceDtypes.split(separator: ",") where WeightDType(rawValue: String(name)) == nil {
            throw ValidationError("unknown reference dtype '\(name)'; choose from float32, bfloat16")
        }
        let knownSections: Set<String> = ["model", "reference", "tokenizer", "sandbox", "store"]
        for name in sections.split(separator: ",") where !knownSections.contains(String(name)) {
            throw ValidationError("unknown section '\(name)'; choose from \(knownSections.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        let wantedSections = Set(sections.split(separator: ",").map(String.init))
        var report = BenchReport()
        if wantedSections.contains("model") { report = try runModels() }
        if wantedSections.contains("reference") { report.references = try runReferences() }
        if wantedSections.contains("tokenizer") {
            let t = try Tokenizer.benchmark()
            report.tokenizer = t
            if !json {
                print("")
                print(String(format: "tokenizer: trained %d tokens on a %.1f MB corpus in %.2f s; encode %.1f MB/s (median of 5, one thread); %.3f tokens/byte",
                             t.vocabSize, Double(t.corpusBytes) / 1e6, t.trainingSeconds, t.encodeMBPerSecond, t.tokensPerByte))
            }
        }
        if wantedSections.contains("sandbox") {
            let s = Sandbox.shared.benchmark()
            report.sandbox = s
            if !json {
                print("")
                print(String(format: "sandbox: round trip %.1f ms median (p90 %.1f) per print(1) program; code tests %.1f programs/s on %d slots%@",
                             s.medianRoundTripMilliseconds, s.p90RoundTripMilliseconds, s.codeProgramsPerSecond, s.slots,
                             s.allSucceeded ? "" : " (SOME RUNS FAILED: the sandbox is broken here)"))
            }
        }
        if wantedSections.contains("store") {
            let store = try RunStore.benchmark()
            report.store = store
            if !json {
                print("")
                print("store: \(fmt(store.rolloutsPerSecond, 0)) rollouts/s, \(fmt(store.stepsPerSecond, 0)) steps/s (\(store.rolloutsPerStep) rollouts x \(store.rewardFunctions) rewards + 20 metrics per step, one transaction each, median of \(store.steps) steps)")
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }

    /// The frozen reference of each config in each storage type (ReferenceBenchmark.swift).
    func runReferences() throws -> [ReferenceBenchResult] {
        let wanted = Set(configs.split(separator: ",").map(String.init))
        if !json {
            print("")
            print("reference (frozen: forward + log-probs, no gradients)")
            print(pad("config", 13) + pad("dtype", 10) + pad("weights MB", 12) + pad("budget MB", 11)
                  + pad("peak MB", 9) + pad("before MB", 11) + "forward s")
        }
        var results: [ReferenceBenchResult] = []
        for bc in BenchConfig.all where wanted.contains(bc.name) {
            for dtype in referenceDTypeList {
                let r = try ReferenceBenchmark.run(bc, dtype: dtype)
                results.append(r)
                if !json {
                    print(pad(r.config, 13) + pad(r.dtype.rawValue, 10) + pad(fmt(r.weightsMB, 1), 12) + pad(fmt(r.budgetMB, 1), 11)
                          + pad(fmt(r.peakResidentMB, 0), 9) + pad(fmt(r.baselineResidentMB, 0), 11) + String(format: "%.3f", r.forwardSeconds))
                }
            }
        }
        if !json {
            print("budget: weights as stored + forward-only activations of one [batch, seq] batch (+ BF16's one-layer F32 scratch);")
            print("peak: resident high-water mark from before the model was built (before MB) to the end of its forwards")
        }
        return results
    }

    func runModels() throws -> BenchReport {
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
            let r = try ModelBenchmark.run(bc, sgemmGFLOPS: sgemm, steps: steps, generation: generation, profile: profile && !json,
                                           genSequences: genSequenceCounts)
            results.append(r)
            if !json {
                print(pad(r.config, 8) + pad(String(format: "%.2fM", Double(r.parameters) / 1e6), 10)
                      + pad(fmt(r.trainTokensPerSecond, 0), 13) + pad(String(format: "%.1fM", r.flopsPerToken / 1e6), 10)
                      + pad(fmt(r.trainGFLOPS, 1), 9) + pad(String(format: "%.0f%%", r.sgemmShare * 100), 10)
                      + pad(fmt(r.generationTokensPerSecond, 0), 11) + pad(fmt(r.peakResidentMB, 0), 9)
                      + "\(fmt(r.trainingBudgetMB, 0)) / \(fmt(r.generationBudgetMB, 0))")
                if genSequenceCounts.count > 1 {
                    print("        gen tok/s by batch: " + genSequenceCounts.map { "\($0): \(fmt(r.generationBySequences[String($0)] ?? 0, 0))" }.joined(separator: ", "))
                }
            }
        }
        if !json {
            print("")
            let shapes = BenchConfig.all.map { "\($0.name) \($0.B)x\($0.T)" }.joined(separator: ", ")
            print("train: forward + backward + clip + AdamW on [batch, seq] random tokens (\(shapes))")
            print("gen: \(genSequenceCounts.map(String.init).joined(separator: ", ")) sequences, 32-token prompts, 128 new tokens each, temperature 1")
        }
        return BenchReport(sgemmGFLOPS: sgemm, blasThreads: BLAS.threads, models: results)
    }
}

struct BenchReport: Encodable {
    var sgemmGFLOPS: Double?
    var blasThreads: Int?
    var models: [ModelBenchResult] = []
    var references: [ReferenceBenchResult] = []
    var tokenizer: TokenizerBenchmark?
    var sandbox: SandboxBenchResult?
    var store: StoreBenchmarkResult?
}

extension TokenizerBenchmark: Encodable {
    enum CodingKeys: String, CodingKey { case corpusBytes, vocabSize, trainingSeconds, encodeMBPerSecond, tokensPerByte }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(corpusBytes, forKey: .corpusBytes)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(trainingSeconds, forKey: .trainingSeconds)
        try c.encode(encodeMBPerSecond, forKey: .encodeMBPerSecond)
        try c.encode(tokensPerByte, forKey: .tokensPerByte)
    }
}

func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
