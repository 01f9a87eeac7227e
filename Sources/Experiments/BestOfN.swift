// Best-of-n against reward models (`ponder eval CHECKPOINT --best-of N --reward-model DIR...`):
// for each held-out task, N answers are sampled once (and shared by every reward model); for
// every n = 1, 2, 4, ... N the answer each reward model scores highest among n is kept, and the expected proxy score and gold accuracy
// of that pick are computed exactly over all n-subsets of the N samples
// (Overoptimization.bestOfN), beside the analytic KL log n - (n - 1) / n and d = sqrt(KL): the
// best-of-n points of Gao et al.'s over-optimisation curve, with the fit d (alpha - beta d).
import Foundation
import Model
import PonderCore
import Tokenization
import Training

public struct BestOfNRow: Sendable {
    public var n: Int
    public var kl: Double
    public var proxy: Double
    /// Expected gold accuracy of the pick, with a 95% t-interval over tasks.
    public var gold: Interval
}

public enum BestOfN {
    /// The rows of each reward model, in the order given.
    public static func run(environment name: String, of config: ExperimentConfig, model: Transformer, tokenizer: Tokenizer,
                           rewardModels: [RewardEnsemble], split: Split, tasks count: Int, samples N: Int, temperature: Double,
                           maxNewTokens: Int, seed: UInt64) throws -> [[BestOfNRow]] {
        let envs = try config.environments.map(LabEnvironment.init)
        guard let env = envs.first(where: { $0.environment.name == name }) else {
            throw RunnerError("experiment \(config.name) has no environment `\(name)`")
        }
        let tasks = env.heldOut(count: count, seed: config.heldOutSeed, split: split)
        try Evaluation.checkPromptsFit(tasks, tokenizer: tokenizer, model: model)
        var sampling = SamplingParameters(temperature: Float(temperature), topK: 0, topP: 1, maxNewTokens: maxNewTokens)
        sampling.stopTokens = [tokenizer.endOfTurnID]
        let chunk = max(1, 256 / N)
        let engine = Engine(model: model, sequences: chunk * N, maxLength: model.config.maxSeqLen)
        let ns = sequence(first: 1) { $0 * 2 }.prefix { $0 <= N }
        var proxyByN = rewardModels.map { _ in [Int: [Double]]() }, goldByN = proxyByN
        var start = 0
        while start < tasks.count {
            let part = Array(tasks[start..<min(tasks.count, start + chunk)])
            var streams = part.indices.map { RNG(seed: seed).fork("best-of-n/task-\(start + $0)") }
            start += part.count
            let rollouts = Rollouts.generate(engine: engine, tokenizer: tokenizer, tasks: part, samplesPerTask: N, sampling: sampling,
                                             tools: RunnerData.tools(envs), streams: &streams)
            for (task, group) in zip(part, rollouts) {
                let gold = env.environment.verify(batch: group.map { (task, $0.message) }).map { $0.kind == .correct ? 1.0 : 0.0 }
                let sequences = group.map { r -> [Int32] in
                    (try? PreferencePair.render(task.prompt, r.message, tokenizer: tokenizer).ids) ?? (r.promptIDs + r.tokens)
                }
                for (k, rewardModel) in rewardModels.enumerated() {
                    let limit = rewardModel.members[0].trunk.config.maxSeqLen
                    let proxy = rewardModel.scores(sequences.map { Array($0.suffix(limit)) }).combined
                    for n in ns {
                        proxyByN[k][n, default: []].append(Overoptimization.bestOfN(proxy: proxy, values: proxy, n: n))
                        goldByN[k][n, default: []].append(Overoptimization.bestOfN(proxy: proxy, values: gold, n: n))
                    }
                }
            }
        }
        return rewardModels.indices.map { k in
            ns.map { n in
                let gold = goldByN[k][n] ?? []
                let mean = gold.reduce(0, +) / Double(max(1, gold.count))
                let interval = (Statistics.meanInterval(gold) ?? Interval(estimate: mean, lower: mean, upper: mean)).clamped(to: 0...1)
                return BestOfNRow(n: n, kl: Overoptimization.bestOfNKL(n), proxy: (proxyByN[k][n] ?? []).reduce(0, +) / Double(max(1, gold.count)),
                                  gold: interval)
            }
        }
    }

    /// Gao et al.'s best-of-n form fitted to the rows: gold - gold(n = 1) = d (alpha - beta d).
    public static func fit(_ rows: [BestOfNRow]) -> Overoptimization.Fit? {
        guard let base = rows.first?.gold.estimate else { return nil }
        return Overoptimization.fit(d: rows.map { $0.kl.squareRoot() }, gain: rows.map { $0.gold.estimate - base }, form: .bestOfN)
    }
}
