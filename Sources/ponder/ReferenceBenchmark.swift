// ReferenceBenchmark: the frozen reference of grpo, ppo and dpo in `ponder bench`, per storage
// type (`reference_dtype`). Budget: the weights as stored, the forward-only activations of the
// config's [B, T] batch and, for BF16, the one-layer F32 scratch. Peak: the resident high-water
// mark from just before the model is built to the end of its forwards, minus nothing (the
// baseline, what the process held before, is printed beside it). Time: the median of three
// forward + log-probs passes after a warm-up, BF16's widening of every layer included.

import Foundation
import Model
import PonderCore

struct ReferenceBenchResult: Codable {
    var config: String
    var dtype: WeightDType
    var weightsMB: Double
    var budgetMB: Double
    var baselineResidentMB: Double
    var peakResidentMB: Double
    var forwardSeconds: Double
}

enum ReferenceBenchmark {
    static func run(_ bc: BenchConfig, dtype: WeightDType, repeats: Int = 3) throws -> ReferenceBenchResult {
        ModelBenchmark.resetPeakRSS()
        let baseline = ModelBenchmark.residentMB()
        let model = try Transformer(config: bc.model, seed: 1, storage: .frozen(dtype))
        var rng = RNG(seed: 2)
        let N = bc.B * bc.T
        let tokens = (0..<N).map { _ in Int32(rng.nextInt(below: bc.model.vocabSize)) }
        let targets = (0..<N).map { _ in Int32(rng.nextInt(below: bc.model.vocabSize)) }
        let pass = {
            model.forward(tokens: tokens, B: bc.B, T: bc.T)
            _ = model.logProbs(targets: targets)
        }
        pass()  // warm-up: allocates the activations
        let time = ModelBenchmark.median((0..<repeats).map { _ in ModelBenchmark.seconds(pass) })
        let mb = 1.0 / 1_048_576
        return ReferenceBenchResult(
            config: bc.name, dtype: dtype, weightsMB: Double(model.parameterBytes) * mb,
            budgetMB: Double(model.parameterBytes + model.activationBytes) * mb,
            baselineResidentMB: baseline, peakResidentMB: ModelBenchmark.peakRSSMB(), forwardSeconds: time)
    }
}
