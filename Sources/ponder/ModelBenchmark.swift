// ModelBenchmark: the training and generation figures of `ponder bench` (issue 2, §11).
//
// Training throughput is forward + backward + clipping + AdamW on random tokens, reported as
// tokens/s and as model FLOP/s against this machine's sgemm rate measured in the same run
// (512 x 512 x 512). Model FLOPs per token use the PaLM convention: 6 P for the matrix
// products (P = parameters in products, the LM head included, the embedding lookup not) plus
// 12 L T C for attention's two products forward and backward over the full T x T square.
// Generation is the engine decoding 64 sequences (or `--gen-sequences`, each batch size in turn)
// of 128 new tokens after 32-token prompts.
// Peak memory is the process's resident high-water mark (VmHWM), reset before each config.

import Foundation
import Kernels
import Model
import PonderCore

struct BenchConfig {
    let name: String
    let model: ModelConfig
    let B: Int, T: Int

    static let all: [BenchConfig] = [
        BenchConfig(name: "tiny", model: ModelConfig(vocabSize: 512, dModel: 128, nLayers: 4, nHeads: 4, maxSeqLen: 256), B: 32, T: 128),
        BenchConfig(name: "small", model: ModelConfig(vocabSize: 4096, dModel: 256, nLayers: 6, nHeads: 8, maxSeqLen: 256), B: 16, T: 256),
        BenchConfig(name: "medium", model: ModelConfig(vocabSize: 8192, dModel: 512, nLayers: 8, nHeads: 8, maxSeqLen: 256), B: 8, T: 256),
        // SmolLM2-135M's shape (its config.json): 30 layers of width 576, 9 query over 3 KV heads,
        // SwiGLU 1536, 49,152 tokens, tied embeddings. Not in the default set: minutes per run.
        BenchConfig(name: "smollm-135m", model: ModelConfig(vocabSize: 49_152, dModel: 576, nLayers: 30, nHeads: 9, nKVHeads: 3,
                                                            ffnHidden: 1536, maxSeqLen: 256, ropeTheta: 100_000, tieEmbeddings: true),
                    B: 4, T: 256),
    ]
}

struct ModelBenchResult: Codable {
    var config: String
    var parameters: Int
    var batch: Int
    var seqLen: Int
    var trainStepSeconds: Double
    var trainTokensPerSecond: Double
    var flopsPerToken: Double
    var trainGFLOPS: Double
    var sgemmShare: Double
    var generationSequences: Int
    var generationTokensPerSecond: Double
    /// Tokens/s for every batch size measured (sequences -> rate); the first is the one above.
    var generationBySequences: [String: Double]
    var peakResidentMB: Double
    /// Parameters + gradients + two AdamW moments + activations of one batch, in MB.
    var trainingBudgetMB: Double
    /// The same plus the KV cache of the generation run.
    var generationBudgetMB: Double
}

enum ModelBenchmark {
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Median GFLOP/s of a 512 x 512 x 512 sgemm.
    static func sgemmRate(repeats: Int = 30) -> Double {
        let n = 512
        let a = FloatBuffer(count: n * n, value: 0.5), b = FloatBuffer(count: n * n, value: 0.25)
        let c = FloatBuffer(count: n * n)
        let run = {
            sgemm(transA: false, transB: false, m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n,
                  beta: 0, c: c.pointer, ldc: n)
        }
        for _ in 0..<3 { run() }
        let times = (0..<repeats).map { _ in seconds(run) }
        return 2 * Double(n * n * n) / median(times) / 1e9
    }

    static func flopsPerToken(_ c: ModelConfig, layout: ParameterLayout, T: Int) -> Double {
        6 * Double(layout.matmulParameterCount(c)) + 12 * Double(c.nLayers * T * c.dModel)
    }

    static func run(_ bc: BenchConfig, sgemmGFLOPS: Double, steps: Int, generation: Bool = true, profile: Bool = false, genSequences: [Int] = [64]) throws -> ModelBenchResult {
        resetPeakRSS()
        let model = try Transformer(config: bc.model, seed: 1)
        let opt = AdamW(layout: model.layout)
        var rng = RNG(seed: 2)
        let N = bc.B * bc.T
        let tokens = (0..<N).map { _ in Int32(rng.nextInt(below: bc.model.vocabSize)) }
        let targets = (0..<N).map { _ in Int32(rng.nextInt(below: bc.model.vocabSize)) }
        let weights = [Float](repeating: 1, count: N)
        let step = {
            model.zeroGrad()
            model.forward(tokens: tokens, B: bc.B, T: bc.T)
            _ = model.crossEntropy(targets: targets, weights: weights)
            model.backwardCrossEntropy()
            clipGradientNorm(model.grads, maxNorm: 1)
            opt.update(params: model.params, grads: model.grads, lr: 1e-4)
        }
        step()  // warm-up: allocates the activations
        let stepTime = median((0..<steps).map { _ in seconds(step) })
        if profile {
            let timer = KernelTimer()
            model.timer = timer
            var optimizerTime = 0.0
            for _ in 0..<steps {
                model.zeroGrad()
                model.forward(tokens: tokens, B: bc.B, T: bc.T)
                _ = model.crossEntropy(targets: targets, weights: weights)
                model.backwardCrossEntropy()
                optimizerTime += seconds {
                    clipGradientNorm(model.grads, maxNorm: 1)
                    opt.update(params: model.params, grads: model.grads, lr: 1e-4)
                }
            }
            model.timer = nil
            var rows = timer.seconds.map { ($0.key, $0.value / Double(steps), (timer.cpuSeconds[$0.key] ?? 0) / Double(steps)) }
            rows.append(("adamw+clip", optimizerTime / Double(steps), 0))
            let total = rows.reduce(0) { $0 + $1.1 }
            print("  \(bc.name) profile per step: wall seconds (share), process CPU seconds; total wall \(String(format: "%.3f", total))")
            for (name, s, cpu) in rows.sorted(by: { $0.1 > $1.1 }) {
                print("    " + name.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "%.4f  %5.1f%%  %.4f", s, 100 * s / total, cpu))
            }
        }
        let trainBytes = model.parameterCount * 4 * 4 + model.activationBytes

        // Generation: distinct random prompts, sampled at temperature 1, no stop token; the
        // median of three runs for each batch size.
        var rates: [Int: Double] = [:]
        var cacheBytes = 0
        for sequences in generation ? genSequences : [] {
            let prompts = (0..<sequences).map { _ in (0..<32).map { _ in Int32(rng.nextInt(below: bc.model.vocabSize)) } }
            let engine = Engine(model: model, sequences: sequences, maxLength: 32 + 128)
            let params = SamplingParameters(temperature: 1, maxNewTokens: 128)
            var genRNG = RNG(seed: 3)
            var produced = 0
            let genTime = median((0..<3).map { _ in
                seconds {
                    let out = engine.generate(prompts: prompts, parameters: params, rng: &genRNG)
                    produced = out.reduce(0) { $0 + $1.reduce(0) { $0 + $1.tokens.count } }
                }
            })
            rates[sequences] = Double(produced) / genTime
            cacheBytes = max(cacheBytes, engine.cacheBytes)
        }
        let fpt = flopsPerToken(bc.model, layout: model.layout, T: bc.T)
        let tps = Double(N) / stepTime
        return ModelBenchResult(
            config: bc.name, parameters: model.parameterCount, batch: bc.B, seqLen: bc.T,
            trainStepSeconds: stepTime, trainTokensPerSecond: tps, flopsPerToken: fpt,
            trainGFLOPS: fpt * tps / 1e9, sgemmShare: fpt * tps / 1e9 / sgemmGFLOPS,
            generationSequences: genSequences[0], generationTokensPerSecond: rates[genSequences[0]] ?? 0,
            generationBySequences: Dictionary(uniqueKeysWithValues: rates.map { (String($0.key), $0.value) }),
            peakResidentMB: peakRSSMB(),
            trainingBudgetMB: Double(trainBytes) / 1_048_576,
            generationBudgetMB: Double(trainBytes + cacheBytes) / 1_048_576)
    }

    /// Resets the kernel's resident-set high-water mark of this process (Linux clear_refs 5).
    static func resetPeakRSS() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    static func peakRSSMB() -> Double { statusMB("VmHWM:") }

    /// The process's resident set now.
    static func residentMB() -> Double { statusMB("VmRSS:") }

    /// A /proc/self/status line in kB, as MB.
    static func statusMB(_ field: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field) {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
        return 0
    }
}
