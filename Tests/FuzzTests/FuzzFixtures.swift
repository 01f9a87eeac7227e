// The originals the fuzz tests mutate: real files, made the way Ponder makes them.
//
// - experiments/tiny.yaml, read from the repository.
// - a JSONL task file as users write one: JSONLEnvironment.example (every verifier) and lines
//   with ids, nested and null metadata, tags, numeric and negative answers, a French prompt,
//   python_tests with list arguments, a blank line and a final newline.
// - a byte-level BPE tokenizer trained on the synthetic corpus (vocabulary 400).
// - a tiny checkpoint as the trainers write it (Checkpoint.save with tokenizer.json in the same
//   swap): model.safetensors, config.json, optimizer.safetensors after one AdamW step,
//   trainer_state.json with RNG streams, cursor, metrics and extras, and tokenizer.json.
// - a second checkpoint of another model (other vocabulary and sizes, untied, q/k/v bias), whose
//   files stand in for the first one's: the file a user copied from the wrong run.
// Built once per test process, in memory; each test writes its mutants where it wants them.
import Environments
import Foundation
import Model
import PonderCore
import Tokenization

enum FuzzFixtures {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func experimentYAML() throws -> [UInt8] {
        Array(try Data(contentsOf: repositoryRoot.appendingPathComponent("experiments/tiny.yaml")))
    }

    /// A task file every line of which loads (python_tests included), ending in a newline.
    static func jsonlTasks() -> [UInt8] {
        let more = #"""
        {"id": "q1", "prompt": "What is 12 + 30?", "answer": 42, "verifier": "number", "difficulty": {"level": 2}, "source": "hand"}
        {"id": "q2", "prompt": "Spell cat backwards.", "answer": "tac", "tags": ["words", "easy"], "difficulty": {"level": 1}}

        {"id": "q3", "prompt": "What is 3 minus 10?", "answer": -7, "verifier": "number", "weight": 1.5, "difficulty": {"level": 1, "notes": null}}
        {"id": "q4", "prompt": "Name a planet with rings.", "answer": "Saturn", "verifier": "contains", "difficulty": {"level": 3}}
        {"id": "q5", "prompt": "Où est la tour Eiffel ?", "answer": "Paris", "lang": "fr", "difficulty": {"level": 1}}
        {"id": "q6", "prompt": "Write top2(xs).", "answer": "def top2(xs):\n    return sorted(xs)[-2:]\n", "verifier": "python_tests", "tests": {"function": "top2", "cases": [{"args": [[3, 1, 2]], "expected": [2, 3]}, {"args": [[5, -5, 5, 0]], "expected": [5, 5]}, {"args": [["b", "a"]], "expected": ["a", "b"]}]}, "difficulty": {"level": 2}}
        """#
        return Array((JSONLEnvironment.example + "\n" + more + "\n").utf8)
    }

    /// The checkpoint's model: tied embeddings and grouped-query attention, as small as the
    /// eval command can still run (arithmetic prompts fit in 128 positions).
    static let modelConfig = ModelConfig(vocabSize: 400, dModel: 16, nLayers: 2, nHeads: 2, nKVHeads: 1,
                                         ffnHidden: 32, maxSeqLen: 128)
    static let adam = AdamWParameters(weightDecay: 0.01)
    static let otherModelConfig = ModelConfig(vocabSize: 480, dModel: 24, nLayers: 1, nHeads: 2, ffnHidden: 40,
                                              maxSeqLen: 64, tieEmbeddings: false, qkvBias: true)

    /// File name -> contents of the tiny checkpoint.
    static func checkpointFiles() throws -> [String: [UInt8]] { try builtCheckpoint.get() }

    /// File name -> contents of the other model's checkpoint.
    static func otherCheckpointFiles() throws -> [String: [UInt8]] { try builtOtherCheckpoint.get() }

    static func tokenizerJSON() throws -> [UInt8] {
        guard let bytes = try checkpointFiles()[Tokenizer.checkpointFileName] else {
            throw FixtureError("the fixture checkpoint has no tokenizer.json")
        }
        return bytes
    }

    static func modelSafetensors() throws -> [UInt8] {
        guard let bytes = try checkpointFiles()[Checkpoint.modelFile] else {
            throw FixtureError("the fixture checkpoint has no model.safetensors")
        }
        return bytes
    }

    private static let builtCheckpoint = Result { try buildCheckpoint(modelConfig) }
    private static let builtOtherCheckpoint = Result { try buildCheckpoint(otherModelConfig) }

    private static func buildCheckpoint(_ config: ModelConfig) throws -> [String: [UInt8]] {
        let tokenizer = try Tokenizer.train(corpus: SyntheticCorpus.documents(bytes: 40_000, seed: 11),
                                            vocabSize: config.vocabSize)
        let model = try Transformer(config: config, seed: 3)
        let optimizer = AdamW(layout: model.layout, parameters: adam)
        let tokens = tokenizer.encode("12 + 7 = 19. The cat sat on the mat.")
        model.forward(tokens: Array(tokens.dropLast()), B: 1, T: tokens.count - 1)
        _ = model.crossEntropy(targets: Array(tokens.dropFirst()), weights: [Float](repeating: 1, count: tokens.count - 1))
        model.backwardCrossEntropy()
        optimizer.update(params: model.params, grads: model.grads, lr: 1e-3)

        var state = TrainerState(step: 1, rngs: ["data": RNG(seed: 5)], dataCursor: ["step": 1],
                                 metrics: ["loss": 5.9, "lr": 1e-3])
        state.extras["stage"] = .string("pretrain")
        state.extras["seed"] = .string("7")
        let directory = try FuzzDirectory("fixture")
        defer { directory.remove() }
        let checkpoint = directory.file("checkpoint")
        try Checkpoint.save(model: model, optimizer: optimizer, trainerState: state,
                            extraFiles: [Tokenizer.checkpointFileName: try tokenizer.tokenizerJSONData()], to: checkpoint)
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: checkpoint.path) {
            files[name] = Array(try Data(contentsOf: checkpoint.appendingPathComponent(name)))
        }
        return files
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
