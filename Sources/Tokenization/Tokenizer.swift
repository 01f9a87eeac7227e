// Tokenizer: byte-level BPE encode and decode (GPT-2 style, as in Hugging Face `tokenizers`).
// A tokenizer loaded from a SentencePiece-style file (Llama 2, Mistral) hands encode and decode
// to its SentencePieceBPE (SentencePieceBPE.swift) and keeps the byte-level path below untouched.
//
// Pipeline of `encode`: split out added tokens (the special tokens only when `allowSpecial`),
// optionally NFC-normalise the rest (Qwen2 files ask for it), cut it into pieces with the
// PreTokenizer, and run BPE inside each piece: start from one token per byte and repeatedly merge
// the adjacent pair of lowest merge rank, leftmost first on ties (the order `tokenizers` uses),
// until no adjacent pair has a merge. Results per piece are cached.
//
// Not here: training (BPETrainer.swift), tokenizer.json (TokenizerJSON.swift), chat rendering
// (ChatFormat.swift). Token ids are Int32 because the model consumes Int32 ids.

import Foundation

public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The requested vocabulary cannot hold the 256 byte tokens and the special tokens.
    case vocabularyTooSmall(requested: Int, minimum: Int)
    /// A tokenizer.json that is not valid JSON or lacks a required field.
    case corrupt(path: String, reason: String)
    /// A tokenizer.json feature Ponder does not implement; `feature` names it.
    case unsupported(path: String, feature: String)
    /// Reading or writing a file failed.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .vocabularyTooSmall(let requested, let minimum):
            return "vocabulary size \(requested) is too small: a byte-level BPE tokenizer needs at least \(minimum) tokens (256 bytes + \(SpecialToken.allCases.count) special tokens)"
        case .corrupt(let path, let reason):
            return "\(path): corrupt tokenizer.json: \(reason)"
        case .unsupported(let path, let feature):
            return "\(path): unsupported tokenizer.json feature: \(feature)"
        case .io(let path, let reason):
            return "\(path): \(reason)"
        }
    }
}

/// A token whose text is matched before pre-tokenization and never split (tokenizer.json's
/// `added_tokens`). Ponder's own are exactly the `SpecialToken`s.
struct AddedToken: Sendable, Equatable {
    var id: Int32
    var content: String
    /// Special tokens are recognised only with `allowSpecial`; others always.
    var special: Bool
}

/// A learned merge: `left` followed by `right` becomes `result`. Its rank is its index.
struct Merge: Sendable, Equatable {
    var left: Int32
    var right: Int32
    var result: Int32
}

enum Normalizer: Sendable, Equatable {
    case none, nfc
}

public struct Tokenizer: Sendable {
    /// Bytes of every token, concatenated; token `i` is `tokenArena[tokenOffsets[i] ..< tokenOffsets[i + 1]]`.
    /// Added tokens hold their UTF-8 text.
    let tokenArena: [UInt8]
    let tokenOffsets: [Int32]
    /// Token id of each single byte.
    let byteToID: [Int32]
    /// Merges in rank order.
    let merges: [Merge]
    /// (left << 32 | right) -> (rank << 32 | result).
    let mergeTable: [UInt64: UInt64]
    let added: [AddedToken]
    /// For each byte, the indices into `added` of tokens starting with it, longest first.
    let addedByFirstByte: [[Int]]
    /// Whether some added token is not special (and so is matched even without `allowSpecial`).
    let hasOrdinaryAdded: Bool
    let preTokenizer: PreTokenizer
    let normalizer: Normalizer
    /// tokenizer.json `ignore_merges` (Llama 3): a piece that is itself a token is not merged.
    let ignoreMerges: Bool
    let wholePieceIDs: [[UInt8]: Int32]
    /// `SpecialToken.allCases[i]` -> id, or -1 when this tokenizer lacks it (a foreign checkpoint).
    let specialIDs: [Int32]
    let specialByID: [Int32: SpecialToken]
    /// The SentencePiece-style model, for a tokenizer loaded from such a file; nil for byte-level
    /// BPE. Then `tokens` are what each token decodes to alone, and `byteToID`, `merges`,
    /// `preTokenizer`, `normalizer` and `ignoreMerges` are unused.
    let sentencePiece: SentencePieceBPE?
    let cache = PieceCache()
    /// The turn format `render` writes: Ponder's own, or a Hub family's (ChatTemplate.swift),
    /// set by `load(checkpointDirectory:)` from the directory's chat template.
    public var chatTemplate: ChatTemplate = .ponder

    init(tokens: [[UInt8]], byteToID: [Int32], merges: [Merge], added: [AddedToken],
         pattern: PreTokenizerPattern, normalizer: Normalizer = .none, ignoreMerges: Bool = false,
         sentencePiece: SentencePieceBPE? = nil) {
        self.sentencePiece = sentencePiece
        var arena: [UInt8] = []
        var offsets: [Int32] = [0]
        for t in tokens {
            arena.append(contentsOf: t)
            offsets.append(Int32(arena.count))
        }
        tokenArena = arena
        tokenOffsets = offsets
        self.byteToID = byteToID
        self.merges = merges
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (rank, m) in merges.enumerated() {
            let key = Self.pairKey(m.left, m.right)
            if table[key] == nil { table[key] = UInt64(rank) << 32 | UInt64(UInt32(m.result)) }
        }
        mergeTable = table
        self.added = added
        var byFirst = [[Int]](repeating: [], count: 256)
        for (i, a) in added.enumerated() where !a.content.isEmpty {
            byFirst[Int(a.content.utf8.first!)].append(i)
        }
        for b in 0..<256 { byFirst[b].sort { added[$0].content.utf8.count > added[$1].content.utf8.count } }
        addedByFirstByte = byFirst
        hasOrdinaryAdded = added.contains { !$0.special }
        preTokenizer = PreTokenizer(pattern: pattern)
        self.normalizer = normalizer
        self.ignoreMerges = ignoreMerges
        var whole: [[UInt8]: Int32] = [:]
        if ignoreMerges {
            let addedIDs = Set(added.map(\.id))
            for id in 0..<tokens.count where !addedIDs.contains(Int32(id)) { whole[tokens[id]] = Int32(id) }
        }
        wholePieceIDs = whole
        var specials = [Int32](repeating: -1, count: SpecialToken.allCases.count)
        var byID: [Int32: SpecialToken] = [:]
        for (i, s) in SpecialToken.allCases.enumerated() {
            if let a = added.first(where: { $0.content == s.rawValue }) {
                specials[i] = a.id
                byID[a.id] = s
            }
        }
        specialIDs = specials
        specialByID = byID
    }

    @inline(__always)
    static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    // MARK: Vocabulary

    /// Number of token ids (largest id + 1), special tokens included.
    public var vocabSize: Int { tokenOffsets.count - 1 }

    /// Id of a special token. Precondition: the tokenizer has it (every Ponder-trained one does;
    /// use `specialID(_:)` for a loaded foreign tokenizer).
    public func id(of special: SpecialToken) -> Int32 {
        let id = specialIDs[SpecialToken.allCases.firstIndex(of: special)!]
        precondition(id >= 0, "tokenizer has no special token \(special.rawValue)")
        return id
    }

    /// Id of a special token, or nil when this tokenizer lacks it.
    public func specialID(_ special: SpecialToken) -> Int32? {
        let id = specialIDs[SpecialToken.allCases.firstIndex(of: special)!]
        return id >= 0 ? id : nil
    }

    /// The special token with this id, if it is one.
    public func specialToken(for id: Int32) -> SpecialToken? { specialByID[id] }

    /// Whether the tokenizer has every token the chat format needs.
    public var hasChatTokens: Bool { !specialIDs.contains(-1) }

    /// The bytes of one token (empty for an unknown id).
    public func bytes(of id: Int32) -> ArraySlice<UInt8> {
        guard id >= 0 && Int(id) < vocabSize else { return [] }
        return tokenArena[Int(tokenOffsets[Int(id)])..<Int(tokenOffsets[Int(id) + 1])]
    }

    // MARK: Encode

    /// Token ids of `text`. With `allowSpecial` false (the default), the spelling of a special
    /// token (say a user typing "<|im_end|>") is encoded as ordinary text.
    public func encode(_ text: String, allowSpecial: Bool = false) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(text.utf8.count / 3 + 1)
        var text = text
        text.withUTF8 { encode(bytes: $0, allowSpecial: allowSpecial, into: &out) }
        return out
    }

    /// Ids of `text` as the continuation of earlier text (a chat template's run after one of its
    /// tokens): for a SentencePiece Metaspace "first" tokenizer no "▁" is prepended; otherwise
    /// the same as `encode`.
    func encode(continuing text: String) -> [Int32] { encode(text, midText: false) }

    /// Ids of `text` written inside the text being generated (tool output the engine injects):
    /// no layout prepends "▁" (a legacy SentencePiece tokenizer puts one before every string it
    /// encodes), so the decoded sequence reads exactly as the pieces written one after another.
    public func encode(midText text: String) -> [Int32] { encode(text, midText: true) }

    private func encode(_ text: String, midText: Bool) -> [Int32] {
        var out: [Int32] = []
        var text = text
        text.withUTF8 { bytes in
            if let sentencePiece {
                sentencePiece.encode(bytes, allowSpecial: false, added: added, cache: cache, continuesText: true,
                                     midText: midText, into: &out)
            } else {
                encode(bytes: bytes, allowSpecial: false, into: &out)
            }
        }
        return out
    }

    /// Appends the ids of UTF-8 `bytes` to `out`.
    func encode(bytes: UnsafeBufferPointer<UInt8>, allowSpecial: Bool, into out: inout [Int32]) {
        if let sentencePiece {
            sentencePiece.encode(bytes, allowSpecial: allowSpecial, added: added, cache: cache, into: &out)
            return
        }
        let matchAdded = allowSpecial ? !added.isEmpty : hasOrdinaryAdded
        guard matchAdded else {
            encodeOrdinary(bytes, into: &out)
            return
        }
        var chunkStart = 0
        var i = 0
        while i < bytes.count {
            var matched: AddedToken? = nil
            for a in addedByFirstByte[Int(bytes[i])] where allowSpecial || !added[a].special {
                let content = added[a].content.utf8
                if i + content.count <= bytes.count && content.elementsEqual(UnsafeBufferPointer(rebasing: bytes[i..<(i + content.count)])) {
                    matched = added[a]
                    break
                }
            }
            if let token = matched {
                if chunkStart < i { encodeOrdinary(UnsafeBufferPointer(rebasing: bytes[chunkStart..<i]), into: &out) }
                out.append(token.id)
                i += token.content.utf8.count
                chunkStart = i
            } else {
                i += 1
            }
        }
        if chunkStart < bytes.count { encodeOrdinary(UnsafeBufferPointer(rebasing: bytes[chunkStart...]), into: &out) }
    }

    /// Text with no added tokens: normalise, pre-tokenize, BPE each piece.
    private func encodeOrdinary(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        if normalizer == .nfc && bytes.contains(where: { $0 >= 0x80 }) {
            var normalized = String(decoding: bytes, as: UTF8.self).precomposedStringWithCanonicalMapping
            normalized.withUTF8 { encodePieces($0, into: &out) }
        } else {
            encodePieces(bytes, into: &out)
        }
    }

    private func encodePieces(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        preTokenizer.forEachPiece(in: bytes) { range in
            let piece = UnsafeBufferPointer(rebasing: bytes[range])
            if piece.count == 1 {
                out.append(byteToID[Int(piece[0])])
                return
            }
            let cacheable = piece.count <= PieceCache.maxKeyLength
            let hash = cacheable ? ByteStringTable.hash(piece) : 0
            if cacheable && cache.lookup(piece, hash: hash, into: &out) { return }
            let start = out.count
            bpe(piece, into: &out)
            if cacheable { cache.store(piece, hash: hash, ids: out[start...]) }
        }
    }

    /// BPE on one piece: merge the lowest-ranked adjacent pair (leftmost on ties) until none merges.
    func bpe(_ piece: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        if ignoreMerges, let id = wholePieceIDs[Array(piece)] {
            out.append(id)
            return
        }
        var symbols = piece.map { byteToID[Int($0)] }
        if symbols.count < 2 {
            out.append(contentsOf: symbols)
            return
        }
        // pairs[i]: rank << 32 | result of merging symbols[i], symbols[i + 1]; .max when no merge.
        var pairs = [UInt64](repeating: .max, count: symbols.count - 1)
        for i in 0..<pairs.count {
            pairs[i] = mergeTable[Self.pairKey(symbols[i], symbols[i + 1])] ?? .max
        }
        while true {
            var best = 0
            var bestValue = UInt64.max
            for i in 0..<pairs.count where pairs[i] < bestValue {
                bestValue = pairs[i]
                best = i
            }
            if bestValue == .max { break }
            symbols[best] = Int32(truncatingIfNeeded: bestValue & 0xFFFF_FFFF)
            symbols.remove(at: best + 1)
            pairs.remove(at: best)
            if best > 0 {
                pairs[best - 1] = mergeTable[Self.pairKey(symbols[best - 1], symbols[best])] ?? .max
            }
            if best < pairs.count {
                pairs[best] = mergeTable[Self.pairKey(symbols[best], symbols[best + 1])] ?? .max
            }
        }
        out.append(contentsOf: symbols)
    }

    // MARK: Decode

    /// The bytes of `ids`, concatenated. They need not be valid UTF-8 (a sequence can end inside
    /// a character); `StreamingDecoder` turns such bytes into text safely. Unknown ids give the
    /// replacement character U+FFFD. For a SentencePiece-style tokenizer each token gives what it
    /// decodes to in mid-text ("▁the" is " the", "<0xE4>" the byte E4): the decoder's
    /// start-of-text steps (dropping the first space) are `decode`'s alone.
    public func decodeBytes(_ ids: some Sequence<Int32>, skipSpecial: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids {
            guard id >= 0 && Int(id) < vocabSize else {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                continue
            }
            if skipSpecial && specialByID[id] != nil { continue }
            out.append(contentsOf: tokenArena[Int(tokenOffsets[Int(id)])..<Int(tokenOffsets[Int(id) + 1])])
        }
        return out
    }

    /// The text of `ids`. Invalid or incomplete UTF-8 becomes U+FFFD; never crashes.
    /// `decode(encode(s)) == s` for every string `s` (for NFC-normalising tokenizers, up to NFC).
    /// A SentencePiece-style tokenizer runs its file's decoder and gives the string `tokenizers`
    /// gives (which for some decoders is not the encoded text, for instance "<0x0A>" for a
    /// newline under the Metaspace decoder).
    public func decode(_ ids: some Sequence<Int32>, skipSpecial: Bool = false) -> String {
        if let sentencePiece {
            var spellings: [String] = []
            for id in ids {
                guard id >= 0 && Int(id) < vocabSize else {
                    spellings.append("\u{FFFD}")
                    continue
                }
                if skipSpecial && specialByID[id] != nil { continue }
                spellings.append(sentencePiece.spellings[Int(id)])
            }
            return sentencePiece.decode(spellings)
        }
        return String(decoding: decodeBytes(ids, skipSpecial: skipSpecial), as: UTF8.self)
    }

    /// Empties the per-piece cache (benchmarks measure a cold start with it).
    public func clearCache() { cache.clear() }
}

/// Per-piece BPE results, shared by copies of a Tokenizer and guarded by a lock.
final class PieceCache: @unchecked Sendable {
    static let maxKeyLength = 64
    /// Past this many pieces the cache is emptied and starts again.
    static let maxEntries = 1 << 20

    private let lock = NSLock()
    private var table = ByteStringTable()
    private var valueStart: [Int32] = [0]
    private var values: [Int32] = []

    func lookup(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64, into out: inout [Int32]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let e = table.find(key, hash: hash) else { return false }
        out.append(contentsOf: values[Int(valueStart[e])..<Int(valueStart[e + 1])])
        return true
    }

    func store(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64, ids: ArraySlice<Int32>) {
        lock.lock()
        defer { lock.unlock() }
        if table.count >= Self.maxEntries { clearLocked() }
        let (_, inserted) = table.insert(key, hash: hash)
        guard inserted else { return }
        values.append(contentsOf: ids)
        valueStart.append(Int32(values.count))
    }

    func clear() {
        lock.lock()
        defer { lock.unlock() }
        clearLocked()
    }

    private func clearLocked() {
        table.removeAll()
        valueStart = [0]
        values.removeAll(keepingCapacity: true)
    }
}
