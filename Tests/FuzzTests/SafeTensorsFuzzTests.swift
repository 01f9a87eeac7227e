// Fuzzed safetensors: 1,000 mutants of a real small model's model.safetensors through
// `SafeTensorsFile(contentsOf:)`; a file that opens must also give every tensor back.
//
// Each error names the file and where in it: a tensor, or a part of the frame (the header
// length, the JSON header with the parser's position, `__metadata__`, the data section).
import Foundation
import Model
import Testing

@Suite struct SafeTensorsFuzzTests {
    static let mutants = 1_000
    static let seed: UInt64 = 0x5AFE

    @Test func mutatedSafetensorsFilesOpenOrFailNamingTheTensorOrOffset() throws {
        let original = try FuzzFixtures.modelSafetensors()
        let directory = try FuzzDirectory("safetensors")
        defer { directory.remove() }
        let url = directory.file("model.safetensors")
        let seed = FuzzRun.seed(Self.seed)
        let mutator = Mutator(seed: seed)

        let tally = try FuzzRun.run("safetensors", seed: seed, count: FuzzRun.count(Self.mutants)) { index in
            let mutant = mutator.mutant(index, of: original, format: .safetensors)
            try FuzzDirectory.write(mutant.bytes, to: url)
            return FuzzCase(label: mutant.label, kinds: mutant.kinds.map(\.rawValue),
                            load: { try Self.readEveryTensor(url) },
                            check: { Self.problem(with: $0, path: url.path) })
        }

        #expect(tally.badErrors == 0)
        if FuzzRun.isFullRun {
            #expect(tally.errors >= tally.mutants / 2, "most mutants should be rejected: \(tally)")
            #expect(tally.kinds == Set(Mutation.kinds(for: .safetensors).map(\.rawValue)), "every mutation kind should run")
        }
    }

    static func readEveryTensor(_ url: URL) throws {
        let file = try SafeTensorsFile(contentsOf: url)
        for tensor in file.tensors {
            switch tensor.dtype {
            case .f32, .f16, .bf16, .f64: _ = try file.floats(tensor.name)
            default: _ = try file.integers(tensor.name)
            }
        }
    }

    /// The places of a safetensors file an error may point at besides a tensor.
    static let locations = ["header", "__metadata__", "data", "byte", "bytes", "offset"]

    static func problem(with error: any Error, path: String) -> String? {
        guard let error = error as? SafeTensorsError else { return "is a \(type(of: error)), not a SafeTensorsError" }
        if let missing = FuzzRun.names(path, in: error.description) { return missing }
        if error.tensor != nil { return nil }
        return locations.contains { error.message.contains($0) } ? nil : "names no tensor and no part of the file"
    }
}
