// Fuzzed tokenizer.json: 1,000 mutants of a trained tokenizer's file through
// `Tokenizer.load(tokenizerJSON:)`; a tokenizer that loads must also encode and decode.
//
// Each error names the file and where in it the problem is: a key of the document
// (`model.vocab`, `added_tokens[3]`, `pre_tokenizer`, ...) or, for text that is not JSON, the
// parser's line, column or byte.
import Foundation
import Testing
import Tokenization

@Suite struct TokenizerJSONFuzzTests {
    static let mutants = 1_000
    static let seed: UInt64 = 0x70C3

    /// Text that reaches every stage of encoding: specials, digits, Unicode, whitespace runs.
    static let text = "<|im_start|>user<|im_sep|>What is 12 + 7?<|im_end|> café — 中文 😀\n\n  x"

    @Test func mutatedTokenizerFilesLoadOrFailNamingTheKey() throws {
        let original = try FuzzFixtures.tokenizerJSON()
        let directory = try FuzzDirectory("tokenizer")
        defer { directory.remove() }
        let url = directory.file("tokenizer.json")
        let seed = FuzzRun.seed(Self.seed)
        let mutator = Mutator(seed: seed)

        let tally = try FuzzRun.run("tokenizer.json", seed: seed, count: FuzzRun.count(Self.mutants)) { index in
            let mutant = mutator.mutant(index, of: original, format: .json)
            try FuzzDirectory.write(mutant.bytes, to: url)
            return FuzzCase(label: mutant.label, kinds: mutant.kinds.map(\.rawValue),
                            load: {
                                let tokenizer = try Tokenizer.load(tokenizerJSON: url)
                                let ids = tokenizer.encode(Self.text, allowSpecial: true)
                                _ = tokenizer.decode(ids)
                            },
                            check: { Self.problem(with: $0, path: url.path) })
        }

        #expect(tally.badErrors == 0)
        if FuzzRun.isFullRun {
            #expect(tally.errors >= tally.mutants / 2, "most mutants should be rejected: \(tally)")
            #expect(tally.kinds == Set(Mutation.kinds(for: .json).map(\.rawValue)), "every mutation kind should run")
        }
    }

    /// The keys of a tokenizer.json, and the words of the JSON parser's positions ("Invalid
    /// value around character 812.", "Unexpected end of file", "(byte 4663)").
    static let locations = ["model", "added_tokens", "normalizer", "pre_tokenizer", "decoder", "top level",
                            "character ", "end of file", "byte "]

    static func problem(with error: any Error, path: String) -> String? {
        let text = "\(error)"
        if let missing = FuzzRun.names(path, in: text) { return missing }
        let reason = text.dropFirst(path.count)
        return locations.contains { reason.contains($0) } ? nil : "names no key or position in the file"
    }
}
