// TokenizerBenchmark: the tokenizer figures `ponder bench` prints, on a synthetic corpus.
//
// The corpus imitates what the lab's environments write: English-like prose with numbers and
// punctuation, arithmetic lines ("12 + 345 = 357"), and chat-like exchanges with thinking. It is
// generated from a seed, so every machine measures the same text.
// Encoding speed is the median of several runs over the whole corpus, each from an empty piece
// cache (the first pieces pay for BPE, repeats hit the cache, as in real use).

import Foundation
import PonderCore

public struct TokenizerBenchmark: Sendable, Equatable {
    /// Size of the corpus in UTF-8 bytes.
    public var corpusBytes: Int
    /// Vocabulary size asked for, and obtained.
    public var requestedVocabSize: Int
    public var vocabSize: Int
    /// Wall-clock seconds of `Tokenizer.train` on the corpus.
    public var trainingSeconds: Double
    /// Median encode throughput in MB (10^6 bytes) per second, one thread.
    public var encodeMBPerSecond: Double
    /// Tokens per byte of the corpus (compression; lower is denser).
    public var tokensPerByte: Double
}

extension Tokenizer {
    /// Trains on a synthetic corpus of `corpusBytes` bytes and times encoding it `runs` times.
    public static func benchmark(corpusBytes: Int = 5_000_000, vocabSize: Int = 8192, runs: Int = 5,
                                 seed: UInt64 = 0) throws -> TokenizerBenchmark {
        let documents = SyntheticCorpus.documents(bytes: corpusBytes, seed: seed)
        let bytes = documents.reduce(0) { $0 + $1.utf8.count }
        let clock = ContinuousClock()
        var tokenizer: Tokenizer? = nil
        let training = try clock.measure { tokenizer = try Tokenizer.train(corpus: documents, vocabSize: vocabSize) }
        let trained = tokenizer!
        var rates: [Double] = []
        var tokens = 0
        for _ in 0..<max(1, runs) {
            trained.clearCache()
            tokens = 0
            let elapsed = clock.measure {
                for d in documents { tokens += trained.encode(d).count }
            }
            rates.append(Double(bytes) / 1e6 / elapsed.seconds)
        }
        rates.sort()
        return TokenizerBenchmark(corpusBytes: bytes, requestedVocabSize: vocabSize, vocabSize: trained.vocabSize,
                                  trainingSeconds: training.seconds, encodeMBPerSecond: rates[rates.count / 2],
                                  tokensPerByte: Double(tokens) / Double(bytes))
    }
}

extension Duration {
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}

/// A seeded, varied text corpus for tokenizer training and benchmarks.
public enum SyntheticCorpus {
    /// Documents totalling at least `bytes` UTF-8 bytes; the same seed gives the same documents.
    public static func documents(bytes: Int, seed: UInt64) -> [String] {
        var rng = RNG(seed: seed)
        var out: [String] = []
        var total = 0
        while total < bytes {
            let doc: String
            switch rng.next() % 4 {
            case 0, 1: doc = prose(&rng)
            case 2: doc = arithmetic(&rng)
            default: doc = chat(&rng)
            }
            total += doc.utf8.count
            out.append(doc)
        }
        return out
    }

    private static let words = """
        the of and to in is was that for on with as by at from it an be this which or are have \
        not had but were one all they their there been has when who will more no if out so said \
        what up its about into than them can only other new some could time these two may then do \
        first any my now such like our over man me even most made after also did many before must \
        through back years where much your way well down should because each just those people \
        how too little state good very make world still own see men work long get here between \
        both life being under never day same another know while last might us great old year off \
        come since against go came right used take three number answer question river city water \
        light small large house north south market garden winter summer teacher student reason \
        model token letter count total value table apple orange seven eleven twelve hundred
        """.split(separator: " ").map(String.init)
    private static let syllables = ["ka", "lo", "mi", "ren", "dor", "tha", "el", "vin", "sa", "qu",
                                    "ori", "bel", "zan", "tu", "fe", "gra", "no", "wyn", "ist", "ae"]
    private static let punctuation = [".", ".", ".", "!", "?", ";", "...", ":"]

    private static func pick<T>(_ items: [T], _ rng: inout RNG) -> T { items[Int(rng.next() % UInt64(items.count))] }

    private static func name(_ rng: inout RNG) -> String {
        var s = ""
        for _ in 0..<(2 + Int(rng.next() % 3)) { s += pick(syllables, &rng) }
        return s.prefix(1).uppercased() + s.dropFirst()
    }

    private static func number(_ rng: inout RNG) -> String { String(rng.next() % [10, 100, 1000, 100_000][Int(rng.next() % 4)]) }

    private static func sentence(_ rng: inout RNG) -> String {
        var parts: [String] = []
        for i in 0..<(4 + Int(rng.next() % 14)) {
            let r = rng.next() % 20
            var w = r == 0 ? number(&rng) : r == 1 ? name(&rng) : pick(words, &rng)
            if i == 0 { w = w.prefix(1).uppercased() + w.dropFirst() }
            if r == 2 && i > 0 { w += "," }
            if r == 3 { w = "\"\(w)\"" }
            if r == 4 { w += "'s" }
            parts.append(w)
        }
        return parts.joined(separator: " ") + pick(punctuation, &rng)
    }

    private static func prose(_ rng: inout RNG) -> String {
        var paragraphs: [String] = []
        for _ in 0..<(1 + Int(rng.next() % 3)) {
            paragraphs.append((0..<(2 + Int(rng.next() % 5))).map { _ in sentence(&rng) }.joined(separator: " "))
        }
        return paragraphs.joined(separator: "\n\n")
    }

    private static func arithmetic(_ rng: inout RNG) -> String {
        (0..<(3 + Int(rng.next() % 8))).map { _ in
            let a = Int(rng.next() % 1000), b = Int(rng.next() % 1000)
            switch rng.next() % 4 {
            case 0: return "\(a) + \(b) = \(a + b)"
            case 1: return "\(a) - \(b) = \(a - b)"
            case 2: return "\(a % 100) * \(b % 100) = \((a % 100) * (b % 100))"
            default: return "What is \(a) // \(b % 97 + 1)? It is \(a / (b % 97 + 1))."
            }
        }.joined(separator: "\n")
    }

    private static func chat(_ rng: inout RNG) -> String {
        let a = Int(rng.next() % 500), b = Int(rng.next() % 500)
        let who = name(&rng)
        return """
            User: \(sentence(&rng)) How many letters are in "\(who)"? And what is \(a) + \(b)?
            Assistant: <think>\(who) has \(who.count) letters. \(a) + \(b) = \(a + b).</think> \
            "\(who)" has \(who.count) letters, and \(a) + \(b) = \(a + b).
            """
    }
}
