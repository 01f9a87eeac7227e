// tokenizer.json: saving and loading, both directions against the Python `tokenizers` package,
// and clear errors for corrupt or unsupported files.

import Foundation
import PonderCore
import Testing
import Tokenization

struct InteropError: Error, CustomStringConvertible {
    var description: String
}

/// Runs Tests/TokenizationTests/interop.py; returns its stdout, or throws (failing the test).
func python(_ arguments: [String]) throws -> Data {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("interop.py")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path] + arguments
    let stdout = Pipe(), stderr = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    if process.terminationStatus == 3 {
        throw InteropError(description: "the Python package `tokenizers` is missing: run `make deps` (it pip-installs numpy, safetensors, tokenizers)")
    } else if process.terminationStatus != 0 {
        throw InteropError(description: "interop.py \(arguments.first ?? "") failed: \(String(decoding: err, as: UTF8.self))")
    }
    return out
}

func firstDifference(_ a: [Int32], _ b: [Int32]) -> Int? {
    (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? (a.count == b.count ? nil : min(a.count, b.count))
}

struct PythonEncoding: Decodable {
    var special: [Int32]
    var plain: [Int32]
    var decoded: String
    var decodedPlain: String

    enum CodingKeys: String, CodingKey {
        case special, plain, decoded
        case decodedPlain = "decoded_plain"
    }
}

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-tok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// The interop test text: the varied text plus seeded random Unicode.
private func interopText() -> String {
    var rng = RNG(seed: 5)
    var parts = [Fixtures.variedText]
    for _ in 0..<40 { parts.append(Fixtures.randomText(&rng, length: 80)) }
    parts.append(SyntheticCorpus.documents(bytes: 5_000, seed: 1).joined(separator: "\n"))
    // Adversarial mix: apostrophes before case variants, long s, odd whitespace and controls,
    // combining marks, titlecase and modifier letters, zero-width and compatibility characters.
    let tricky = ["'", "'", "s", "S", "t", "R", "e", "E", "v", "m", "l", "L", "d", "ſ", " ", " ", "\n", "\r",
                  "\r\n", "\t", "1", "2", "a", "é", "中", "😀", ".", "!", "\u{A0}", "\u{3000}", "\u{85}",
                  "\u{2028}", "-", "٣", "½", "\u{301}", "ǅ", "ʰ", "\u{B}", "\u{1C}", "\u{0}", "<", "|", "Ⅻ",
                  "\u{200B}", "\u{FEFF}", "ﬆ", "\u{212A}"]
    parts.append((0..<4000).map { _ in tricky[Int(rng.next() % UInt64(tricky.count))] }.joined())
    return parts.joined(separator: "\n")
}

@Suite struct TokenizerJSONTests {
    @Test func pythonReproducesPonderIds() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tok = Fixtures.tokenizer
        let json = dir.appendingPathComponent("tokenizer.json")
        try tok.save(tokenizerJSON: json)
        let text = interopText()
        let textFile = dir.appendingPathComponent("text.txt")
        try Data(text.utf8).write(to: textFile)
        let result = try JSONDecoder().decode(PythonEncoding.self, from: python(["encode", json.path, textFile.path]))
        let plain = tok.encode(text)
        let special = tok.encode(text, allowSpecial: true)
        #expect(result.plain == plain)
        #expect(result.special == special)
        #expect(result.decoded == text)
        if result.plain != plain, let i = firstDifference(result.plain, plain) {
            Issue.record("first difference at token \(i): python \(tok.decode(result.plain[i..<min(i + 5, result.plain.count)]).debugDescription) ponder \(tok.decode(plain[i..<min(i + 5, plain.count)]).debugDescription)")
        }
    }

    @Test(arguments: ["qwen2", "llama3", "gpt2"])
    func ponderReproducesPythonIds(kind: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpusFile = dir.appendingPathComponent("corpus.txt")
        var corpus = SyntheticCorpus.documents(bytes: 100_000, seed: 21).joined(separator: "\n")
        corpus += "\n" + Fixtures.variedText
        try Data(corpus.utf8).write(to: corpusFile)
        let json = dir.appendingPathComponent("tokenizer.json")
        _ = try python(["train", kind, corpusFile.path, "900", json.path])
        let tok = try Tokenizer.load(tokenizerJSON: json)
        let text = interopText()
        let textFile = dir.appendingPathComponent("text.txt")
        try Data(text.utf8).write(to: textFile)
        let result = try JSONDecoder().decode(PythonEncoding.self, from: python(["encode", json.path, textFile.path]))
        let plain = tok.encode(text)
        #expect(result.plain == plain)
        #expect(result.special == tok.encode(text, allowSpecial: true))
        #expect(tok.decode(plain) == (kind == "qwen2" ? text.precomposedStringWithCanonicalMapping : text))
        if result.plain != plain, let i = firstDifference(result.plain, plain) {
            Issue.record("\(kind): first difference at token \(i): python \(tok.decode(result.plain[i..<min(i + 5, result.plain.count)]).debugDescription) ponder \(tok.decode(plain[i..<min(i + 5, plain.count)]).debugDescription)")
        }
        // Saving the loaded tokenizer and loading it again changes nothing.
        let again = try Tokenizer.load(tokenizerJSONData: tok.tokenizerJSONData())
        #expect(again.encode(text) == plain)
    }

    @Test func saveLoadRoundTripKeepsIdsAndSpecials() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Fixtures.tokenizer.save(checkpointDirectory: dir)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("tokenizer.json").path))
        let loaded = try Tokenizer.load(checkpointDirectory: dir)
        #expect(loaded.vocabSize == Fixtures.tokenizer.vocabSize)
        #expect(loaded.encode(Fixtures.variedText, allowSpecial: true) == Fixtures.tokenizer.encode(Fixtures.variedText, allowSpecial: true))
        for s in SpecialToken.allCases { #expect(loaded.id(of: s) == Fixtures.tokenizer.id(of: s)) }
        #expect(loaded.hasChatTokens)
    }

    @Test func readsOlderAndRicherFileLayouts() throws {
        // GPT-2-era merges as "a b" strings, a Llama 3 style post-processor (ignored: encode never
        // adds BOS), a normalizer Sequence, empty subword affixes, and a non-special added token.
        let tok = Fixtures.tokenizer
        var json = try JSONSerialization.jsonObject(with: tok.tokenizerJSONData()) as! [String: Any]
        var model = json["model"] as! [String: Any]
        model["merges"] = (model["merges"] as! [[String]]).map { $0.joined(separator: " ") }
        model["continuing_subword_prefix"] = ""
        model["end_of_word_suffix"] = ""
        json["model"] = model
        json["post_processor"] = ["type": "TemplateProcessing", "single": [["SpecialToken": ["id": "<|endoftext|>", "type_id": 0]]]]
        json["normalizer"] = ["type": "Sequence", "normalizers": [] as [Any]]
        var added = json["added_tokens"] as! [[String: Any]]
        added.append(["id": tok.vocabSize, "content": "<tool>", "special": false, "lstrip": false, "rstrip": false, "single_word": false, "normalized": false])
        json["added_tokens"] = added
        let loaded = try Tokenizer.load(tokenizerJSONData: JSONSerialization.data(withJSONObject: json))
        let text = Fixtures.variedText
        #expect(loaded.encode(text) == tok.encode(text))
        #expect(loaded.vocabSize == tok.vocabSize + 1)
        // A non-special added token is always atomic, as in `tokenizers`.
        #expect(loaded.encode("a<tool>b") == tok.encode("a") + [Int32(tok.vocabSize)] + tok.encode("b"))
        #expect(loaded.decode(loaded.encode("a<tool>b")) == "a<tool>b")
    }

    @Test func corruptFilesAreClearErrors() throws {
        func error(_ json: String) -> TokenizerError? {
            do {
                _ = try Tokenizer.load(tokenizerJSONData: Data(json.utf8), path: "ckpt/tokenizer.json")
                return nil
            } catch let e as TokenizerError {
                return e
            } catch {
                return nil
            }
        }
        let notJSON = error("{\"model\": ")
        #expect(notJSON?.description.hasPrefix("ckpt/tokenizer.json: corrupt tokenizer.json: not valid JSON") == true)
        #expect(error("[1, 2]")?.description.contains("not a JSON object") == true)
        #expect(error("{}")?.description.contains("missing object \"model\"") == true)

        // A valid file, then one feature at a time made unsupported.
        let good = try JSONSerialization.jsonObject(with: Fixtures.tokenizer.tokenizerJSONData()) as! [String: Any]
        func mutated(_ change: (inout [String: Any]) -> Void) throws -> String {
            var copy = good
            change(&copy)
            return String(decoding: try JSONSerialization.data(withJSONObject: copy), as: UTF8.self)
        }
        func feature(_ change: (inout [String: Any]) -> Void) throws -> String {
            guard case .unsupported(_, let feature)? = error(try mutated(change)) else { return "no unsupported error" }
            return feature
        }
        #expect(try feature { $0["model"] = ["type": "WordPiece"] }.contains("model type WordPiece"))
        #expect(try feature { $0["normalizer"] = ["type": "Lowercase"] }.contains("normalizer Lowercase"))
        #expect(try feature { $0["decoder"] = ["type": "Metaspace"] }.contains("decoder Metaspace"))
        #expect(try feature { $0["pre_tokenizer"] = ["type": "Whitespace"] }.contains("pre_tokenizer Whitespace"))
        #expect(try feature {
            $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": "\\d+"], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false]]]
        }.contains("Split regex \\d+"))
        #expect(try feature { var m = $0["model"] as! [String: Any]; m["byte_fallback"] = true; $0["model"] = m }.contains("byte_fallback"))
        #expect(try feature {
            // Without the added tokens, whose ids would lie past this two-token vocabulary.
            var m = $0["model"] as! [String: Any]; m["vocab"] = ["a": 0, "▁b": 1]; $0["model"] = m; $0["added_tokens"] = []
        }.contains("byte-level alphabet"))
        #expect(try feature {
            var added = $0["added_tokens"] as! [[String: Any]]; added[0]["lstrip"] = true; $0["added_tokens"] = added
        }.contains("lstrip"))
        let badMerge = error(try mutated { var m = $0["model"] as! [String: Any]; m["merges"] = [["zzz", "q"]]; $0["model"] = m })
        #expect(badMerge?.description.contains("model.merges[0]") == true)

        // Ids past the file's tokens (fuzzer finds: an added token's id of 2^31 trapped in the
        // conversion to Int32; a vocabulary id of 10^9 sized the id tables at 10^9 entries).
        let farAdded = error(try mutated { var a = $0["added_tokens"] as! [[String: Any]]; a[0]["id"] = 2_147_483_648; $0["added_tokens"] = a })
        #expect(farAdded?.description.contains("added_tokens[0].id (") == true)
        #expect(farAdded?.description.contains("is id 2147483648, but ids must be below \(Fixtures.tokenizer.vocabSize)") == true)
        let farVocab = error(try mutated {
            var m = $0["model"] as! [String: Any]; var v = m["vocab"] as! [String: Any]; v["a"] = 1_000_000_000; m["vocab"] = v; $0["model"] = m
        })
        #expect(farVocab?.description.contains("model.vocab[\"a\"] is id 1000000000, but ids must be below") == true)
        #expect(error(try mutated { $0["added_tokens"] = ["id": 1] })?.description.contains("added_tokens is not an array") == true)
        // The parser names no position for a number out of Double's range; the loader finds it.
        #expect(error("{\"model\": 1e999}")?.description.contains("1e999 is not representable in Swift. (byte 10)") == true)
    }

    /// A tokenizer.json copied from another model gives ids the model cannot embed (the loader
    /// fuzz tests found it: the embedding lookup read past its table). Its checkpoint's
    /// config.json says how many the model has.
    @Test func checkpointTokenizerMustFitTheModelsVocabulary() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tok = Fixtures.tokenizer
        try tok.save(checkpointDirectory: dir)
        let config = dir.appendingPathComponent("config.json")
        try Data(#"{"vocab_size": \#(tok.vocabSize)}"#.utf8).write(to: config)
        #expect(try Tokenizer.load(checkpointDirectory: dir).vocabSize == tok.vocabSize)
        try Data(#"{"vocab_size": 300}"#.utf8).write(to: config)
        do {
            _ = try Tokenizer.load(checkpointDirectory: dir)
            Issue.record("loaded a tokenizer larger than its model")
        } catch {
            #expect("\(error)" == "\(dir.appendingPathComponent("tokenizer.json").path): corrupt tokenizer.json: it has \(tok.vocabSize) token ids, but the model of \(config.path) embeds vocab_size 300 (a tokenizer.json from another model?)")
        }
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: TokenizerError.self) { try Tokenizer.load(tokenizerJSON: URL(fileURLWithPath: "/nonexistent/tokenizer.json")) }
    }
}
