// SentencePieceJSON: loading the SentencePiece-style BPE tokenizer.json of Llama 2, TinyLlama
// and Mistral checkpoints (the model itself: SentencePieceBPE.swift).
//
// Accepted, in the two layouts such files come in:
//   normalizer      null, or Prepend / Replace(String pattern) steps, alone or in a Sequence
//                   (the older layout: Sequence[Prepend("▁"), Replace(" ", "▁")])
//   pre_tokenizer   null (older layout) or Metaspace (newer: prepend_scheme first / always /
//                   never, or the legacy add_prefix_space; split true or false)
//   model           BPE with byte_fallback (all 256 <0xXX> tokens present) or an unk_token,
//                   fuse_unk, ignore_merges; merges as "a b" strings or ["a", "b"] pairs
//   decoder         Metaspace, or a Sequence of Replace(String pattern), ByteFallback, Fuse,
//                   Strip, Metaspace (the older layout: Replace("▁", " "), ByteFallback, Fuse,
//                   Strip(" ", 1, 0))
//   added_tokens    as for byte-level files; normalized = true only where the normalizer leaves
//                   the token's text unchanged (otherwise `tokenizers` matches the normalised
//                   text and decodes it oddly)
// Anything else is refused with the feature named. The vocabulary is read from the file's bytes
// (not through JSONSerialization, whose String keys merge canonically equivalent tokens such as
// "é" and "e" + U+0301, which are distinct tokens to `tokenizers`).

import Foundation

extension TokenizerJSONReader {
    /// Whether `root` is a SentencePiece-style file (byte fallback, a Metaspace pre-tokenizer, or
    /// no pre-tokenizer with a non-byte-level decoder) rather than a byte-level one.
    static func isSentencePiece(root: [String: Any], model: [String: Any]) -> Bool {
        if (model["byte_fallback"] as? Bool) == true { return true }
        let preTokenizer = root["pre_tokenizer"] as? [String: Any]
        if (preTokenizer?["type"] as? String) == "Metaspace" { return true }
        let decoderType = (root["decoder"] as? [String: Any])?["type"] as? String
        return preTokenizer == nil && decoderType != nil && decoderType != "ByteLevel"
    }

    func readSentencePiece(root: [String: Any], model: [String: Any], data: Data) throws -> Tokenizer {
        let normalizer = try readSPNormalizer(root["normalizer"], at: "normalizer")
        let metaspace = try readSPPreTokenizer(root["pre_tokenizer"])
        let decoder = try readSPDecoder(root["decoder"], at: "decoder")
        if decoder.isEmpty { throw unsupported("decoder with no steps") }

        // Model options.
        if let dropout = model["dropout"] as? NSNumber, dropout.doubleValue != 0 { throw unsupported("model.dropout = \(dropout)") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[key] as? String, !s.isEmpty { throw unsupported("model.\(key) = \"\(s)\"") }
        }
        let byteFallback = (model["byte_fallback"] as? Bool) ?? false
        let fuseUnk = (model["fuse_unk"] as? Bool) ?? false
        let ignoreMerges = (model["ignore_merges"] as? Bool) ?? false

        // Vocabulary, keyed by exact UTF-8.
        guard model["vocab"] is [String: Any] else { throw corrupt("missing object \"model.vocab\"") }
        var scanner = ExactVocabularyScanner(data: data, path: path)
        guard let vocabEntries = try scanner.vocabulary() else {
            throw corrupt("missing object \"model.vocab\"")
        }
        let addedJSON = try addedTokenList(root)
        let idLimit = min(vocabEntries.count + addedJSON.count, Int(Int32.max))
        func checkID(_ id: Int?, at key: String) throws -> Int32 {
            guard let id, id >= 0 else { throw corrupt("\(key) is not a non-negative integer id") }
            guard id < idLimit else {
                throw corrupt("\(key) is id \(id), but ids must be below \(idLimit) (the number of entries in model.vocab and added_tokens)")
            }
            return Int32(id)
        }
        var idOf: [[UInt8]: Int32] = [:]
        idOf.reserveCapacity(vocabEntries.count)
        var maxID = -1
        for (spelling, value) in vocabEntries {
            let id = try checkID(value, at: "model.vocab[\"\(String(decoding: spelling, as: UTF8.self))\"]")
            idOf[spelling] = id
            maxID = max(maxID, Int(id))
        }
        var added: [AddedToken] = []
        var addedNormalized: [Bool] = []
        for (i, entry) in addedJSON.enumerated() {
            guard let token = entry as? [String: Any], let content = token["content"] as? String else {
                throw corrupt("added_tokens[\(i)] needs an integer \"id\" and a string \"content\"")
            }
            let id = try checkID(token["id"] as? Int, at: "added_tokens[\(i)].id (\(content))")
            for flag in ["lstrip", "rstrip", "single_word"] where (token[flag] as? Bool) == true {
                throw unsupported("added_tokens[\(i)] (\(content)) has \(flag) = true")
            }
            let special = (token["special"] as? Bool) ?? false
            // `tokenizers`' default: normalized unless special.
            let normalized = (token["normalized"] as? Bool) ?? !special
            if normalized && !content.isEmpty && !normalizer.isEmpty {
                var probe = SentencePieceBPE.normalizeSteps(content, normalizer)
                if !probe.utf8.elementsEqual(content.utf8) {
                    probe = probe.replacingOccurrences(of: "\n", with: "\\n")
                    throw unsupported("added_tokens[\(i)] (\(content)) has normalized = true and the normalizer turns it into \"\(probe)\" (set normalized to false)")
                }
            }
            added.append(AddedToken(id: id, content: content, special: special))
            addedNormalized.append(normalized)
            maxID = max(maxID, Int(id))
        }

        var spellings = [String](repeating: "", count: maxID + 1)
        var seen = [Bool](repeating: false, count: maxID + 1)
        var scalarIDs: [UInt32: Int32] = [:]
        for (spelling, id) in idOf {
            guard !seen[Int(id)] else { throw corrupt("model.vocab gives id \(id) to two tokens") }
            seen[Int(id)] = true
            let text = String(decoding: spelling, as: UTF8.self)
            spellings[Int(id)] = text
            let scalars = text.unicodeScalars
            if scalars.count == 1 { scalarIDs[scalars.first!.value] = id }
        }
        for a in added { spellings[Int(a.id)] = a.content }

        var byteIDs: [Int32]? = nil
        if byteFallback {
            var ids = [Int32](repeating: -1, count: 256)
            for b in 0..<256 {
                let spelling = "<0x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true) + ">"
                guard let id = idOf[Array(spelling.utf8)] else {
                    throw unsupported("model.byte_fallback = true but model.vocab lacks the byte token \(spelling) (a partial byte fallback)")
                }
                ids[b] = id
            }
            byteIDs = ids
        }
        var unkID: Int32? = nil
        if let unk = model["unk_token"] as? String {
            guard let id = idOf[Array(unk.utf8)] else {
                throw corrupt("model.unk_token \"\(unk)\" is not in model.vocab")
            }
            unkID = id
        } else if let unk = model["unk_token"], !(unk is NSNull) {
            throw corrupt("model.unk_token is neither a string nor null")
        }

        guard let mergesJSON = model["merges"] as? [Any] else { throw corrupt("missing array \"model.merges\"") }
        var mergeTable: [UInt64: UInt64] = [:]
        mergeTable.reserveCapacity(mergesJSON.count)
        for (rank, entry) in mergesJSON.enumerated() {
            let pair = try mergePair(entry, rank: rank)
            let l = Array(pair[0].utf8), r = Array(pair[1].utf8)
            guard let left = idOf[l], let right = idOf[r], let result = idOf[l + r] else {
                throw corrupt("model.merges[\(rank)] (\(pair[0]) \(pair[1])) uses or makes a token missing from model.vocab")
            }
            // A pair listed twice takes its later rank, as in `tokenizers`.
            mergeTable[Tokenizer.pairKey(left, right)] = UInt64(rank) << 32 | UInt64(UInt32(result))
        }

        var rawByFirst = [[Int]](repeating: [], count: 256)
        var normalizedByFirst = [[Int]](repeating: [], count: 256)
        for (i, a) in added.enumerated() where !a.content.isEmpty {
            let first = Int(a.content.utf8.first!)
            if addedNormalized[i] { normalizedByFirst[first].append(i) } else { rawByFirst[first].append(i) }
        }
        for b in 0..<256 {
            rawByFirst[b].sort { added[$0].content.utf8.count > added[$1].content.utf8.count }
            normalizedByFirst[b].sort { added[$0].content.utf8.count > added[$1].content.utf8.count }
        }
        var wholeWordIDs: [[UInt8]: Int32]? = nil
        if ignoreMerges {
            let addedIDs = Set(added.map(\.id))
            wholeWordIDs = idOf.filter { !addedIDs.contains($0.value) }
        }

        let sentencePiece = SentencePieceBPE(
            spellings: spellings, scalarIDs: scalarIDs, byteIDs: byteIDs, unkID: unkID, fuseUnk: fuseUnk,
            mergeTable: mergeTable, wholeWordIDs: wholeWordIDs, normalizer: normalizer, metaspace: metaspace,
            decoder: decoder, rawAddedByFirstByte: rawByFirst, normalizedAddedByFirstByte: normalizedByFirst,
            sourceJSON: data)
        let tokens = spellings.map { sentencePiece.tokenBytes($0) }
        return Tokenizer(tokens: tokens, byteToID: byteIDs ?? [Int32](repeating: -1, count: 256), merges: [],
                         added: added, pattern: .ponder, sentencePiece: sentencePiece)
    }

    /// A merge as "a b" or ["a", "b"].
    func mergePair(_ entry: Any, rank: Int) throws -> [String] {
        let pair: [String]
        if let s = entry as? String {
            pair = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        } else if let a = entry as? [String] {
            pair = a
        } else {
            throw corrupt("model.merges[\(rank)] is neither \"a b\" nor [\"a\", \"b\"]")
        }
        guard pair.count == 2 else { throw corrupt("model.merges[\(rank)] does not have exactly two parts") }
        return pair
    }

    private func object(_ value: Any?, at key: String) throws -> [String: Any] {
        guard let object = value as? [String: Any] else { throw corrupt("\(key) is not an object") }
        guard object["type"] is String else { throw corrupt("\(key) has no \"type\"") }
        return object
    }

    /// A Replace's pattern: only {"String": ...}; a Regex pattern is refused.
    private func stringPattern(_ object: [String: Any], at key: String) throws -> (String, String) {
        guard let pattern = object["pattern"] as? [String: Any] else { throw corrupt("\(key) has no \"pattern\"") }
        if pattern["Regex"] != nil { throw unsupported("\(key): Replace with a Regex pattern (only String patterns)") }
        guard let s = pattern["String"] as? String, let content = object["content"] as? String else {
            throw corrupt("\(key) needs pattern {\"String\": ...} and a string \"content\"")
        }
        if s.isEmpty { throw unsupported("\(key): Replace with an empty pattern") }
        return (s, content)
    }

    func readSPNormalizer(_ value: Any?, at key: String) throws -> [SPNormalizerStep] {
        guard let value, !(value is NSNull) else { return [] }
        let object = try object(value, at: key)
        switch object["type"] as! String {
        case "Prepend":
            guard let p = object["prepend"] as? String else { throw corrupt("\(key) Prepend has no string \"prepend\"") }
            return [.prepend(p)]
        case "Replace":
            let (pattern, content) = try stringPattern(object, at: key)
            return [.replace(pattern, content)]
        case "Sequence":
            guard let parts = object["normalizers"] as? [Any] else { throw corrupt("\(key) Sequence has no array \"normalizers\"") }
            return try parts.enumerated().flatMap { try readSPNormalizer($1, at: "\(key).normalizers[\($0)]") }
        case let other:
            throw unsupported("\(key): normalizer \(other) in a SentencePiece-style file (only Prepend and Replace)")
        }
    }

    func readSPPreTokenizer(_ value: Any?) throws -> Metaspace? {
        guard let value, !(value is NSNull) else { return nil }
        let object = try object(value, at: "pre_tokenizer")
        let type = object["type"] as! String
        guard type == "Metaspace" else {
            throw unsupported("pre_tokenizer \(type) in a SentencePiece-style file (model.byte_fallback = true or a Metaspace layout; only Metaspace or none)")
        }
        let (replacement, scheme) = try metaspaceOptions(object, at: "pre_tokenizer")
        let split = (object["split"] as? Bool) ?? true
        return Metaspace(replacement: String(replacement), scheme: scheme, split: split)
    }

    /// Metaspace's replacement character and prepend scheme (from prepend_scheme, else the
    /// legacy add_prefix_space: true or absent means "always", as `tokenizers` reads it).
    private func metaspaceOptions(_ object: [String: Any], at key: String) throws -> (Unicode.Scalar, PrependScheme) {
        guard let r = object["replacement"] as? String, r.unicodeScalars.count == 1 else {
            throw unsupported("\(key): Metaspace replacement that is not one character")
        }
        let scheme: PrependScheme
        if let s = object["prepend_scheme"] as? String {
            guard let known = PrependScheme(rawValue: s) else { throw unsupported("\(key): Metaspace prepend_scheme \"\(s)\"") }
            scheme = known
        } else if (object["add_prefix_space"] as? Bool) == false {
            throw corrupt("\(key): Metaspace add_prefix_space = false without a prepend_scheme (`tokenizers` refuses it too)")
        } else {
            scheme = .always
        }
        return (r.unicodeScalars.first!, scheme)
    }

    func readSPDecoder(_ value: Any?, at key: String) throws -> [SPDecoderStep] {
        guard let value, !(value is NSNull) else {
            throw unsupported("decoder null or missing in a SentencePiece-style file (expected Metaspace or Sequence[Replace, ByteFallback, Fuse, Strip])")
        }
        let object = try object(value, at: key)
        switch object["type"] as! String {
        case "Replace":
            let (pattern, content) = try stringPattern(object, at: key)
            return [.replace(pattern, content)]
        case "ByteFallback": return [.byteFallback]
        case "Fuse": return [.fuse]
        case "Strip":
            guard let c = object["content"] as? String, c.unicodeScalars.count == 1,
                  let start = object["start"] as? Int, let stop = object["stop"] as? Int, start >= 0, stop >= 0 else {
                throw corrupt("\(key) Strip needs a one-character \"content\" and non-negative \"start\" and \"stop\"")
            }
            return [.strip(c.unicodeScalars.first!, start: start, stop: stop)]
        case "Metaspace":
            let (replacement, scheme) = try metaspaceOptions(object, at: key)
            return [.metaspace(replacement: replacement, scheme: scheme)]
        case "Sequence":
            guard let parts = object["decoders"] as? [Any] else { throw corrupt("\(key) Sequence has no array \"decoders\"") }
            return try parts.enumerated().flatMap { try readSPDecoder($1, at: "\(key).decoders[\($0)]") }
        case let other:
            throw unsupported("\(key): decoder \(other) in a SentencePiece-style file (only Replace, ByteFallback, Fuse, Strip, Metaspace)")
        }
    }
}

/// Reads `model.vocab` of a tokenizer.json straight from its bytes, keeping each key's exact
/// UTF-8. The document has already parsed with JSONSerialization, so it is well-formed JSON.
struct ExactVocabularyScanner {
    let bytes: [UInt8]
    let path: String
    var i = 0

    init(data: Data, path: String) {
        bytes = [UInt8](data)
        self.path = path
    }

    /// The (key, id) entries of model.vocab in file order (id nil when not an integer), or nil
    /// when there is no such object.
    mutating func vocabulary() throws -> [([UInt8], Int?)]? {
        skipSpace()
        guard peek == UInt8(ascii: "{") else { return nil }
        i += 1
        var first = true
        while let key = try nextKey(&first) {
            guard key == Array("model".utf8), peek == UInt8(ascii: "{") else {
                try skipValue()
                continue
            }
            i += 1
            var firstInModel = true
            while let modelKey = try nextKey(&firstInModel) {
                guard modelKey == Array("vocab".utf8), peek == UInt8(ascii: "{") else {
                    try skipValue()
                    continue
                }
                i += 1
                var entries: [([UInt8], Int?)] = []
                var firstInVocab = true
                while let token = try nextKey(&firstInVocab) {
                    let start = i
                    try skipValue()
                    entries.append((token, Int(String(decoding: bytes[start..<i], as: UTF8.self))))
                }
                return entries
            }
            return nil
        }
        return nil
    }

    private var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    private mutating func skipSpace() {
        while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 }
    }

    private func malformed() -> TokenizerError { .corrupt(path: path, reason: "not valid JSON near byte \(i)") }

    /// Inside an object (its "{" consumed): the next member's key, leaving `i` at its value, or
    /// nil after the closing "}".
    private mutating func nextKey(_ first: inout Bool) throws -> [UInt8]? {
        skipSpace()
        if first {
            first = false
            if peek == UInt8(ascii: "}") { i += 1; return nil }
        } else {
            guard let b = peek else { throw malformed() }
            i += 1
            if b == UInt8(ascii: "}") { return nil }
            guard b == UInt8(ascii: ",") else { throw malformed() }
            skipSpace()
        }
        let key = try string()
        skipSpace()
        guard peek == UInt8(ascii: ":") else { throw malformed() }
        i += 1
        skipSpace()
        return key
    }

    /// A JSON string at `i`, decoded to UTF-8 (a lone surrogate becomes U+FFFD).
    private mutating func string() throws -> [UInt8] {
        guard peek == UInt8(ascii: "\"") else { throw malformed() }
        i += 1
        var out: [UInt8] = []
        while let b = peek {
            i += 1
            switch b {
            case UInt8(ascii: "\""):
                return out
            case UInt8(ascii: "\\"):
                guard let e = peek else { throw malformed() }
                i += 1
                switch e {
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if (0xD800..<0xDC00).contains(v), bytes.count >= i + 6, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                        let save = i
                        i += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            i = save
                        }
                    }
                    out.append(contentsOf: String(Unicode.Scalar(v) ?? "\u{FFFD}").utf8)
                default: out.append(e)  // \" \\ \/
                }
            default:
                out.append(b)
            }
        }
        throw malformed()
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else { throw malformed() }
        i += 4
        return v
    }

    private mutating func skipValue() throws {
        guard let b = peek else { throw malformed() }
        switch b {
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while let c = peek {
                if c == UInt8(ascii: "\"") { _ = try string(); continue }
                i += 1
                if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
                if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { return }
                }
            }
            throw malformed()
        default:
            while let c = peek, !(c == UInt8(ascii: ",") || c == UInt8(ascii: "}") || c == UInt8(ascii: "]") || c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09) { i += 1 }
        }
    }
}
