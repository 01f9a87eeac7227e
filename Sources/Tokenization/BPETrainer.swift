// BPETrainer: learns byte-level BPE merges from a corpus.
//
// Algorithm (Sennrich et al. 2016, byte-level as in GPT-2):
//   1. Cut the corpus into pieces with Ponder's pre-tokenizer and count each distinct piece once
//      (a "word" with a count); merges never cross pieces, so digits never merge.
//   2. Count every adjacent symbol pair, weighted by word count, and index which words hold it.
//   3. Repeatedly take the most frequent pair, append a merge, and rewrite only the words that
//      hold it, adjusting the pair counts of those words (incremental, never a full recount).
//      The best pair comes from a max-heap with lazy deletion: an entry whose count no longer
//      matches the live count is stale and skipped.
// Ties: highest count first, then the lexicographically smallest pair (left id, right id).
// Nothing depends on dictionary iteration order, so the same corpus and vocabulary size give the
// same merges on every run and machine.
// Special tokens take no part in training: a special token's spelling in the corpus is ordinary
// text, exactly as `encode(allowSpecial: false)` treats it.

import Foundation

extension Tokenizer {
    /// Smallest vocabulary: the 256 byte tokens plus the special tokens (zero merges).
    public static let minimumVocabSize = 256 + SpecialToken.allCases.count

    /// Trains a tokenizer whose vocabulary (special tokens included) has `vocabSize` tokens,
    /// or fewer if the corpus runs out of pairs to merge.
    public static func train(corpus: some Sequence<String>, vocabSize: Int) throws -> Tokenizer {
        guard vocabSize >= minimumVocabSize else {
            throw TokenizerError.vocabularyTooSmall(requested: vocabSize, minimum: minimumVocabSize)
        }
        var counter = WordCounter()
        for document in corpus { counter.add(document) }
        let (tokens, merges) = BPETrainer.learn(words: counter.words(), counts: counter.counts,
                                                targetTokens: vocabSize - SpecialToken.allCases.count)
        return ponderTokenizer(tokens: tokens, merges: merges)
    }

    /// Trains on the UTF-8 text of a file (read whole).
    public static func train(file: URL, vocabSize: Int) throws -> Tokenizer {
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw TokenizerError.io(path: file.path, reason: "cannot read corpus as UTF-8 text: \(error.localizedDescription)")
        }
        return try train(corpus: [text], vocabSize: vocabSize)
    }

    /// A Ponder tokenizer from learned tokens: bytes and merges, then the special tokens.
    static func ponderTokenizer(tokens: [[UInt8]], merges: [Merge]) -> Tokenizer {
        var all = tokens
        var added: [AddedToken] = []
        for special in SpecialToken.allCases {
            added.append(AddedToken(id: Int32(all.count), content: special.rawValue, special: true))
            all.append(Array(special.rawValue.utf8))
        }
        return Tokenizer(tokens: all, byteToID: (0..<256).map { Int32($0) }, merges: merges,
                         added: added, pattern: .ponder)
    }
}

/// Distinct pre-tokenized pieces of a corpus and how often each occurs.
struct WordCounter {
    private var table = ByteStringTable()
    private(set) var counts: [Int] = []
    private let preTokenizer = PreTokenizer(pattern: .ponder)

    mutating func add(_ document: String) {
        var document = document
        document.withUTF8 { bytes in
            preTokenizer.forEachPiece(in: bytes) { range in
                let piece = UnsafeBufferPointer(rebasing: bytes[range])
                let (index, inserted) = table.insert(piece, hash: ByteStringTable.hash(piece))
                if inserted { counts.append(1) } else { counts[index] += 1 }
            }
        }
    }

    /// Each distinct piece as byte-token ids, in first-seen order.
    func words() -> [[Int32]] {
        (0..<table.count).map { table.key($0).map { Int32($0) } }
    }
}

enum BPETrainer {
    /// Merges until there are `targetTokens` tokens (bytes included) or no pair is left.
    /// Returns every token's bytes (index = id) and the merges in rank order.
    static func learn(words: [[Int32]], counts: [Int], targetTokens: Int) -> (tokens: [[UInt8]], merges: [Merge]) {
        var words = words
        var tokens: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        var tokenIDs: [[UInt8]: Int32] = [:]
        for (id, t) in tokens.enumerated() { tokenIDs[t] = Int32(id) }
        var merges: [Merge] = []

        var pairCount: [UInt64: Int] = [:]
        var wordsWith: [UInt64: [Int32]] = [:]
        for (w, symbols) in words.enumerated() where symbols.count >= 2 {
            for i in 0..<(symbols.count - 1) {
                let key = Tokenizer.pairKey(symbols[i], symbols[i + 1])
                pairCount[key, default: 0] += counts[w]
                wordsWith[key, default: []].append(Int32(w))
            }
        }
        var heap = PairHeap()
        for (key, count) in pairCount { heap.push(PairHeap.Entry(count: count, pair: key)) }

        var visited = [Int](repeating: -1, count: words.count)
        var changed: [UInt64] = []
        var merged: [Int32] = []
        while tokens.count < targetTokens, let top = heap.pop() {
            guard let live = pairCount[top.pair], live == top.count, live > 0 else { continue }
            let left = Int32(truncatingIfNeeded: top.pair >> 32)
            let right = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let bytes = tokens[Int(left)] + tokens[Int(right)]
            let result: Int32
            if let existing = tokenIDs[bytes] {
                result = existing  // a different pair already spelled these bytes; share the id
            } else {
                result = Int32(tokens.count)
                tokens.append(bytes)
                tokenIDs[bytes] = result
            }
            let step = merges.count
            merges.append(Merge(left: left, right: right, result: result))

            changed.removeAll(keepingCapacity: true)
            for w32 in wordsWith[top.pair] ?? [] {
                let w = Int(w32)
                if visited[w] == step { continue }
                visited[w] = step
                let symbols = words[w]
                merged.removeAll(keepingCapacity: true)
                var i = 0
                while i < symbols.count {
                    if i + 1 < symbols.count && symbols[i] == left && symbols[i + 1] == right {
                        merged.append(result)
                        i += 2
                    } else {
                        merged.append(symbols[i])
                        i += 1
                    }
                }
                if merged.count == symbols.count { continue }  // stale index entry
                let c = counts[w]
                for i in 0..<(symbols.count - 1) {
                    let key = Tokenizer.pairKey(symbols[i], symbols[i + 1])
                    pairCount[key, default: 0] -= c
                    changed.append(key)
                }
                if merged.count >= 2 {
                    for i in 0..<(merged.count - 1) {
                        let key = Tokenizer.pairKey(merged[i], merged[i + 1])
                        pairCount[key, default: 0] += c
                        changed.append(key)
                        if merged[i] == result || merged[i + 1] == result { wordsWith[key, default: []].append(w32) }
                    }
                }
                words[w] = merged
            }
            wordsWith[top.pair] = nil
            changed.sort()
            var previous: UInt64? = nil
            for key in changed where key != previous {
                previous = key
                let count = pairCount[key] ?? 0
                if count > 0 {
                    heap.push(PairHeap.Entry(count: count, pair: key))
                } else {
                    pairCount[key] = nil
                    wordsWith[key] = nil
                }
            }
        }
        return (tokens, merges)
    }
}

/// Max-heap of (count, pair): higher count first, then smaller pair.
struct PairHeap {
    struct Entry {
        var count: Int
        var pair: UInt64
    }

    private var items: [Entry] = []

    @inline(__always)
    private static func before(_ x: Entry, _ y: Entry) -> Bool {
        x.count > y.count || (x.count == y.count && x.pair < y.pair)
    }

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !Self.before(items[i], items[parent]) { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var best = i
                if l < items.count && Self.before(items[l], items[best]) { best = l }
                if r < items.count && Self.before(items[r], items[best]) { best = r }
                if best == i { break }
                items.swapAt(i, best)
                i = best
            }
        }
        return top
    }
}
