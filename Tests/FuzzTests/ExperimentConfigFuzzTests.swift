// Fuzzed experiment files: 1,000 mutants of experiments/tiny.yaml through
// `ExperimentConfig.load(path:)`, the loader `ponder run` and `ponder config` use.
//
// Each either decodes or fails with an ExperimentConfigError printed as FILE:LINE:COL: ...;
// only a file with nothing in it (no node to point at) may leave out the line and column.
import Experiments
import Foundation
import Testing

@Suite struct ExperimentConfigFuzzTests {
    static let mutants = 1_000
    static let seed: UInt64 = 0x59A1

    @Test func mutatedExperimentFilesLoadOrFailAtALineAndColumn() throws {
        let original = try FuzzFixtures.experimentYAML()
        let directory = try FuzzDirectory("yaml")
        defer { directory.remove() }
        let path = directory.file("tiny.yaml").path
        let seed = FuzzRun.seed(Self.seed)
        let mutator = Mutator(seed: seed)

        let tally = try FuzzRun.run("experiment YAML", seed: seed, count: FuzzRun.count(Self.mutants)) { index in
            let mutant = mutator.mutant(index, of: original, format: .yaml)
            try FuzzDirectory.write(mutant.bytes, to: URL(fileURLWithPath: path))
            return FuzzCase(label: mutant.label, kinds: mutant.kinds.map(\.rawValue),
                            load: { _ = try ExperimentConfig.load(path: path) },
                            check: { Self.problem(with: $0, path: path) })
        }

        #expect(tally.badErrors == 0)
        if FuzzRun.isFullRun {
            #expect(tally.errors >= tally.mutants / 2, "most mutants should be rejected: \(tally)")
            #expect(tally.kinds == Set(Mutation.kinds(for: .yaml).map(\.rawValue)), "every mutation kind should run")
        }
    }

    /// What `error` lacks: an ExperimentConfigError that starts with the file and has a position.
    static func problem(with error: any Error, path: String) -> String? {
        guard let error = error as? ExperimentConfigError else { return "is a \(type(of: error)), not an ExperimentConfigError" }
        guard error.description.hasPrefix(path + ":") else { return "does not start with the file \(path)" }
        if error.line == nil || error.column == nil, !error.message.contains("the file is empty") {
            return "has no line and column"
        }
        return nil
    }
}
