// Fuzzed checkpoint directories: 1,000 mutants of a tiny trainer checkpoint (each with one of
// its five files damaged, deleted, replaced by a directory, emptied, swapped for another's
// bytes or for the same file of another model) through everything that reads a checkpoint:
// `Checkpoint.load(from:)` (config.json, model.safetensors, trainer_state.json),
// `Checkpoint.loadOptimizer` (optimizer.safetensors) and `Tokenizer.load(checkpointDirectory:)`
// (tokenizer.json).
//
// Each error names the damaged file by its path inside the directory (a config.json that no
// longer fits the weights may be reported at model.safetensors, but must still name
// config.json). What loads is run forward once on encoded text, so a tokenizer that does not
// fit the model is caught too.
import Foundation
import Model
import Testing
import Tokenization

@Suite struct CheckpointFuzzTests {
    static let mutants = 1_000
    static let seed: UInt64 = 0xC4E0

    @Test func mutatedCheckpointDirectoriesLoadOrFailNamingTheFile() throws {
        let files = try FuzzFixtures.checkpointFiles(), otherModel = try FuzzFixtures.otherCheckpointFiles()
        let directory = try FuzzDirectory("checkpoint")
        defer { directory.remove() }
        let checkpoint = directory.file("step-1")
        let seed = FuzzRun.seed(Self.seed)
        let mutator = Mutator(seed: seed)

        let tally = try FuzzRun.run("checkpoint directory", seed: seed, count: FuzzRun.count(Self.mutants)) { index in
            let mutant = mutator.directoryMutant(index, of: files, otherModel: otherModel)
            try mutant.write(to: checkpoint)
            return FuzzCase(label: mutant.label, kinds: mutant.kinds,
                            load: { try Self.loadEverything(checkpoint) },
                            check: { FuzzRun.names(checkpoint.appendingPathComponent(mutant.target).path, in: "\($0)") })
        }

        #expect(tally.badErrors == 0)
        let expected = Set(Mutation.kinds(for: .safetensors).map(\.rawValue) + FileMutation.allCases.map(\.rawValue))
        if FuzzRun.isFullRun {
            #expect(tally.errors >= tally.mutants / 2, "most mutants should be rejected: \(tally)")
            #expect(tally.kinds == expected, "every mutation kind should run")
        }
    }

    /// What a resumed trainer reads (the model, the trainer state, the optimizer, the tokenizer),
    /// then a first forward pass on encoded text, whose precondition traps on an id the model
    /// cannot embed: what loads must fit together.
    static func loadEverything(_ checkpoint: URL) throws {
        let (model, _) = try Checkpoint.load(from: checkpoint)
        try Checkpoint.loadOptimizer(into: AdamW(layout: model.layout, parameters: FuzzFixtures.adam), from: checkpoint)
        let tokenizer = try Tokenizer.load(checkpointDirectory: checkpoint)
        let tokens = Array(tokenizer.encode(TokenizerJSONFuzzTests.text, allowSpecial: true).prefix(model.config.maxSeqLen))
        model.forward(tokens: tokens, B: 1, T: tokens.count)
    }
}
