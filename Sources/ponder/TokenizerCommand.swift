// ponder tokenizer: train a byte-level BPE tokenizer on a text file, and inspect how text encodes.
import ArgumentParser
import Foundation
import Tokenization

struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Train a byte-level BPE tokenizer, or show how a tokenizer.json encodes text.",
        subcommands: [Train.self, Encode.self]
    )

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Train on a UTF-8 text file and write tokenizer.json.")

        @Option(help: "UTF-8 text file to train on.")
        var corpus: String

        @Option(help: "Vocabulary size, special tokens included (at least \(Tokenizer.minimumVocabSize)).")
        var vocabSize: Int = 8192

        @Option(help: "Where to write tokenizer.json.")
        var out: String = "tokenizer.json"

        func validate() throws {
            guard vocabSize >= Tokenizer.minimumVocabSize else {
                throw ValidationError("--vocab-size must be at least \(Tokenizer.minimumVocabSize) (256 bytes + \(SpecialToken.allCases.count) special tokens)")
            }
        }

        func run() throws {
            let clock = ContinuousClock()
            var tokenizer: Tokenizer? = nil
            let elapsed = try clock.measure {
                tokenizer = try Tokenizer.train(file: URL(fileURLWithPath: corpus), vocabSize: vocabSize)
            }
            try tokenizer!.save(tokenizerJSON: URL(fileURLWithPath: out))
            print("trained \(tokenizer!.vocabSize) tokens in \(elapsed); wrote \(out)")
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the token ids and pieces of a text.")

        @Option(help: "tokenizer.json to use.")
        var tokenizer: String

        @Flag(help: "Recognise special-token spellings such as <|im_end|>.")
        var allowSpecial = false

        @Argument(help: "Text to encode.")
        var text: String

        func run() throws {
            let tok = try Tokenizer.load(tokenizerJSON: URL(fileURLWithPath: tokenizer))
            let ids = tok.encode(text, allowSpecial: allowSpecial)
            print("\(ids.count) tokens: \(ids.map(String.init).joined(separator: " "))")
            print(ids.map { tok.decode([$0]).debugDescription }.joined(separator: " "))
        }
    }
}
