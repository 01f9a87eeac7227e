// SentencePieceBPE: the character-level BPE of Llama 2, TinyLlama and Mistral tokenizer.json
// files, as the Python `tokenizers` package runs it.
//
// Pipeline of `encode`, step by step as `tokenizers` does it (each fact checked against the
// package by experiment):
//   1. Added tokens with normalized = false are cut out of the raw text (leftmost, longest).
//   2. Each remaining segment is normalised on its own: the old layout's Prepend("▁") therefore
//      puts "▁" before every segment, also the one after "<s>".
//   3. Added tokens with normalized = true are cut out of the normalised segments.
//   4. The Metaspace pre-tokenizer, when present, turns " " into "▁" and prepends "▁" to a
//      segment that does not start with it: scheme "always" to every segment, "first" only to
//      the segment that starts the original text (so not to the text after a leading "<s>").
//      With split = true it cuts before every "▁"; otherwise the segment is one word.
//   5. BPE on each word. Initial symbols are Unicode scalars; a scalar that is not in the
//      vocabulary becomes its UTF-8 bytes as <0xXX> tokens (byte fallback), else the unknown
//      token (consecutive ones fused into one with fuse_unk), else nothing. Then the pair of
//      lowest merge rank, leftmost on ties, merges until none does. A heap keeps this
//      O(n log n): without a pre-tokenizer the whole segment is one word.
//
// Decoding runs the file's decoder steps over the token strings in order (Replace, ByteFallback,
// Fuse, Strip, Metaspace), so `decode` gives `tokenizers`' string exactly: a run of byte tokens
// that is not valid UTF-8 becomes one U+FFFD per token, and the Metaspace decoder drops every
// "▁" of the first token. `bytes(of:)` (streaming output) is the token alone through the same
// steps without the start-of-text ones (Strip, the first-token rule), a byte token as its byte.
//
// Choices: what the loader cannot reproduce exactly is refused (see TokenizerJSON.swift), among
// it added tokens with normalized = true whose text the normalizer would change. Saving writes
// back the loaded file unchanged.

import Foundation

/// How the Metaspace pre-tokenizer and decoder treat the start of a segment.
enum PrependScheme: String, Sendable {
    case always, first, never
}

enum SPNormalizerStep: Sendable, Equatable {
    /// Prepend(prepend): puts the string before a non-empty segment.
    case prepend(String)
    /// Replace(String pattern, content): every occurrence, left to right.
    case replace(String, String)
}

struct Metaspace: Sendable, Equatable {
    var replacement: String
    var scheme: PrependScheme
    var split: Bool
}

enum SPDecoderStep: Sendable, Equatable {
    case replace(String, String)
    case byteFallback
    case fuse
    case strip(Unicode.Scalar, start: Int, stop: Int)
    case metaspace(replacement: Unicode.Scalar, scheme: PrependScheme)
}

/// The SentencePiece-style model and its text pipeline; a `Tokenizer` holds one when it was
/// loaded from such a file (`Tokenizer.sentencePiece`). A class, so that a byte-level Tokenizer
/// carries one nil reference, not the room for all of this.
final class SentencePieceBPE: Sendable {
    /// Token strings as tokenizer.json spells them (added tokens: their content), by id.
    let spellings: [String]
    /// Id of each vocabulary token that is a single Unicode scalar.
    let scalarIDs: [UInt32: Int32]
    /// Id of <0xXX> for each byte, when byte_fallback is on.
    let byteIDs: [Int32]?
    let unkID: Int32?
    let fuseUnk: Bool
    /// (left << 32 | right) -> (rank << 32 | result).
    let mergeTable: [UInt64: UInt64]
    /// With ignore_merges, a word that is itself a vocabulary token is that token.
    let wholeWordIDs: [[UInt8]: Int32]?
    let normalizer: [SPNormalizerStep]
    let metaspace: Metaspace?
    let decoder: [SPDecoderStep]
    /// Indices into `Tokenizer.added` by first UTF-8 byte, longest first: matched on the raw
    /// text (normalized = false) and on the normalised text (normalized = true).
    let rawAddedByFirstByte: [[Int]]
    let normalizedAddedByFirstByte: [[Int]]
    /// The tokenizer.json this was loaded from, written back by `save`.
    let sourceJSON: Data

    init(spellings: [String], scalarIDs: [UInt32: Int32], byteIDs: [Int32]?, unkID: Int32?, fuseUnk: Bool,
         mergeTable: [UInt64: UInt64], wholeWordIDs: [[UInt8]: Int32]?, normalizer: [SPNormalizerStep],
         metaspace: Metaspace?, decoder: [SPDecoderStep], rawAddedByFirstByte: [[Int]],
         normalizedAddedByFirstByte: [[Int]], sourceJSON: Data) {
        self.spellings = spellings
        self.scalarIDs = scalarIDs
        self.byteIDs = byteIDs
        self.unkID = unkID
        self.fuseUnk = fuseUnk
        self.mergeTable = mergeTable
        self.wholeWordIDs = wholeWordIDs
        self.normalizer = normalizer
        self.metaspace = metaspace
        self.decoder = decoder
        self.rawAddedByFirstByte = rawAddedByFirstByte
        self.normalizedAddedByFirstByte = normalizedAddedByFirstByte
        self.sourceJSON = sourceJSON
    }

    /// Splits `text` at the added tokens in `byFirstByte` (specials only with `allowSpecial`);
    /// calls `token` for each match and `segment` for each text range between matches.
    static func splitAdded(_ text: UnsafeBufferPointer<UInt8>, added: [AddedToken], byFirstByte: [[Int]],
                           allowSpecial: Bool, token: (Int32) -> Void, segment: (Range<Int>) -> Void) {
        var chunkStart = 0
        var i = 0
        while i < text.count {
            var matched: AddedToken? = nil
            for a in byFirstByte[Int(text[i])] where allowSpecial || !added[a].special {
                let content = added[a].content.utf8
                if i + content.count <= text.count && content.elementsEqual(UnsafeBufferPointer(rebasing: text[i..<(i + content.count)])) {
                    matched = added[a]
                    break
                }
            }
            if let m = matched {
                if chunkStart < i { segment(chunkStart..<i) }
                token(m.id)
                i += m.content.utf8.count
                chunkStart = i
            } else {
                i += 1
            }
        }
        if chunkStart < text.count { segment(chunkStart..<text.count) }
    }

    // MARK: Encode

    /// `continuesText`: the bytes follow earlier text (a chat template's run after a token), so
    /// none of their segments begins the text ("first" prepends nothing). `midText`: the bytes
    /// go on a word the model is writing (injected tool output), so no layout prepends "▁".
    func encode(_ text: UnsafeBufferPointer<UInt8>, allowSpecial: Bool, added: [AddedToken],
                cache: PieceCache, continuesText: Bool = false, midText: Bool = false, into out: inout [Int32]) {
        let steps = midText ? normalizer.filter { if case .prepend = $0 { return false }; return true } : normalizer
        Self.splitAdded(text, added: added, byFirstByte: rawAddedByFirstByte, allowSpecial: allowSpecial,
                        token: { out.append($0) },
                        segment: { range in
            var normalized = Self.normalizeSteps(String(decoding: UnsafeBufferPointer(rebasing: text[range]), as: UTF8.self), steps)
            normalized.withUTF8 { n in
                Self.splitAdded(n, added: added, byFirstByte: normalizedAddedByFirstByte, allowSpecial: allowSpecial,
                                token: { out.append($0) },
                                segment: { sub in
                    // "first": the segment begins the original text (a normaliser maps position 0 to 0).
                    let startsText = !continuesText && !midText && range.lowerBound == 0 && sub.lowerBound == 0
                    preTokenize(String(decoding: UnsafeBufferPointer(rebasing: n[sub]), as: UTF8.self), startsText: startsText,
                                midText: midText) { word in
                        encodeWord(word, cache: cache, into: &out)
                    }
                })
            }
        })
    }

    func normalize(_ s: String) -> String { Self.normalizeSteps(s, normalizer) }

    /// The normalizer steps applied to one string (the loader also checks added tokens with it).
    static func normalizeSteps(_ s: String, _ steps: [SPNormalizerStep]) -> String {
        var s = s
        for step in steps {
            switch step {
            case .prepend(let p): if !s.isEmpty { s = p + s }
            case .replace(let pattern, let content): s = replacingAll(s, pattern, content)
            }
        }
        return s
    }

    private func preTokenize(_ segment: String, startsText: Bool, midText: Bool = false, _ body: (String) -> Void) {
        guard let m = metaspace else {
            body(segment)
            return
        }
        var s = replacingAll(segment, " ", m.replacement)
        let prepend = !midText && (m.scheme == .always || (m.scheme == .first && startsText))
        // Byte comparison: String.hasPrefix compares whole characters ("▁" plus a combining mark is not "▁").
        if prepend && !s.utf8.starts(with: m.replacement.utf8) { s = m.replacement + s }
        guard m.split else {
            body(s)
            return
        }
        // Cut before every replacement character (it starts the next word).
        let r = Array(m.replacement.utf8)
        s.withUTF8 { bytes in
            var start = 0
            var i = 0
            while i + r.count <= bytes.count {
                if i > start && r.elementsEqual(UnsafeBufferPointer(rebasing: bytes[i..<(i + r.count)])) {
                    body(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
                    start = i
                }
                i += 1
            }
            if start < bytes.count { body(String(decoding: UnsafeBufferPointer(rebasing: bytes[start...]), as: UTF8.self)) }
        }
    }

    private func encodeWord(_ word: String, cache: PieceCache, into out: inout [Int32]) {
        var key = word
        key.withUTF8 { key in
            let cacheable = key.count <= PieceCache.maxKeyLength
            let hash = cacheable ? ByteStringTable.hash(key) : 0
            if cacheable && cache.lookup(key, hash: hash, into: &out) { return }
            let start = out.count
            bpe(word, into: &out)
            if cacheable { cache.store(key, hash: hash, ids: out[start...]) }
        }
    }

    /// BPE on one word: initial symbols per scalar (byte fallback, unknown token), then merges.
    func bpe(_ word: String, into out: inout [Int32]) {
        if let whole = wholeWordIDs, let id = whole[Array(word.utf8)] {
            out.append(id)
            return
        }
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.utf8.count)
        var pendingUnk = false
        for scalar in word.unicodeScalars {
            if let id = scalarIDs[scalar.value] {
                if pendingUnk, let unk = unkID { symbols.append(unk); pendingUnk = false }
                symbols.append(id)
            } else if let byteIDs {
                // The loader requires all 256 byte tokens, so the fallback never fails.
                for b in String(scalar).utf8 { symbols.append(byteIDs[Int(b)]) }
            } else if let unk = unkID {
                if pendingUnk && !fuseUnk { symbols.append(unk) }
                pendingUnk = true
            }
            // Neither: `tokenizers` drops the character.
        }
        if pendingUnk, let unk = unkID { symbols.append(unk) }
        merge(&symbols)
        out.append(contentsOf: symbols)
    }

    /// Merges by rank with a min-heap of (rank << 32 | position) over a linked list of symbols;
    /// an entry whose pair has since changed is skipped when it comes up.
    func merge(_ symbols: inout [Int32]) {
        let n = symbols.count
        guard n >= 2 else { return }
        var next = [Int32](unsafeUninitializedCapacity: n) { buf, count in
            for i in 0..<n { buf[i] = i + 1 < n ? Int32(i + 1) : -1 }
            count = n
        }
        var prev = [Int32](unsafeUninitializedCapacity: n) { buf, count in
            for i in 0..<n { buf[i] = Int32(i - 1) }
            count = n
        }
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap()
        for i in 0..<(n - 1) {
            if let v = mergeTable[Tokenizer.pairKey(symbols[i], symbols[i + 1])] {
                heap.push((v >> 32) << 32 | UInt64(i))
            }
        }
        while let top = heap.pop() {
            let rank = top >> 32
            let pos = Int(top & 0xFFFF_FFFF)
            guard alive[pos] else { continue }
            let right = Int(next[pos])
            guard right >= 0, let v = mergeTable[Tokenizer.pairKey(symbols[pos], symbols[right])], v >> 32 == rank else { continue }
            symbols[pos] = Int32(truncatingIfNeeded: v & 0xFFFF_FFFF)
            alive[right] = false
            let after = next[right]
            next[pos] = after
            if after >= 0 { prev[Int(after)] = Int32(pos) }
            let before = prev[pos]
            if before >= 0, let w = mergeTable[Tokenizer.pairKey(symbols[Int(before)], symbols[pos])] {
                heap.push((w >> 32) << 32 | UInt64(before))
            }
            if after >= 0, let w = mergeTable[Tokenizer.pairKey(symbols[pos], symbols[Int(after)])] {
                heap.push((w >> 32) << 32 | UInt64(pos))
            }
        }
        var j = 0
        for i in 0..<n where alive[i] {
            symbols[j] = symbols[i]
            j += 1
        }
        symbols.removeLast(n - j)
    }

    // MARK: Decode

    /// `tokenizers`' decode: the decoder steps over the token strings, joined.
    func decode(_ tokens: [String]) -> String { Self.decode(tokens, steps: decoder) }

    /// `steps` run over `tokens` from the start of a text, joined.
    static func decode(_ tokens: [String], steps: [SPDecoderStep]) -> String {
        runDecoder(tokens, steps: steps, atStart: true).joined()
    }

    /// The text one token contributes in the middle of a sequence (Tokenizer.bytes(of:)).
    func tokenBytes(_ spelling: String) -> [UInt8] {
        if decoder.contains(.byteFallback), let b = Self.fallbackByte(spelling) { return [b] }
        return Array(Self.runDecoder([spelling], steps: decoder, atStart: false).joined().utf8)
    }

    /// The byte of a "<0xXX>" token as the ByteFallback decoder reads it (Rust's hex parse, so a
    /// "+" sign before one digit passes too), or nil.
    static func fallbackByte(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
              u[5] == UInt8(ascii: ">") else { return nil }
        guard u[3] != UInt8(ascii: "-") else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    private static func runDecoder(_ tokens: [String], steps: [SPDecoderStep], atStart: Bool) -> [String] {
        var tokens = tokens
        for step in steps {
            switch step {
            case .replace(let pattern, let content):
                tokens = tokens.map { replacingAll($0, pattern, content) }
            case .byteFallback:
                var result: [String] = []
                var pending: [UInt8] = []
                func flush() {
                    guard !pending.isEmpty else { return }
                    if let s = String(validating: pending, as: UTF8.self) {
                        result.append(s)
                    } else {
                        result.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                    }
                    pending.removeAll()
                }
                for t in tokens {
                    if let b = fallbackByte(t) {
                        pending.append(b)
                    } else {
                        flush()
                        result.append(t)
                    }
                }
                flush()
                tokens = result
            case .fuse:
                tokens = [tokens.joined()]
            case .strip(let content, let start, let stop):
                guard atStart else { continue }
                tokens = tokens.map { t in
                    let scalars = Array(t.unicodeScalars)
                    var lo = 0
                    while lo < min(start, scalars.count) && scalars[lo] == content { lo += 1 }
                    var hi = scalars.count
                    while scalars.count - hi < stop && hi > lo && scalars[hi - 1] == content { hi -= 1 }
                    var s = String.UnicodeScalarView()
                    s.append(contentsOf: scalars[lo..<hi])
                    return String(s)
                }
            case .metaspace(let replacement, let scheme):
                tokens = tokens.enumerated().map { i, t in
                    let dropAll = atStart && i == 0 && scheme != .never
                    var s = String.UnicodeScalarView()
                    for c in t.unicodeScalars {
                        if c == replacement {
                            if !dropAll { s.append(" ") }
                        } else {
                            s.append(c)
                        }
                    }
                    return String(s)
                }
            }
        }
        return tokens
    }
}

/// Every non-overlapping occurrence of `pattern` in `s` (left to right) replaced by `content`,
/// comparing UTF-8 bytes (Foundation's replacingOccurrences would also match canonically
/// equivalent text).
func replacingAll(_ s: String, _ pattern: String, _ content: String) -> String {
    let p = Array(pattern.utf8)
    guard !p.isEmpty else { return s }
    var s = s
    return s.withUTF8 { bytes -> String in
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        var changed = false
        while i < bytes.count {
            if bytes[i] == p[0] && i + p.count <= bytes.count && p.elementsEqual(UnsafeBufferPointer(rebasing: bytes[i..<(i + p.count)])) {
                out.append(contentsOf: content.utf8)
                i += p.count
                changed = true
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return changed ? String(decoding: out, as: UTF8.self) : String(decoding: bytes, as: UTF8.self)
    }
}

/// A binary min-heap of UInt64 keys.
struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n && items[l] < items[m] { m = l }
                if r < n && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
