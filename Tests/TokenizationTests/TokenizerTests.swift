// Encode/decode round trips, the digit rule, special-token atomicity, training determinism and
// the errors for bad input.

import Foundation
import PonderCore
import Testing
import Tokenization

@Suite struct TokenizerTests {
    let tok = Fixtures.tokenizer

    @Test func vocabularyLayout() {
        #expect(tok.vocabSize == 1200)
        for b in 0..<256 { #expect(tok.bytes(of: Int32(b)) == [UInt8(b)]) }
        let specials = SpecialToken.allCases.map { tok.id(of: $0) }
        let expected: [Int32] = Array(1188..<1200)
        #expect(specials == expected)
        for s in SpecialToken.allCases { #expect(tok.decode([tok.id(of: s)]) == s.rawValue) }
    }

    @Test func roundTripsVariedAndRandomUnicode() {
        #expect(tok.decode(tok.encode(Fixtures.variedText)) == Fixtures.variedText)
        #expect(tok.decode(tok.encode(Fixtures.variedText, allowSpecial: true)) == Fixtures.variedText)
        var rng = RNG(seed: 11)
        for i in 0..<300 {
            let s = Fixtures.randomText(&rng, length: Int(rng.next() % 200))
            let ids = tok.encode(s, allowSpecial: i % 2 == 0)
            #expect(tok.decode(ids) == s)
            #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tok.vocabSize })
        }
        #expect(tok.encode("").isEmpty)
        #expect(tok.decode([]) == "")
    }

    @Test func digitsAreSeparateTokens() {
        let ids = tok.encode("12 + 345 = 357 and x2024y 9876543210")
        let pieces = ids.map { tok.decode([$0]) }
        for piece in pieces where piece.contains(where: \.isNumber) {
            #expect(piece.count == 1, "digit token \(piece) holds more than one character")
        }
        #expect(PreTokenizer(pattern: .ponder).pieces("a123 4") == ["a", "1", "2", "3", " ", "4"])
    }

    @Test func preTokenizerPieces() {
        let ponder = PreTokenizer(pattern: .ponder)
        #expect(ponder.pieces("Hello, world! It's") == ["Hello", ",", " world", "!", " It", "'s"])
        #expect(ponder.pieces("a  b\n\n c ") == ["a", " ", " b", "\n\n", " c", " "])
        let llama = PreTokenizer(pattern: .llama3(maxDigits: 3))
        #expect(llama.pieces("12345 DON'T") == ["123", "45", " DON", "'T"])
        let gpt2 = PreTokenizer(pattern: .gpt2)
        #expect(gpt2.pieces("12345 DON'T it's") == ["12345", " DON", "'", "T", " it", "'s"])
    }

    @Test func specialTokensAreAtomicOnlyWhenAllowed() {
        let typed = "<|im_end|>"
        let plain = tok.encode(typed)
        #expect(!plain.contains(tok.id(of: .imEnd)))
        #expect(plain.count > 1)
        #expect(tok.encode(typed, allowSpecial: true) == [tok.id(of: .imEnd)])
        let mixed = tok.encode("a<think>b</think><|im_end|>", allowSpecial: true)
        #expect(mixed.contains(tok.id(of: .thinkStart)) && mixed.contains(tok.id(of: .thinkEnd)))
        // No ordinary text ever yields a special id.
        let specials = Set(SpecialToken.allCases.map { tok.id(of: $0) })
        #expect(tok.encode(Fixtures.variedText).allSatisfy { !specials.contains($0) })
    }

    @Test func trainingIsDeterministic() throws {
        let corpus = SyntheticCorpus.documents(bytes: 100_000, seed: 3)
        let a = try Tokenizer.train(corpus: corpus, vocabSize: 700)
        let b = try Tokenizer.train(corpus: corpus, vocabSize: 700)
        #expect(try a.tokenizerJSONData() == b.tokenizerJSONData())
        #expect(a.encode(Fixtures.variedText) == b.encode(Fixtures.variedText))
        let other = try Tokenizer.train(corpus: SyntheticCorpus.documents(bytes: 100_000, seed: 4), vocabSize: 700)
        #expect(try a.tokenizerJSONData() != other.tokenizerJSONData())
    }

    @Test func trainingCompressesAndStopsWhenPairsRunOut() throws {
        let t = try Tokenizer.train(corpus: ["aaaa bbbb aaaa"], vocabSize: 5000)
        #expect(t.vocabSize < 5000)
        #expect(t.decode(t.encode("aaaa bbbb")) == "aaaa bbbb")
        #expect(t.encode("aaaa").count == 1)
        let text = SyntheticCorpus.documents(bytes: 20_000, seed: 99).joined()
        #expect(Double(tok.encode(text).count) < 0.5 * Double(text.utf8.count))
    }

    @Test func vocabularyTooSmallIsAClearError() {
        #expect(throws: TokenizerError.vocabularyTooSmall(requested: 260, minimum: 268)) {
            try Tokenizer.train(corpus: ["hello"], vocabSize: 260)
        }
        let zeroMerges = try? Tokenizer.train(corpus: ["hello"], vocabSize: 268)
        #expect(zeroMerges?.vocabSize == 268)
        #expect(TokenizerError.vocabularyTooSmall(requested: 260, minimum: 268).description.contains("at least 268"))
    }

    @Test func streamingDecoderHoldsBackPartialCharacters() {
        let text = "emoji 😀👨‍👩‍👧 and 中文 ok"
        let bytes = Array(text.utf8)
        // Byte tokens, one at a time: every prefix ends inside a character at some point.
        var decoder = StreamingDecoder(tokenizer: tok)
        var out = ""
        for b in bytes {
            let piece = decoder.push(Int32(b))
            #expect(!piece.contains("\u{FFFD}"))
            out += piece
        }
        out += decoder.finish()
        #expect(out == text)
        // A stream cut inside a character decodes without crashing, with a replacement character.
        let cut = tok.decode(bytes[0..<7].map { Int32($0) })
        #expect(cut.hasPrefix("emoji ") && cut.hasSuffix("\u{FFFD}"))
        var d2 = StreamingDecoder(tokenizer: tok)
        #expect(d2.push(bytes[0..<7].map { Int32($0) }) == "emoji ")
        #expect(d2.finish() == "\u{FFFD}")
        #expect(tok.decode([-1, 99_999]) == "\u{FFFD}\u{FFFD}")
    }

    @Test func concurrentEncodesAgree() async {
        let text = SyntheticCorpus.documents(bytes: 30_000, seed: 8)
        let fresh = try! Tokenizer.load(tokenizerJSONData: tok.tokenizerJSONData())
        let expected = text.map { tok.encode($0) }
        let results = await withTaskGroup(of: [[Int32]].self) { group in
            for _ in 0..<4 { group.addTask { text.map { fresh.encode($0) } } }
            var all: [[[Int32]]] = []
            for await r in group { all.append(r) }
            return all
        }
        for r in results { #expect(r == expected) }
    }

    @Test func benchmarkReportsFigures() throws {
        let b = try Tokenizer.benchmark(corpusBytes: 200_000, vocabSize: 600, runs: 3, seed: 1)
        #expect(b.corpusBytes >= 200_000)
        #expect(b.vocabSize == 600)
        #expect(b.trainingSeconds > 0 && b.encodeMBPerSecond > 0)
        #expect(b.tokensPerByte > 0 && b.tokensPerByte < 1)
    }
}
