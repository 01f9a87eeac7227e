// SentencePiece-style BPE (Llama 2 / Mistral tokenizer.json): parity with the Python `tokenizers`
// package on a 1 MB multilingual corpus, the committed fixtures (no Python needed), and refusals.
// The byte-level kinds get the same 1 MB parity run here.

import Foundation
import PonderCore
import Testing
@testable import Tokenization

/// The multilingual corpus (interop.py `corpus`), written once per test process.
private enum MultilingualCorpus {
    static let bytes = 1_050_000
    static let shared: Result<(url: URL, text: String), Error> = Result {
        let dir = try temporaryDirectory()
        let url = dir.appendingPathComponent("corpus.txt")
        _ = try python(["corpus", url.path, "\(bytes)", "11"])
        let text = String(decoding: try Data(contentsOf: url), as: UTF8.self)
        return (url, text)
    }
}

/// interop.py `encode-each`: per text, ids with and without specials, decoded text.
private struct PythonEncodings: Decodable {
    var special: [[Int32]]
    var plain: [[Int32]]
    var decoded: [String]
}

/// Exact equality of text: Swift's == on String is canonical equivalence ("é" == "e" + U+0301),
/// too weak for claims of exact output.
private func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

/// Tokens that differ position by position, plus the difference in length.
private func mismatches(_ a: [Int32], _ b: [Int32]) -> Int {
    zip(a, b).reduce(0) { $0 + ($1.0 == $1.1 ? 0 : 1) } + abs(a.count - b.count)
}

private func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return out
}

/// Encodes the corpus with Ponder and Python, compares, and prints the parity line.
private func parity(label: String, tokenizerJSON json: URL, corpus: (url: URL, text: String)) throws -> (Tokenizer, PythonEncoding, [Int32]) {
    let tok = try Tokenizer.load(tokenizerJSON: json)
    let result = try JSONDecoder().decode(PythonEncoding.self, from: python(["encode", json.path, corpus.url.path]))
    let clock = ContinuousClock()
    var plain: [Int32] = []
    let elapsed = clock.measure { plain = tok.encode(corpus.text) }
    let special = tok.encode(corpus.text, allowSpecial: true)
    let bad = mismatches(plain, result.plain) + mismatches(special, result.special)
    print("\(label): \(grouped(corpus.text.utf8.count)) bytes, \(grouped(plain.count)) tokens (\(grouped(special.count)) with specials), \(bad) mismatches; Ponder encode \(elapsed)")
    #expect(plain == result.plain)
    #expect(special == result.special)
    if plain != result.plain, let i = firstDifference(plain, result.plain) {
        Issue.record("\(label): first difference at token \(i): ponder \(Array(plain[i..<min(i + 8, plain.count)])) python \(Array(result.plain[i..<min(i + 8, result.plain.count)])) near \(tok.decode(result.plain[max(0, i - 8)..<min(i + 8, result.plain.count)]).debugDescription)")
    }
    return (tok, result, plain)
}

/// Ponder and Python on 3,000 short seeded texts of tricky pieces, each encoded on its own.
private func trickyTextParity(label: String, tokenizerJSON json: URL, tokenizer tok: Tokenizer, directory dir: URL) throws {
    var rng = RNG(seed: 17)
    let pieces = ["<s>", "</s>", "<unk>", " ", "  ", "\u{2581}", "\u{301}", "a", "Hello", "é", "e\u{301}", "\n", "\t",
                  "\r\n", "中", "😀", "👍🏽", "<0x41>", "x y", "\u{A0}", "\u{20001}", "<", "s>"]
    let texts = (0..<3000).map { _ in
        (0..<(1 + Int(rng.next() % 7))).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
    }
    let textsFile = dir.appendingPathComponent("texts.json")
    try JSONEncoder().encode(texts).write(to: textsFile)
    let each = try JSONDecoder().decode(PythonEncodings.self, from: python(["encode-each", json.path, textsFile.path]))
    var bad = 0
    for (i, text) in texts.enumerated() {
        let special = tok.encode(text, allowSpecial: true), plain = tok.encode(text)
        if special != each.special[i] || plain != each.plain[i] || !same(tok.decode(special), each.decoded[i]) {
            bad += 1
            if bad <= 3 {
                Issue.record("\(label): \(text.debugDescription): ponder \(special) / \(plain) \(tok.decode(special).debugDescription), python \(each.special[i]) / \(each.plain[i]) \(each.decoded[i].debugDescription)")
            }
        }
    }
    print("\(label): \(texts.count) short tricky texts, \(bad) mismatches")
    #expect(bad == 0)
}

@Suite struct SentencePieceTests {
    @Test(arguments: ["legacy", "metaspace-first", "metaspace-always"])
    func parityOnMultilingualCorpus(layout: String) throws {
        let corpus = try MultilingualCorpus.shared.get()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("tokenizer.json")
        _ = try python(["train-spm", layout, corpus.url.path, "3000", json.path])
        let (tok, result, plain) = try parity(label: "spm parity (\(layout))", tokenizerJSON: json, corpus: corpus)
        #expect(tok.sentencePiece != nil)
        #expect(tok.vocabSize > 3000)

        // Byte fallback fired: ids 3...258 are <0x00>...<0xFF>.
        let fallbacks = plain.filter { (3...258).contains($0) }.count
        #expect(fallbacks > 1000)
        print("spm parity (\(layout)): \(grouped(fallbacks)) byte-fallback tokens")

        // Decoding gives `tokenizers`' strings, for its ids and for Ponder's.
        #expect(same(tok.decode(result.special), result.decoded))
        #expect(same(tok.decode(result.plain), result.decodedPlain))
        #expect(same(tok.decode(tok.encode(corpus.text, allowSpecial: true)), result.decoded))
        if layout == "legacy" {
            // The old layout is lossless but for "▁" in the input, which decodes as a space.
            #expect(same(result.decodedPlain, replacingAll(corpus.text, "\u{2581}", " ")))
        }
        if layout != "metaspace-always" {
            // Streaming output is the decode with the space of the first "▁" kept.
            var stream = StreamingDecoder(tokenizer: tok)
            var streamed = ""
            for id in plain { streamed += stream.push(id) }
            streamed += stream.finish()
            #expect(same(streamed, " " + result.decodedPlain))
        }

        // Short texts from tricky pieces, each encoded on its own: every one starts a text, so
        // the prepend rules at the start and after added tokens are tried thousands of times.
        try trickyTextParity(label: "spm parity (\(layout))", tokenizerJSON: json, tokenizer: tok, directory: dir)

        // Saving writes the file back; it loads to the same tokenizer.
        #expect(try tok.tokenizerJSONData() == Data(contentsOf: json))
        let again = try Tokenizer.load(tokenizerJSONData: tok.tokenizerJSONData())
        let sample = String(corpus.text.prefix(20_000))
        #expect(again.encode(sample) == tok.encode(sample))
    }

    @Test(arguments: ["gpt2", "llama3", "qwen2"])
    func byteLevelParityOnMultilingualCorpus(kind: String) throws {
        let corpus = try MultilingualCorpus.shared.get()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("tokenizer.json")
        _ = try python(["train", kind, corpus.url.path, "1500", json.path])
        let (tok, result, plain) = try parity(label: "byte-level parity (\(kind))", tokenizerJSON: json, corpus: corpus)
        #expect(tok.sentencePiece == nil)
        #expect(same(tok.decode(plain), kind == "qwen2" ? corpus.text.precomposedStringWithCanonicalMapping : corpus.text))
        #expect(same(tok.decode(result.special), result.decoded))
    }

    /// The committed fixtures: ids recorded from `tokenizers` by interop.py `fixtures`.
    @Test(arguments: ["legacy", "metaspace", "unk", "duplicateMerge", "ignoreMerges"])
    func fixtureIdsMatchRecordedPythonIds(fixture: String) throws {
        let (json, cases): (String, [SentencePieceFixtures.Case]) = switch fixture {
        case "legacy": (SentencePieceFixtures.legacyJSON, SentencePieceFixtures.legacyCases)
        case "metaspace": (SentencePieceFixtures.metaspaceJSON, SentencePieceFixtures.metaspaceCases)
        case "duplicateMerge": (SentencePieceFixtures.duplicateMergeJSON, SentencePieceFixtures.duplicateMergeCases)
        case "ignoreMerges": (SentencePieceFixtures.ignoreMergesJSON, SentencePieceFixtures.ignoreMergesCases)
        default: (SentencePieceFixtures.unkJSON, SentencePieceFixtures.unkCases)
        }
        let tok = try Tokenizer.load(tokenizerJSONData: Data(json.utf8), path: "\(fixture).json")
        #expect(cases.count == SentencePieceFixtures.samples.count)
        for c in cases {
            #expect(tok.encode(c.text, allowSpecial: true) == c.special, "\(c.text.debugDescription)")
            #expect(tok.encode(c.text) == c.plain, "\(c.text.debugDescription)")
            #expect(same(tok.decode(c.special), c.decoded), "\(c.text.debugDescription)")
        }
        // Canonically equivalent spellings stay distinct tokens, as in `tokenizers`.
        if fixture != "unk" {
            #expect(tok.encode("é") != tok.encode("e\u{301}"))
        }
        if fixture == "duplicateMerge" {
            // The later rank of the repeated merge changes some ids.
            #expect(cases.map(\.plain) != SentencePieceFixtures.metaspaceCases.map(\.plain))
        }
        #expect(try tok.tokenizerJSONData() == Data(json.utf8))
    }

    /// The fixtures (unknown token without byte fallback, a repeated merge, ignore_merges with
    /// split words) on the tricky texts, against Python.
    @Test func fixturesMatchPythonOnTrickyTexts() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, text) in [("unk", SentencePieceFixtures.unkJSON), ("duplicateMerge", SentencePieceFixtures.duplicateMergeJSON),
                             ("ignoreMerges", SentencePieceFixtures.ignoreMergesJSON)] {
            let json = dir.appendingPathComponent("\(name).json")
            try Data(text.utf8).write(to: json)
            try trickyTextParity(label: "spm fixture \(name)", tokenizerJSON: json, tokenizer: Tokenizer.load(tokenizerJSON: json), directory: dir)
        }
    }

    @Test func decoderStepsFollowTokenizers() {
        // Facts of `tokenizers`' decoders, checked against its Python package when written:
        // a byte run that is not UTF-8 gives one U+FFFD per token, the parse takes lower case
        // and a "+" sign; the Metaspace decoder drops every "▁" of the first token.
        func decoder(_ steps: [SPDecoderStep]) -> ([String]) -> String { { SentencePieceBPE.decode($0, steps: steps) } }
        let sequence = decoder([.replace("\u{2581}", " "), .byteFallback, .fuse, .strip(" ", start: 1, stop: 0)])
        #expect(same(sequence(["<0x41>", "<0xE4>"]), "\u{FFFD}\u{FFFD}"))
        #expect(same(sequence(["<0xe4>", "<0xb8>", "<0xad>"]), "中"))
        #expect(same(sequence(["<0x+A>"]), "\n"))
        #expect(same(sequence(["<0xE4>", "<0xB8>", "a", "<0xAD>"]), "\u{FFFD}\u{FFFD}a\u{FFFD}"))
        #expect(same(sequence(["<0x20>", "<0x20>"]), " "))
        #expect(same(sequence(["<s>", "\u{2581}a"]), "<s> a"))
        let metaspace = decoder([.metaspace(replacement: "\u{2581}", scheme: .first)])
        #expect(same(metaspace(["\u{2581}\u{2581}a\u{2581}b", "\u{2581}c"]), "ab c"))
        #expect(same(metaspace(["x", "\u{2581}\u{2581}"]), "x  "))
        let never = decoder([.metaspace(replacement: "\u{2581}", scheme: .never)])
        #expect(same(never(["\u{2581}a"]), " a"))
        let stripBoth = decoder([.strip(" ", start: 2, stop: 1)])
        #expect(same(stripBoth(["  ab  "]), "ab "))
    }

    @Test func unsupportedFeaturesAreRefusedByName() throws {
        // Edited through JSONSerialization, whose String keys merge the canonically equivalent
        // tokens "é" and "e" + U+0301 (the loader reads the vocabulary itself for that reason):
        // the merges that make the lost spelling go too, so the edited files stay consistent.
        func editable(_ json: String) throws -> [String: Any] {
            var doc = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            var model = doc["model"] as! [String: Any]
            let spellings = Set((model["vocab"] as! [String: Any]).keys.map { Array($0.utf8) })
            model["merges"] = (model["merges"] as! [[String]]).filter { pair in
                [pair[0], pair[1], pair[0] + pair[1]].allSatisfy { spellings.contains(Array($0.utf8)) }
            }
            doc["model"] = model
            return doc
        }
        let good = try editable(SentencePieceFixtures.legacyJSON)
        let metaspace = try editable(SentencePieceFixtures.metaspaceJSON)
        // The edited fixtures load.
        #expect(throws: Never.self) { try Tokenizer.load(tokenizerJSONData: JSONSerialization.data(withJSONObject: good)) }
        func feature(_ base: [String: Any]? = nil, _ change: (inout [String: Any]) -> Void) -> String {
            var copy = base ?? good
            change(&copy)
            do {
                _ = try Tokenizer.load(tokenizerJSONData: JSONSerialization.data(withJSONObject: copy), path: "llama/tokenizer.json")
                return "loaded"
            } catch TokenizerError.unsupported(let path, let feature) {
                #expect(path == "llama/tokenizer.json")
                return feature
            } catch {
                return "other error: \(error)"
            }
        }
        func model(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { var m = $0["model"] as! [String: Any]; m[key] = value; $0["model"] = m }
        }
        #expect(feature { $0["normalizer"] = ["type": "NFKC"] }.contains("normalizer NFKC"))
        #expect(feature {
            $0["normalizer"] = ["type": "Sequence", "normalizers": [["type": "Prepend", "prepend": "\u{2581}"], ["type": "Lowercase"]]]
        }.contains("normalizer Lowercase"))
        #expect(feature {
            $0["normalizer"] = ["type": "Replace", "pattern": ["Regex": " +"], "content": "\u{2581}"]
        }.contains("Replace with a Regex pattern"))
        #expect(feature {
            $0["normalizer"] = ["type": "Replace", "pattern": ["String": ""], "content": "\u{2581}"]
        }.contains("Replace with an empty pattern"))
        #expect(feature { $0["pre_tokenizer"] = ["type": "Whitespace"] }.contains("pre_tokenizer Whitespace"))
        #expect(feature(metaspace) {
            $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "Metaspace", "replacement": "\u{2581}"]]]
        }.contains("pre_tokenizer Sequence"))
        #expect(feature { $0["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": false] }.contains("pre_tokenizer ByteLevel"))
        #expect(feature(metaspace) {
            $0["pre_tokenizer"] = ["type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "sometimes", "split": false]
        }.contains("prepend_scheme \"sometimes\""))
        #expect(feature(metaspace) {
            $0["pre_tokenizer"] = ["type": "Metaspace", "replacement": "__", "prepend_scheme": "first", "split": false]
        }.contains("replacement"))
        #expect(feature { $0["decoder"] = NSNull() }.contains("decoder null"))
        #expect(feature { $0["decoder"] = ["type": "ByteLevel"] }.contains("decoder ByteLevel"))
        #expect(feature {
            $0["decoder"] = ["type": "Sequence", "decoders": [["type": "ByteFallback"], ["type": "CTC"]]]
        }.contains("decoder CTC"))
        #expect(feature(good, model("dropout", 0.1)).contains("model.dropout"))
        #expect(feature(good, model("continuing_subword_prefix", "##")).contains("continuing_subword_prefix"))
        #expect(feature(good, model("end_of_word_suffix", "</w>")).contains("end_of_word_suffix"))
        #expect(feature(good, model("type", "Unigram")).contains("model type Unigram"))
        #expect(feature {
            var m = $0["model"] as! [String: Any]
            var v = m["vocab"] as! [String: Any]
            v["<0x41>x"] = v["<0x41>"]
            v["<0x41>"] = nil
            m["vocab"] = v
            $0["model"] = m
        }.contains("<0x41>"))
        #expect(feature {
            var a = $0["added_tokens"] as! [[String: Any]]
            a[1]["normalized"] = true
            $0["added_tokens"] = a
        }.contains("normalized = true"))
        #expect(feature {
            var a = $0["added_tokens"] as! [[String: Any]]
            a[1]["rstrip"] = true
            $0["added_tokens"] = a
        }.contains("rstrip"))
        // A normalized added token is fine where there is no normalizer to change it.
        #expect(feature(metaspace) {
            var a = $0["added_tokens"] as! [[String: Any]]
            a[1]["normalized"] = true
            $0["added_tokens"] = a
        } == "loaded")
    }
}
