// Shared tiny fixtures: a tokenizer trained on the arithmetic environment's corpus, tiny models,
// a packed pretraining stream and SFT examples rendered from demonstrations.
import Foundation
import Environments
import Model
import PonderCore
import Tokenization
import Training

enum Fixtures {
    static let arithmetic: ArithmeticEnvironment = try! ArithmeticEnvironment()

    static let documents: [String] = {
        var rng = RNG(seed: 11)
        return arithmetic.corpus(&rng, count: 240, split: .train, shares: SplitShares()).map(\.text)
    }()

    /// ~330 tokens: 256 bytes, 12 specials and a few dozen merges.
    static let tokenizer: Tokenizer = try! Tokenizer.train(corpus: documents, vocabSize: 330)

    static func model(seed: UInt64 = 1, maxSeqLen: Int = 128, tied: Bool = true) -> Transformer {
        let config = ModelConfig(vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 1, nHeads: 2,
                                 maxSeqLen: maxSeqLen, tieEmbeddings: tied)
        return try! Transformer(config: config, seed: seed)
    }

    /// Documents packed into one stream, each ending with <|endoftext|>.
    static func stream(_ docs: ArraySlice<String>) -> [Int32] {
        let eot = tokenizer.id(of: .endOfText)
        var out: [Int32] = []
        for d in docs { out += tokenizer.encode(d) + [eot] }
        return out
    }

    static let trainStream = stream(documents[0..<200])
    static let validationStream = stream(documents[200...])

    static func sftExamples(count: Int, seed: UInt64) -> [SupervisedFineTuning.Example] {
        var rng = RNG(seed: seed)
        return arithmetic.sample(&rng, count: count).enumerated().map { i, task in
            let style: DemonstrationStyle = i % 2 == 0 ? .direct : .think
            let conversation = task.prompt.appending(arithmetic.demonstration(task, style: style))
            return try! SupervisedFineTuning.Example(conversation, tokenizer: tokenizer)
        }
    }

    static func temporaryDirectory(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("ponder-training-tests-\(getpid())-\(name)-\(UInt64.random(in: 0...UInt64.max))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Metrics that depend on the wall clock, left out of equality checks.
    static func deterministic(_ metrics: [String: Double]) -> [String: Double] {
        metrics.filter { $0.key != "tokens_per_second" && $0.key != "step_seconds" && $0.key != "examples_truncated" }
    }
}
