// TokenizerJSON: Hugging Face `tokenizer.json`, both ways, for byte-level BPE; the SentencePiece-
// style BPE of Llama 2 / Mistral files is recognised here and read by SentencePieceJSON.swift.
//
// Saving writes what the Python `tokenizers` package needs to reproduce Ponder's ids exactly:
// model BPE (byte-level vocabulary and merges), the pre-tokenizer as
// Sequence[Split(Qwen2 regex, Isolated), ByteLevel(use_regex: false)], a ByteLevel decoder, and
// the special tokens as `added_tokens` (ids after the vocabulary).
//
// Loading accepts the byte-level BPE files of GPT-2, Llama 3 and Qwen2 style checkpoints:
//   normalizer      null or NFC
//   pre_tokenizer   ByteLevel(use_regex: true) (GPT-2), or Split(known regex) + ByteLevel
//   model           BPE, optionally ignore_merges; no dropout, byte fallback or subword affixes
//   decoder         ByteLevel
// and the SentencePiece-style BPE files of Llama 2, TinyLlama and Mistral checkpoints (byte
// fallback, a Metaspace pre-tokenizer, or none with a Prepend/Replace normalizer; the exact list
// is in SentencePieceJSON.swift's header). Saving such a tokenizer writes back the loaded file.
// Anything else is an error that names the feature, never a silent approximation.
// Not interpreted: post_processor (encode never adds BOS/EOS; the chat format adds its own
// tokens), truncation and padding (callers cut sequences themselves).

import Foundation
import PonderCore

extension Tokenizer {
    /// File name of the tokenizer in a checkpoint directory, beside model.safetensors and config.json.
    public static let checkpointFileName = "tokenizer.json"

    /// Writes `tokenizer.json` into a checkpoint directory (which must exist).
    public func save(checkpointDirectory directory: URL) throws {
        try save(tokenizerJSON: directory.appendingPathComponent(Self.checkpointFileName))
    }

    /// Loads `tokenizer.json` from a checkpoint directory. Its ids must fit the vocabulary of the
    /// directory's config.json (when that reads): a tokenizer with more ids than the model embeds
    /// (one copied from another model) is an error here, not a lookup past the embedding later.
    public static func load(checkpointDirectory directory: URL) throws -> Tokenizer {
        let url = directory.appendingPathComponent(checkpointFileName)
        var tokenizer = try load(tokenizerJSON: url)
        if let template = try ChatTemplate.load(checkpointDirectory: directory) { tokenizer.chatTemplate = template }
        // config.json's own problems are the model loader's to report; only its size matters here.
        let config = directory.appendingPathComponent("config.json")
        if let data = try? Data(contentsOf: config),
           let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
           let modelVocabulary = object["vocab_size"] as? Int, tokenizer.vocabSize > modelVocabulary {
            throw TokenizerError.corrupt(path: url.path, reason: "it has \(tokenizer.vocabSize) token ids, but the model of \(config.path) embeds vocab_size \(modelVocabulary) (a tokenizer.json from another model?)")
        }
        return tokenizer
    }

    // MARK: Save

    /// Writes tokenizer.json atomically (a temporary file renamed over `url`).
    public func save(tokenizerJSON url: URL) throws {
        let data = try tokenizerJSONData()
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw TokenizerError.io(path: url.path, reason: "cannot write tokenizer.json: \(error.localizedDescription)")
        }
    }

    /// The tokenizer.json document (keys sorted, so equal tokenizers give equal bytes). A
    /// SentencePiece-style tokenizer gives back the file it was loaded from, unchanged.
    public func tokenizerJSONData() throws -> Data {
        if let sentencePiece { return sentencePiece.sourceJSON }
        let addedIDs = Set(added.map(\.id))
        var vocab: [String: Int] = [:]
        var spelling = [String](repeating: "", count: vocabSize)
        for id in 0..<vocabSize where !addedIDs.contains(Int32(id)) {
            spelling[id] = ByteLevel.encode(bytes(of: Int32(id)))
            vocab[spelling[id]] = id
        }
        let mergeList: [[String]] = merges.map { [spelling[Int($0.left)], spelling[Int($0.right)]] }
        let addedTokens: [[String: Any]] = added.map {
            ["id": Int($0.id), "content": $0.content, "single_word": false, "lstrip": false,
             "rstrip": false, "normalized": false, "special": $0.special]
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                                        "use_regex": preTokenizer.pattern == .gpt2]
        let preTokenizerJSON: [String: Any]
        switch preTokenizer.pattern {
        case .gpt2:
            preTokenizerJSON = byteLevel
        case .llama3:
            let split: [String: Any] = ["type": "Split", "pattern": ["Regex": preTokenizer.pattern.regex],
                                        "behavior": "Isolated", "invert": false]
            preTokenizerJSON = ["type": "Sequence", "pretokenizers": [split, byteLevel]]
        }
        let model: [String: Any] = [
            "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
            "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false,
            "ignore_merges": ignoreMerges, "vocab": vocab, "merges": mergeList,
        ]
        let root: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": addedTokens,
            "normalizer": normalizer == .nfc ? ["type": "NFC"] as [String: Any] : NSNull(),
            "pre_tokenizer": preTokenizerJSON, "post_processor": NSNull(),
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true] as [String: Any],
            "model": model,
        ]
        return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    // MARK: Load

    /// Loads a byte-level or SentencePiece-style BPE tokenizer.json (see the file header for what
    /// is supported).
    public static func load(tokenizerJSON url: URL) throws -> Tokenizer {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.io(path: url.path, reason: "cannot read tokenizer.json: \(error.localizedDescription)")
        }
        return try load(tokenizerJSONData: data, path: url.path)
    }

    /// Loads tokenizer.json from memory; `path` only labels errors.
    public static func load(tokenizerJSONData data: Data, path: String = "tokenizer.json") throws -> Tokenizer {
        try TokenizerJSONReader(path: path).read(data)
    }
}

struct TokenizerJSONReader {
    let path: String

    func corrupt(_ reason: String) -> TokenizerError { .corrupt(path: path, reason: reason) }
    func unsupported(_ feature: String) -> TokenizerError { .unsupported(path: path, feature: feature) }

    /// `added_tokens`: absent or null is none; anything but a list is a corrupt file.
    func addedTokenList(_ root: [String: Any]) throws -> [Any] {
        switch root["added_tokens"] {
        case nil, is NSNull: return []
        case let list as [Any]: return list
        default: throw corrupt("added_tokens is not an array")
        }
    }

    func read(_ data: Data) throws -> Tokenizer {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw corrupt("not valid JSON (\(jsonParseProblem(error, in: data)))")
        }
        guard let root = object as? [String: Any] else { throw corrupt("the top level is not a JSON object") }
        guard let model = root["model"] as? [String: Any] else { throw corrupt("missing object \"model\"") }
        if let t = model["type"] as? String, t != "BPE" { throw unsupported("model type \(t) (only BPE)") }
        if Self.isSentencePiece(root: root, model: model) {
            return try readSentencePiece(root: root, model: model, data: data)
        }

        let normalizer = try readNormalizer(root["normalizer"])
        let pattern = try readPreTokenizer(root["pre_tokenizer"])
        try checkDecoder(root["decoder"])
        let ignoreMerges = try readModelOptions(model)

        // Vocabulary: token spellings in the byte-level alphabet.
        guard let vocabJSON = model["vocab"] as? [String: Any] else { throw corrupt("missing object \"model.vocab\"") }
        let addedJSON = try addedTokenList(root)
        // Ids are dense: n tokens (vocab and added together, an added token may repeat a vocab
        // entry) have ids below n. A larger id is a corrupt file, and would size the id tables.
        let idLimit = min(vocabJSON.count + addedJSON.count, Int(Int32.max))
        func tokenID(_ value: Any?, at key: String) throws -> Int32 {
            guard let id = value as? Int, id >= 0 else { throw corrupt("\(key) is not a non-negative integer id") }
            guard id < idLimit else {
                throw corrupt("\(key) is id \(id), but ids must be below \(idLimit) (the number of entries in model.vocab and added_tokens)")
            }
            return Int32(id)
        }
        var spellingToID: [String: Int32] = [:]
        spellingToID.reserveCapacity(vocabJSON.count)
        var maxID = -1
        for (spelling, value) in vocabJSON {
            let id = try tokenID(value, at: "model.vocab[\"\(spelling)\"]")
            spellingToID[spelling] = id
            maxID = max(maxID, Int(id))
        }
        var added: [AddedToken] = []
        for (i, entry) in addedJSON.enumerated() {
            guard let token = entry as? [String: Any], let content = token["content"] as? String else {
                throw corrupt("added_tokens[\(i)] needs an integer \"id\" and a string \"content\"")
            }
            let id = try tokenID(token["id"], at: "added_tokens[\(i)].id (\(content))")
            for flag in ["lstrip", "rstrip", "single_word"] where (token[flag] as? Bool) == true {
                throw unsupported("added_tokens[\(i)] (\(content)) has \(flag) = true")
            }
            added.append(AddedToken(id: id, content: content, special: (token["special"] as? Bool) ?? false))
            maxID = max(maxID, Int(id))
        }
        var tokens = [[UInt8]](repeating: [], count: maxID + 1)
        var seen = [Bool](repeating: false, count: maxID + 1)
        for (spelling, id) in spellingToID {
            guard !seen[Int(id)] else { throw corrupt("model.vocab gives id \(id) to two tokens") }
            seen[Int(id)] = true
            guard let bytes = ByteLevel.decode(spelling) else {
                throw unsupported("model.vocab token \"\(spelling)\" is outside the byte-level alphabet (not a byte-level BPE vocabulary)")
            }
            tokens[Int(id)] = bytes
        }
        for a in added { tokens[Int(a.id)] = Array(a.content.utf8) }

        var byteToID = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            let spelling = ByteLevel.encode([UInt8(b)])
            guard let id = spellingToID[spelling] else {
                throw unsupported("model.vocab lacks the token for byte 0x\(String(b, radix: 16)) (\"\(spelling)\"); unknown-token and byte-fallback vocabularies are not supported")
            }
            byteToID[b] = id
        }

        guard let mergesJSON = model["merges"] as? [Any] else { throw corrupt("missing array \"model.merges\"") }
        var merges: [Merge] = []
        merges.reserveCapacity(mergesJSON.count)
        for (rank, entry) in mergesJSON.enumerated() {
            let pair = try mergePair(entry, rank: rank)
            guard let left = spellingToID[pair[0]], let right = spellingToID[pair[1]],
                  let result = spellingToID[pair[0] + pair[1]] else {
                throw corrupt("model.merges[\(rank)] (\(pair[0]) \(pair[1])) uses or makes a token missing from model.vocab")
            }
            merges.append(Merge(left: left, right: right, result: result))
        }
        return Tokenizer(tokens: tokens, byteToID: byteToID, merges: merges, added: added,
                         pattern: pattern, normalizer: normalizer, ignoreMerges: ignoreMerges)
    }

    private func type(of object: [String: Any], at key: String) throws -> String {
        guard let t = object["type"] as? String else { throw corrupt("\(key) has no \"type\"") }
        return t
    }

    func readNormalizer(_ value: Any?) throws -> Normalizer {
        guard let value, !(value is NSNull) else { return .none }
        guard let object = value as? [String: Any] else { throw corrupt("normalizer is not an object") }
        switch try type(of: object, at: "normalizer") {
        case "NFC": return .nfc
        case "Sequence":
            let parts = (object["normalizers"] as? [Any]) ?? []
            var result = Normalizer.none
            for part in parts where try readNormalizer(part) == .nfc { result = .nfc }
            return result
        case let other:
            throw unsupported("normalizer \(other) (only NFC is supported)")
        }
    }

    func readPreTokenizer(_ value: Any?) throws -> PreTokenizerPattern {
        guard let object = value as? [String: Any] else {
            throw unsupported("pre_tokenizer null or missing (byte-level BPE needs a ByteLevel pre-tokenizer)")
        }
        switch try type(of: object, at: "pre_tokenizer") {
        case "ByteLevel":
            try checkByteLevel(object, at: "pre_tokenizer")
            guard (object["use_regex"] as? Bool) ?? true else {
                throw unsupported("pre_tokenizer ByteLevel with use_regex = false and no Split before it")
            }
            return .gpt2
        case "Sequence":
            let parts = (object["pretokenizers"] as? [[String: Any]]) ?? []
            var pattern: PreTokenizerPattern? = nil
            var sawByteLevel = false
            for (i, part) in parts.enumerated() {
                let key = "pre_tokenizer.pretokenizers[\(i)]"
                switch try type(of: part, at: key) {
                case "Split":
                    guard pattern == nil, !sawByteLevel else { throw unsupported("\(key): more than one Split, or a Split after ByteLevel") }
                    pattern = try readSplit(part, at: key)
                case "ByteLevel":
                    try checkByteLevel(part, at: key)
                    sawByteLevel = true
                    if (part["use_regex"] as? Bool) ?? true {
                        guard pattern == nil else { throw unsupported("\(key): ByteLevel with use_regex = true after a Split") }
                        pattern = .gpt2
                    }
                case let other:
                    throw unsupported("\(key): pre-tokenizer \(other)")
                }
            }
            guard sawByteLevel, let pattern else {
                throw unsupported("pre_tokenizer Sequence without a ByteLevel step and a known split")
            }
            return pattern
        case let other:
            throw unsupported("pre_tokenizer \(other)")
        }
    }

    func readSplit(_ split: [String: Any], at key: String) throws -> PreTokenizerPattern {
        guard let patternObject = split["pattern"] as? [String: Any], let regex = patternObject["Regex"] as? String else {
            throw unsupported("\(key): Split without a Regex pattern")
        }
        guard (split["behavior"] as? String) == "Isolated" else {
            throw unsupported("\(key): Split behavior \(split["behavior"] ?? "missing") (only Isolated)")
        }
        guard (split["invert"] as? Bool) != true else { throw unsupported("\(key): Split with invert = true") }
        guard let pattern = PreTokenizerPattern(regex: regex) else {
            throw unsupported("\(key): Split regex \(regex) (known: the GPT-2, Llama 3 and Qwen2 patterns)")
        }
        return pattern
    }

    func checkByteLevel(_ object: [String: Any], at key: String) throws {
        if (object["add_prefix_space"] as? Bool) == true {
            throw unsupported("\(key): ByteLevel add_prefix_space = true")
        }
    }

    func checkDecoder(_ value: Any?) throws {
        guard let object = value as? [String: Any] else { throw unsupported("decoder null or missing (expected ByteLevel)") }
        let t = try type(of: object, at: "decoder")
        guard t == "ByteLevel" else { throw unsupported("decoder \(t) (only ByteLevel)") }
    }

    /// Checks the BPE options; returns `ignore_merges`.
    func readModelOptions(_ model: [String: Any]) throws -> Bool {
        if let t = model["type"] as? String, t != "BPE" { throw unsupported("model type \(t) (only BPE)") }
        if let dropout = model["dropout"] as? NSNumber, dropout.doubleValue != 0 { throw unsupported("model.dropout = \(dropout)") }
        if (model["byte_fallback"] as? Bool) == true { throw unsupported("model.byte_fallback = true (SentencePiece-style BPE)") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[key] as? String, !s.isEmpty { throw unsupported("model.\(key) = \"\(s)\"") }
        }
        return (model["ignore_merges"] as? Bool) ?? false
    }
}
