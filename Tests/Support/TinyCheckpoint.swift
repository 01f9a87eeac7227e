// A tiny random checkpoint (weights, config and tokenizer.json) for tests that serve or load a
// model: its text is noise, which is all a protocol or plumbing test needs, and it is written in
// well under a second.
import Foundation
import Model
import Tokenization

public enum TinyCheckpoint {
    /// Context of the tiny model (prompt and completion together).
    public static let context = 96

    public static func tokenizer() throws -> Tokenizer {
        let corpus = (0..<40).map { i in "What is \(i) + \(i * 3)? The answer is \(i * 4). Count the letters in banana." }
        return try Tokenizer.train(corpus: corpus, vocabSize: 320)
    }

    /// Writes the checkpoint into `directory` (created) and returns its model and tokenizer.
    @discardableResult
    public static func write(to directory: URL, seed: UInt64 = 11, context: Int = context) throws -> (Transformer, Tokenizer) {
        let tokenizer = try tokenizer()
        let config = ModelConfig(vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 2, nHeads: 2, maxSeqLen: context)
        let model = try Transformer(config: config, seed: seed)
        try Checkpoint.save(model: model, to: directory)
        try tokenizer.save(checkpointDirectory: directory)
        return (model, tokenizer)
    }
}
